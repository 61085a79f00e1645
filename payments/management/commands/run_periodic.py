"""``manage.py run_periodic [--loop] [--interval N] [--only TASK]``.

Runs the periodic tasks of ``payments.tasks.PERIODIC`` in this process, for
operators without Celery beat (and for a one-off run after an outage). Once
by default; with ``--loop`` until interrupted, each task at its own interval
(or every ``--interval`` seconds); SIGTERM stops it after the running task.
A task that raises is logged and the others
still run; a one-off run then exits non-zero.
"""

import contextlib
import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from payments.periodic import periodic_jobs, run_forever, run_job


class Command(BaseCommand):
    help = "Run the periodic payment tasks once, or forever with --loop."

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop",
            action="store_true",
            help="Keep running, each task at its interval, until interrupted.",
        )
        parser.add_argument(
            "--interval",
            type=float,
            metavar="SECONDS",
            help="With --loop: run every task this often instead of at its own "
            "interval.",
        )
        parser.add_argument(
            "--only",
            action="append",
            default=[],
            metavar="TASK",
            help="Run only this task (e.g. reconcile_payments); repeatable.",
        )

    def handle(self, *args, loop: bool, interval: float | None, only, **options):
        if interval is not None and interval <= 0:
            raise CommandError("--interval must be more than 0 seconds.")
        try:
            jobs = periodic_jobs(only=only, every=interval)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

        if loop:
            self.stdout.write(
                "Running "
                + ", ".join(f"{job.name} every {job.every:g} s" for job in jobs)
                + ". Stop with Ctrl-C."
            )
            stop = threading.Event()
            # A supervisor's SIGTERM: finish the running task, then stop.
            signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
            with contextlib.suppress(KeyboardInterrupt):
                run_forever(jobs, stop)
            self.stdout.write("Stopped.")
            return

        failed = []
        for job in jobs:
            ok, result = run_job(job)
            if ok:
                self.stdout.write(self.style.SUCCESS(f"{job.name}: {result}"))
            else:
                failed.append(job.name)
                self.stdout.write(self.style.ERROR(f"{job.name}: failed (see log)"))
        if failed:
            raise CommandError(f"Failed: {', '.join(failed)}.")
