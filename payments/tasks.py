"""Celery tasks. Thin: each calls one service. With REDIS_URL unset they run
inline (CELERY_TASK_ALWAYS_EAGER), enqueued after commit by the services."""

from celery import shared_task

from bookings import services as booking_services
from payments.services import (
    balances,
    cancellation,
    events,
    invoices,
    maintenance,
    notifications,
)

# On the Redis broker the worker takes priority 0 before anything else
# (CELERY_TASK_DEFAULT_PRIORITY is 6): a webhook never waits behind emails.
WEBHOOK_PRIORITY = 0


@shared_task(acks_late=True, ignore_result=True, priority=WEBHOOK_PRIORITY)
def process_webhook_event(event_pk: int) -> str:
    return events.webhook_event_process(event_pk=event_pk).status


@shared_task(ignore_result=True)
def retry_failed_webhooks() -> int:
    return events.webhook_events_process_due()


@shared_task(acks_late=True, ignore_result=True)
def cancel_ended_hold_payments(booking_id: str) -> None:
    cancellation.payment_cancel_for_ended_hold(booking_id)


def enqueue_cancel_ended_hold_payments(booking_id: str) -> None:
    """The bookings hook for an ended hold: settle its money off the request.

    With Redis a worker cancels the intent, so a booking that expired someone
    else's hold does not wait for Stripe; without it the task runs inline.
    """
    cancel_ended_hold_payments.delay(booking_id)


@shared_task(ignore_result=True)
def expire_unpaid_bookings() -> int:
    return maintenance.bookings_release_expired_holds()


@shared_task(ignore_result=True)
def reconcile_payments() -> int:
    return maintenance.payments_reconcile()


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=8,
)
def send_notification(notification_pk: str) -> bool:
    return notifications.notification_send_email(notification_pk=notification_pk)


def enqueue_notification_email(notification_pk: str) -> None:
    """The notifications hook: email a new notification off the request
    (inline without Redis)."""
    send_notification.delay(notification_pk)


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=8,
)
def create_notifications(
    booking_id: str, kind: str, dedupe_key: str, refunded: int | None
) -> int:
    return len(
        notifications.notification_create(
            booking_id=booking_id, kind=kind, dedupe_key=dedupe_key, refunded=refunded
        )
    )


def enqueue_create_notifications(
    booking_id: str, kind: str, dedupe_key: str, refunded: int | None
) -> None:
    """The notifications hook: create a change's notifications in a task
    (inline without Redis)."""
    create_notifications.delay(booking_id, kind, dedupe_key, refunded)


@shared_task(ignore_result=True)
def complete_ended_sessions() -> int:
    return booking_services.booking_complete_ended()


@shared_task(ignore_result=True)
def mature_earnings() -> int:
    return balances.earnings_mature_due()


@shared_task(ignore_result=True)
def issue_platform_fee_invoices() -> int:
    return invoices.invoices_issue_for_last_month()


# (task, seconds between runs): the beat schedule and the embedded runner's.
PERIODIC = [
    (expire_unpaid_bookings, 60),
    (reconcile_payments, 120),
    (retry_failed_webhooks, 30),
    (complete_ended_sessions, 300),
    (mature_earnings, 600),
    (issue_platform_fee_invoices, 3600),
]
