"""Periodic work without Celery beat.

With ``REDIS_URL`` set, beat enqueues the tasks of ``payments.tasks.PERIODIC``
(coaching/celery.py). Without it, the embedded server runs them in a
background thread of its own process (``start_periodic_thread``), so their
broadcasts reach its in-memory channel layer; operators without beat can run
them with ``manage.py run_periodic``. Either way each job runs here, in this
process, never through a broker.
"""

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connections

from payments.tasks import PERIODIC

logger = logging.getLogger("payments.periodic")

# How often a thread waiting for a job on an event loop checks for a stop.
_STOP_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Job:
    """One periodic job: a callable and the seconds between two runs."""

    name: str
    run: Callable[[], Any]
    every: float


def periodic_jobs(*, only: Iterable[str] = (), every: float | None = None) -> list[Job]:
    """The jobs of ``payments.tasks.PERIODIC``, each called in this process.

    ``only`` keeps the named tasks (short name ``reconcile_payments`` or the
    full Celery name); ``every`` replaces each task's own interval. Raises
    ValueError for a name that is not a periodic task.
    """
    jobs = [
        Job(name=task.name.rsplit(".", 1)[-1], run=task, every=every or seconds)
        for task, seconds in PERIODIC
    ]
    wanted = set(only)
    if not wanted:
        return jobs
    known = {job.name for job in jobs} | {task.name for task, _ in PERIODIC}
    unknown = sorted(wanted - known)
    if unknown:
        raise ValueError(
            f"Not a periodic task: {', '.join(unknown)}. "
            f"Choose from: {', '.join(job.name for job in jobs)}."
        )
    return [
        job
        for job, (task, _) in zip(jobs, PERIODIC, strict=True)
        if job.name in wanted or task.name in wanted
    ]


def _close_old_connections() -> None:
    """Django's ``close_old_connections``, but sparing an open transaction.

    It also closes a connection inside ``atomic`` (after a request that would
    be a leak); a caller that runs a job inside its own transaction keeps it.
    """
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close_if_unusable_or_obsolete()


def run_job(job: Job) -> tuple[bool, Any]:
    """Run one job now and log its outcome; never raise.

    Returns ``(True, result)`` or ``(False, None)`` when it raised. Stale and
    broken database connections are closed before and after (as around a
    request), so a long-running thread never keeps a dead one.
    """
    _close_old_connections()
    started = time.monotonic()
    try:
        result = job.run()
    except Exception:
        logger.exception("periodic.failed job=%s", job.name)
        return False, None
    finally:
        _close_old_connections()
    # Runs that found nothing to do would flood the console every 30 s.
    logger.log(
        logging.INFO if result else logging.DEBUG,
        "periodic.ran job=%s result=%s seconds=%.2f",
        job.name,
        result,
        time.monotonic() - started,
    )
    return True, result


def run_forever(
    jobs: list[Job],
    stop: threading.Event,
    *,
    runner: Callable[[Job], Any] = run_job,
) -> None:
    """Run every job at once, then each again ``every`` seconds after it ended.

    Returns when ``stop`` is set (between jobs: a running job is not cut).
    """
    if not jobs:
        return
    due = dict.fromkeys((job.name for job in jobs), time.monotonic())
    try:
        while not stop.is_set():
            for job in jobs:
                if stop.is_set():
                    break
                if due[job.name] <= time.monotonic():
                    runner(job)
                    due[job.name] = time.monotonic() + job.every
            stop.wait(max(0.0, min(due.values()) - time.monotonic()))
    finally:
        # This thread's own connections; other threads keep theirs.
        connections.close_all()


class PeriodicThread(threading.Thread):
    """A daemon thread that runs periodic jobs until ``stop()``.

    With ``loop`` (the ASGI server's event loop), each job runs in that loop's
    executor, as a sync view would: its ``async_to_sync`` broadcasts then run
    on the loop's own thread, which an in-memory channel layer needs (asyncio
    queues are not thread-safe; from a foreign loop a message waits until the
    server's loop happens to wake up).
    """

    def __init__(
        self, jobs: list[Job], *, loop: asyncio.AbstractEventLoop | None = None
    ):
        super().__init__(name="periodic-jobs", daemon=True)
        self.jobs = jobs
        self.loop = loop
        self.stopping = threading.Event()

    def run(self) -> None:
        logger.info(
            "periodic.started jobs=%s",
            ",".join(f"{job.name}/{job.every:g}s" for job in self.jobs),
        )
        runner = run_job if self.loop is None else self._run_on_loop
        run_forever(self.jobs, self.stopping, runner=runner)
        logger.info("periodic.stopped")

    def _run_on_loop(self, job: Job) -> None:
        future = asyncio.run_coroutine_threadsafe(
            sync_to_async(run_job, thread_sensitive=False)(job), self.loop
        )
        while not self.stopping.is_set():
            try:
                future.result(timeout=_STOP_POLL_SECONDS)
                return
            except concurrent.futures.TimeoutError:
                continue  # the loop is busy or not started yet
            except Exception:
                logger.exception("periodic.failed job=%s", job.name)
                return
        # The server is stopping; its loop may be closed already.
        with contextlib.suppress(RuntimeError):
            future.cancel()

    def stop(self, timeout: float = 30) -> bool:
        """Ask the thread to stop and wait for it; return whether it did."""
        self.stopping.set()
        if self.is_alive():
            self.join(timeout)
        return not self.is_alive()


def start_periodic_thread(
    jobs: list[Job] | None = None, *, loop: asyncio.AbstractEventLoop | None = None
) -> PeriodicThread:
    """Start running ``jobs`` (default: every periodic task) in a daemon thread."""
    thread = PeriodicThread(periodic_jobs() if jobs is None else jobs, loop=loop)
    thread.start()
    return thread
