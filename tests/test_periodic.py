"""Periodic jobs: the embedded thread, its event-loop hand-off, beat's schedule."""

import asyncio
import datetime as dt
import threading
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer
from django.db import OperationalError
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking
from payments.periodic import (
    Job,
    PeriodicThread,
    periodic_jobs,
    run_forever,
    start_periodic_thread,
)
from tests.payments.conftest import next_slot


def wait_until(condition, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


class Counter:
    def __init__(self):
        self.calls = 0
        self.threads: set[str] = set()

    def __call__(self) -> int:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        return self.calls


# --- the jobs ---------------------------------------------------------------------------


def test_periodic_jobs_are_the_tasks_of_periodic_at_their_intervals():
    jobs = periodic_jobs()
    assert [(job.name, job.every) for job in jobs] == [
        ("expire_unpaid_bookings", 60),
        ("reconcile_payments", 120),
        ("retry_failed_webhooks", 30),
        ("complete_ended_sessions", 300),
        ("mature_earnings", 600),
        ("issue_platform_fee_invoices", 3600),
    ]
    only = periodic_jobs(only=["reconcile_payments"], every=5)
    assert [(job.name, job.every) for job in only] == [("reconcile_payments", 5)]


def test_periodic_jobs_with_an_unknown_name_is_refused():
    with pytest.raises(ValueError, match="Not a periodic task: nope"):
        periodic_jobs(only=["nope"])


def test_celery_beat_schedule_is_built_from_periodic():
    from coaching.celery import app

    app.finalize()
    schedule = {
        entry["task"]: (entry["schedule"], entry["options"]["expires"])
        for entry in app.conf.beat_schedule.values()
    }
    assert schedule == {
        "payments.tasks.expire_unpaid_bookings": (60, 60),
        "payments.tasks.reconcile_payments": (120, 120),
        "payments.tasks.retry_failed_webhooks": (30, 30),
        "payments.tasks.complete_ended_sessions": (300, 300),
        "payments.tasks.mature_earnings": (600, 600),
        "payments.tasks.issue_platform_fee_invoices": (3600, 3600),
    }


def _status(booking) -> str | None:
    try:
        return Booking.objects.get(pk=booking.pk).status
    except OperationalError:
        # In-memory SQLite shares one cache between threads: while the job's
        # transaction holds the table, a read is refused ("table is locked")
        # instead of waiting. Ask again on the next poll.
        return None


# --- the thread -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_periodic_thread_starts_runs_a_task_and_stops(client_user, offering):
    booking = booking_services.booking_create(
        client=client_user, offering=offering, starts_at=next_slot(), actor=client_user
    )
    Booking.objects.filter(pk=booking.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    thread = start_periodic_thread(
        periodic_jobs(only=["expire_unpaid_bookings"], every=0.05)
    )
    try:
        assert thread.is_alive() and thread.daemon
        assert wait_until(lambda: _status(booking) == Booking.Status.EXPIRED)
    finally:
        stopped = thread.stop(timeout=10)
    assert stopped and not thread.is_alive()


def test_periodic_thread_runs_each_job_at_its_own_interval():
    fast, slow = Counter(), Counter()
    thread = start_periodic_thread(
        [Job("fast", fast, every=0.02), Job("slow", slow, every=60)]
    )
    try:
        assert wait_until(lambda: fast.calls >= 5)
    finally:
        assert thread.stop(timeout=5)
    assert slow.calls == 1  # at start, then not again within a minute
    assert fast.threads == {"periodic-jobs"}


def test_periodic_thread_survives_a_job_that_raises(caplog):
    def boom():
        raise RuntimeError("kaputt")

    after = Counter()
    thread = start_periodic_thread(
        [Job("boom", boom, every=0.02), Job("after", after, every=0.02)]
    )
    try:
        assert wait_until(lambda: after.calls >= 3)
        assert thread.is_alive()
    finally:
        assert thread.stop(timeout=5)
    failures = [
        r for r in caplog.records if r.getMessage() == "periodic.failed job=boom"
    ]
    assert len(failures) >= 3
    assert "kaputt" in failures[0].exc_text


def test_periodic_thread_on_an_event_loop_broadcasts_through_that_loop():
    """The embedded server's in-memory channel layer lives on its event loop:
    a job's broadcast must be delivered there at once, not at the loop's next
    wake-up (a plain thread's send waits for that)."""
    layer = InMemoryChannelLayer()
    loop = asyncio.new_event_loop()
    server = threading.Thread(target=loop.run_forever, name="server-loop")
    server.start()
    sent_at: list[float] = []

    def broadcast() -> None:
        sent_at.append(time.monotonic())
        async_to_sync(layer.send)("subscriber", {"type": "payment.status"})

    async def receive() -> tuple[dict, float]:
        message = await layer.receive("subscriber")
        return message, time.monotonic()

    received = asyncio.run_coroutine_threadsafe(receive(), loop)
    thread = PeriodicThread([Job("broadcast", broadcast, every=60)], loop=loop)
    thread.start()
    try:
        message, received_at = received.result(timeout=5)
    finally:
        assert thread.stop(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        server.join(5)
        loop.close()
    assert message == {"type": "payment.status"}
    assert received_at - sent_at[0] < 0.5


# The job handed to the never-started loop is dropped with it, unawaited.
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_periodic_thread_stops_while_its_loop_is_not_running():
    loop = asyncio.new_event_loop()  # never started, as before the server runs
    ran = Counter()
    thread = PeriodicThread([Job("waits", ran, every=60)], loop=loop)
    thread.start()
    time.sleep(0.1)
    assert thread.stop(timeout=5)
    assert ran.calls == 0
    loop.close()


def test_run_forever_without_jobs_returns_at_once():
    run_forever([], threading.Event())
