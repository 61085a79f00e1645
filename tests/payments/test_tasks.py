"""The Celery tasks, run the way the embedded mode runs them (inline)."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking
from payments import services
from payments.exceptions import ProviderUnavailable
from payments.models import Notification, Payment, Refund, WebhookEvent
from payments.services.events import webhook_event_process, webhook_event_store
from payments.tasks import (
    expire_unpaid_bookings,
    process_webhook_event,
    reconcile_payments,
    retry_failed_webhooks,
)
from tests import faultproxy
from tests.payments.conftest import next_slot
from tests.payments.stripe_side import (
    confirm_at_stripe,
    intent_event,
    unknown_intent_event,
)

pytestmark = pytest.mark.django_db


def past(minutes: int = 1) -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=minutes)


# --- expire_unpaid_bookings ------------------------------------------------------------


def test_expire_unpaid_bookings_releases_the_hold_cancels_the_intent_and_notifies(
    booking,
    client_user,
    coach,
    stripe_client,
    django_capture_on_commit_callbacks,
):
    payment, intent = services.payment_create_intent(booking=booking, actor=client_user)
    Booking.objects.filter(pk=booking.pk).update(expires_at=past())

    with django_capture_on_commit_callbacks(execute=True):
        released = expire_unpaid_bookings.delay().get()

    assert released == 1
    booking.refresh_from_db()
    assert booking.status == Booking.Status.EXPIRED
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CANCELED
    assert stripe_client.v1.payment_intents.retrieve(intent.id).status == "canceled"
    notes = Notification.objects.filter(kind=Notification.Kind.HOLD_EXPIRED)
    assert {note.recipient for note in notes} == {client_user, coach}
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        [client_user.email, coach.email]
    )
    assert all(message.subject == "Booking released" for message in mail.outbox)

    again = booking_services.booking_create(
        client=client_user,
        offering=booking.offering,
        starts_at=next_slot(),
        actor=client_user,
    )
    assert again.status == Booking.Status.PENDING_PAYMENT
    assert again.starts_at == booking.starts_at


def test_expire_unpaid_bookings_twice_notifies_once(
    booking, client_user, django_capture_on_commit_callbacks
):
    services.payment_create_intent(booking=booking, actor=client_user)
    Booking.objects.filter(pk=booking.pk).update(expires_at=past())
    with django_capture_on_commit_callbacks(execute=True):
        assert expire_unpaid_bookings() == 1
        assert expire_unpaid_bookings() == 0
    assert Notification.objects.count() == 2
    assert len(mail.outbox) == 2


def test_expire_unpaid_bookings_keeps_holds_that_have_not_run_out(booking, client_user):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    assert expire_unpaid_bookings() == 0
    booking.refresh_from_db()
    payment.refresh_from_db()
    assert booking.status == Booking.Status.PENDING_PAYMENT
    assert payment.status == Payment.Status.REQUIRES_PAYMENT_METHOD


def test_expire_unpaid_bookings_paid_at_the_last_second_confirms_instead(
    booking, client_user, stripe_client, django_capture_on_commit_callbacks
):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    confirm_at_stripe(stripe_client, payment)
    Booking.objects.filter(pk=booking.pk).update(expires_at=past())

    with django_capture_on_commit_callbacks(execute=True):
        assert expire_unpaid_bookings() == 0

    payment.refresh_from_db()
    booking.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert booking.status == Booking.Status.CONFIRMED
    kinds = set(Notification.objects.values_list("kind", flat=True))
    assert kinds == {Notification.Kind.PAYMENT_SUCCEEDED}


# --- process_webhook_event and retry_failed_webhooks -----------------------------------


def test_process_webhook_event_applies_a_stored_event(
    booking, client_user, stripe_client
):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    confirm_at_stripe(stripe_client, payment)
    row, _ = webhook_event_store(
        event=intent_event(stripe_client, payment.stripe_payment_intent_id)
    )

    assert process_webhook_event.delay(row.pk).get() == "processed"

    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED


def test_retry_failed_webhooks_processes_events_that_are_due(
    booking, client_user, stripe_client
):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    confirm_at_stripe(stripe_client, payment)
    due, _ = webhook_event_store(
        event=intent_event(stripe_client, payment.stripe_payment_intent_id)
    )
    WebhookEvent.objects.filter(pk=due.pk).update(
        status=WebhookEvent.Status.FAILED, attempts=1, next_attempt_at=past()
    )
    later, _ = webhook_event_store(event=unknown_intent_event("evt_later"))
    WebhookEvent.objects.filter(pk=later.pk).update(
        status=WebhookEvent.Status.FAILED,
        attempts=1,
        next_attempt_at=timezone.now() + dt.timedelta(minutes=5),
    )

    assert retry_failed_webhooks() == 1

    due.refresh_from_db()
    later.refresh_from_db()
    assert (due.status, due.attempts) == (WebhookEvent.Status.PROCESSED, 2)
    assert (later.status, later.attempts) == (WebhookEvent.Status.FAILED, 1)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED


def test_retry_failed_webhooks_picks_up_a_pending_event_whose_task_was_lost(
    booking, client_user, stripe_client
):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    confirm_at_stripe(stripe_client, payment)
    row, _ = webhook_event_store(
        event=intent_event(stripe_client, payment.stripe_payment_intent_id)
    )
    WebhookEvent.objects.filter(pk=row.pk).update(received_at=past(2))

    assert retry_failed_webhooks() == 1

    row.refresh_from_db()
    assert row.status == WebhookEvent.Status.PROCESSED


def test_retry_failed_webhooks_dead_letters_after_the_last_attempt(db, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    row, _ = webhook_event_store(event=unknown_intent_event("evt_never"))
    assert webhook_event_process(event_pk=row.pk).status == WebhookEvent.Status.FAILED
    WebhookEvent.objects.filter(pk=row.pk).update(next_attempt_at=past())

    assert retry_failed_webhooks() == 1

    row.refresh_from_db()
    assert row.status == WebhookEvent.Status.DEAD
    assert row.attempts == 2 and row.next_attempt_at is None
    assert row.last_error.startswith("EventNotReady")
    assert retry_failed_webhooks() == 0


# --- reconcile_payments ---------------------------------------------------------------


def test_reconcile_payments_heals_a_payment_whose_webhook_was_lost(
    booking, client_user, stripe_client, settings
):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    confirm_at_stripe(stripe_client, payment)
    Payment.objects.filter(pk=payment.pk).update(
        updated_at=past(settings.RECONCILE_AFTER_MINUTES + 1)
    )

    assert reconcile_payments() == 1

    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.booking.status == Booking.Status.CONFIRMED
    assert reconcile_payments() == 0


def test_reconcile_payments_with_nothing_new_at_stripe_changes_nothing(
    booking, client_user, settings
):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    Payment.objects.filter(pk=payment.pk).update(
        updated_at=past(settings.RECONCILE_AFTER_MINUTES + 1)
    )
    assert reconcile_payments() == 0
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REQUIRES_PAYMENT_METHOD
    assert payment.version == 1


# --- reconcile_payments: refunds whose outcome we never learned ----------------------

fault_proxy = faultproxy.fault_proxy  # the fixture, under the name tests ask for


def refund_with_a_lost_answer(fault_proxy, paid, admin_user, mode: str) -> Refund:
    fault_proxy.fail(mode, path="/v1/refunds", method="POST")
    with pytest.raises(ProviderUnavailable):
        services.payment_refund(
            payment=paid,
            amount=None,
            reason=Refund.Reason.REQUESTED_BY_CUSTOMER,
            actor=admin_user,
        )
    fault_proxy.heal()
    refund = Refund.objects.get(payment=paid)
    assert refund.status == Refund.Status.PENDING
    return refund


def make_stale(refund: Refund, settings) -> None:
    Refund.objects.filter(pk=refund.pk).update(
        updated_at=past(settings.RECONCILE_AFTER_MINUTES + 1)
    )


def test_reconcile_payments_settles_a_refund_whose_answer_was_lost(
    fault_proxy, paid, admin_user, stripe_client, settings
):
    settings.STRIPE_MAX_RETRIES = 0
    refund = refund_with_a_lost_answer(fault_proxy, paid, admin_user, "hang_after")
    make_stale(refund, settings)

    reconcile_payments()

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    paid.refresh_from_db()
    assert (paid.status, paid.amount_refunded) == (Payment.Status.REFUNDED, 10000)
    at_stripe = stripe_client.v1.refunds.list(
        params={"payment_intent": paid.stripe_payment_intent_id}
    ).data
    assert [r.id for r in at_stripe] == [refund.stripe_refund_id]


def test_reconcile_payments_settles_a_refund_stripe_never_received(
    fault_proxy, paid, admin_user, stripe_client, settings
):
    refund = refund_with_a_lost_answer(fault_proxy, paid, admin_user, "http500")
    make_stale(refund, settings)

    reconcile_payments()

    refund.refresh_from_db()
    assert refund.status != Refund.Status.PENDING
    paid.refresh_from_db()
    at_stripe = stripe_client.v1.refunds.list(
        params={"payment_intent": paid.stripe_payment_intent_id}
    ).data
    assert paid.amount_refunded == sum(r.amount for r in at_stripe)
