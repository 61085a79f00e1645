"""A real Celery worker process runs the tasks: the production path.

Needs Redis and a database a second process can open, so it runs on CI's
PostgreSQL + Redis leg (DATABASE_URL and REDIS_URL set) and is skipped on the
embedded default, where tasks run inline. The worker is started against the
test database on a queue of its own (so it never takes messages other tests
left in the broker); the test enqueues with ``.delay()`` and waits for the
effect in the database.
"""

import contextlib
import datetime as dt
import os
import sys
import uuid

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from bookings.models import Booking
from coaching.celery import app as celery_app
from payments import services
from payments.models import Notification, Payment, WebhookEvent
from payments.services.events import webhook_event_store
from payments.tasks import process_webhook_event, reconcile_payments
from tests.payments.stripe_side import confirm_at_stripe, intent_event
from tests.processes import LoggedProcess, test_database_url

pytestmark = [
    pytest.mark.skipif(
        not settings.REDIS_URL,
        reason="needs REDIS_URL (a broker for a real worker): CI's PostgreSQL + "
        "Redis leg; without it tasks run inline and the other tests cover them",
    ),
    pytest.mark.skipif(
        not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="needs a database the worker process can open too: "
        "DATABASE_URL=postgres://...",
    ),
    # The worker sees only committed rows.
    pytest.mark.django_db(transaction=True),
]

START_TIMEOUT = 60


@contextlib.contextmanager
def _running_worker(localstripe_url, tmp_path, settings, *, conn_max_age: int):
    queue = f"test-worker-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "WORKER_DB_CONN_MAX_AGE": str(conn_max_age),
        "REDIS_URL": settings.REDIS_URL,
        "STRIPE_API_BASE": localstripe_url,
        # Notification emails go to the worker's log, not to an SMTP server.
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
    }
    running = LoggedProcess(
        "worker",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "coaching",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            queue,
            "-n",
            f"{queue}@%h",
            "--",
            # What the worker enqueues itself (notification emails) goes
            # to its queue too.
            f"task.default_queue={queue}",
        ],
        env,
        tmp_path / "worker.log",
    )
    try:
        running.wait_for(
            lambda: " ready." in running.output(), "worker start", START_TIMEOUT
        )
        # .delay() here goes to the broker, to the worker's queue, even if the
        # suite runs tasks inline elsewhere: Celery reads the CELERY_* Django
        # settings live, its router at each send.
        settings.CELERY_TASK_ALWAYS_EAGER = False
        settings.CELERY_TASK_DEFAULT_QUEUE = queue
        yield running
    finally:
        running.stop()
        with celery_app.connection_for_write() as broker:
            broker.default_channel.queue_delete(queue)


@pytest.fixture
def worker(transactional_db, localstripe_url, tmp_path, settings):
    with _running_worker(localstripe_url, tmp_path, settings, conn_max_age=0) as w:
        yield w


def test_worker_processes_a_webhook_event_and_sends_the_notifications(
    worker, booking, client_user, coach, stripe_client
):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    confirm_at_stripe(stripe_client, payment)
    row, _ = webhook_event_store(
        event=intent_event(stripe_client, payment.stripe_payment_intent_id)
    )

    result = process_webhook_event.delay(row.pk)

    worker.wait_for(
        lambda: (
            WebhookEvent.objects.get(pk=row.pk).status == WebhookEvent.Status.PROCESSED
        ),
        "event processed",
    )
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert Booking.objects.get(pk=booking.pk).status == Booking.Status.CONFIRMED
    # Done by the worker process: this process only enqueued it.
    worker.wait_for(
        lambda: f"process_webhook_event[{result.id}] succeeded" in worker.output(),
        "the worker's record of the task",
    )
    # ... which enqueued the emails, which it sent too.
    worker.wait_for(
        lambda: (
            Notification.objects.filter(
                kind=Notification.Kind.PAYMENT_SUCCEEDED, emailed_at__isnull=False
            ).count()
            == 2
        ),
        "notification emails sent",
    )
    output = worker.output()
    assert f"To: {client_user.email}" in output and f"To: {coach.email}" in output


def test_worker_reconciles_a_payment_whose_webhook_was_lost(
    worker, booking, client_user, stripe_client
):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    confirm_at_stripe(stripe_client, payment)
    stale = timezone.now() - dt.timedelta(minutes=settings.RECONCILE_AFTER_MINUTES + 1)
    Payment.objects.filter(pk=payment.pk).update(updated_at=stale)

    result = reconcile_payments.delay()

    worker.wait_for(
        lambda: Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED,
        "payment reconciled",
    )
    assert Booking.objects.get(pk=booking.pk).status == Booking.Status.CONFIRMED
    move = Payment.objects.get(pk=payment.pk).transitions.get(
        to_status=Payment.Status.SUCCEEDED
    )
    assert move.cause == "reconcile"
    worker.wait_for(
        lambda: f"reconcile_payments[{result.id}] succeeded" in worker.output(),
        "the worker's record of the task",
    )


def test_worker_keeps_its_database_connection_between_tasks(
    transactional_db, localstripe_url, tmp_path, settings
):
    """For WORKER_DB_CONN_MAX_AGE seconds: Celery's Django fix-up used to
    close it (and DB_POOL's whole pool) around every task."""
    with _running_worker(localstripe_url, tmp_path, settings, conn_max_age=60) as w:
        first = reconcile_payments.delay()
        w.wait_for(lambda: f"[{first.id}] succeeded" in w.output(), "first task")
        with connection.cursor() as cursor:
            cursor.execute("select now()")
            between = cursor.fetchone()[0]
        second = reconcile_payments.delay()
        w.wait_for(lambda: f"[{second.id}] succeeded" in w.output(), "second task")

        with connection.cursor() as cursor:
            cursor.execute(
                "select count(*) from pg_stat_activity where datname = "
                "current_database() and pid <> pg_backend_pid() "
                "and backend_start < %s",
                [between],
            )
            kept = cursor.fetchone()[0]
        # The connection the first task opened served the second too.
        assert kept == 1
