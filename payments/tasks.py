"""Celery tasks. Thin: each calls one service. With REDIS_URL unset they run
inline (CELERY_TASK_ALWAYS_EAGER), enqueued after commit by the services."""

from celery import shared_task

from payments.services import events, maintenance, notifications


@shared_task(acks_late=True, ignore_result=True)
def process_webhook_event(event_pk: int) -> str:
    return events.webhook_event_process(event_pk=event_pk).status


@shared_task(ignore_result=True)
def retry_failed_webhooks() -> int:
    return events.webhook_events_process_due()


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


# (task, seconds between runs): the beat schedule and the embedded runner's.
PERIODIC = [
    (expire_unpaid_bookings, 60),
    (reconcile_payments, 120),
    (retry_failed_webhooks, 30),
]
