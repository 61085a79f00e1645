"""A webhook event whose worker died mid-processing (issue 13, defect 6).

The dying worker held the event's 5-minute processing lease, so nobody could
apply it (the payment showed ``requires_action`` while charged), and
``retry_failed_webhooks`` meanwhile reported events it had not processed. Now
the lease is bounded by what processing can take (Stripe timeout x attempts
plus backoff and a margin), the retry skips leased events without counting
them, and applies the event once the dead worker's lease has run out.

The worker's death is a ``BaseException`` raised inside the handler: like a
SIGKILL it leaves the lease taken and nothing recorded (``_process`` handles
only ``Exception``).
"""

import datetime as dt

import pytest
from django.utils import timezone

from payments import services
from payments.models import Payment, WebhookEvent
from payments.services import events
from payments.services.events import webhook_event_process, webhook_event_store
from payments.tasks import retry_failed_webhooks
from tests.payments.stripe_side import confirm_at_stripe, intent_event

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    pass


def test_event_of_a_dead_worker_is_applied_once_its_bounded_lease_runs_out(
    booking, client_user, stripe_client, monkeypatch, settings
):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    confirm_at_stripe(stripe_client, payment)
    row, _ = webhook_event_store(
        event=intent_event(stripe_client, payment.stripe_payment_intent_id)
    )
    handler = events.HANDLERS[row.type]

    def die(event):
        raise WorkerKilled

    monkeypatch.setitem(events.HANDLERS, row.type, die)
    claimed_at = timezone.now()
    with pytest.raises(WorkerKilled):
        webhook_event_process(event_pk=row.pk)
    monkeypatch.setitem(events.HANDLERS, row.type, handler)
    # The task was delivered long enough ago to count as lost.
    WebhookEvent.objects.filter(pk=row.pk).update(
        received_at=timezone.now() - dt.timedelta(minutes=2)
    )

    row.refresh_from_db()
    bound = settings.STRIPE_TIMEOUT_SECONDS * (settings.STRIPE_MAX_RETRIES + 1) + 30
    assert row.status == WebhookEvent.Status.PENDING
    assert row.locked_until - claimed_at <= dt.timedelta(seconds=bound)

    # While the lease lasts, the retry leaves it alone and says so.
    assert retry_failed_webhooks() == 0

    # The lease has run out: the next retry applies it.
    WebhookEvent.objects.filter(pk=row.pk).update(
        locked_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert retry_failed_webhooks() == 1

    row.refresh_from_db()
    payment.refresh_from_db()
    assert row.status == WebhookEvent.Status.PROCESSED
    assert payment.status == Payment.Status.SUCCEEDED
