"""Notifications to the payer and the coach: once per event, by email too."""

import pytest
from django.core import mail

from payments import services
from payments.exceptions import CardDeclined
from payments.models import Notification, Payment
from payments.services.events import (
    webhook_event_process,
    webhook_event_replay,
    webhook_event_store,
)
from payments.services.notifications import (
    notification_create,
    notification_mark_read,
    notification_send_email,
)
from tests.payments.conftest import DECLINED_AT_CHARGE
from tests.payments.stripe_side import confirm_at_stripe, intent_event

pytestmark = pytest.mark.django_db


K = Notification.Kind


@pytest.fixture
def succeeded_event(booking, client_user, stripe_client):
    """A payment paid at Stripe and the stored ``payment_intent.succeeded``."""
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    confirm_at_stripe(stripe_client, payment)
    row, _ = webhook_event_store(
        event=intent_event(stripe_client, payment.stripe_payment_intent_id)
    )
    return payment, row


def test_payment_succeeded_notifies_payer_and_coach_once_with_text_and_html(
    succeeded_event, client_user, coach, django_capture_on_commit_callbacks
):
    payment, row = succeeded_event
    with django_capture_on_commit_callbacks(execute=True):
        webhook_event_process(event_pk=row.pk)

    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    notes = Notification.objects.filter(kind=K.PAYMENT_SUCCEEDED)
    assert sorted(note.recipient.email for note in notes) == sorted(
        [client_user.email, coach.email]
    )
    assert all(note.emailed_at is not None for note in notes)
    assert all("CHF 100.00 was paid for" in note.body for note in notes)
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        [client_user.email, coach.email]
    )
    for message in mail.outbox:
        assert message.subject == "Payment received"
        assert "CHF 100.00 was paid for" in message.body
        [(html, mimetype)] = message.alternatives
        assert mimetype == "text/html"
        assert "CHF 100.00 was paid for" in html


def test_payment_succeeded_event_replayed_does_not_notify_twice(
    succeeded_event, django_capture_on_commit_callbacks
):
    _payment, row = succeeded_event
    with django_capture_on_commit_callbacks(execute=True):
        webhook_event_process(event_pk=row.pk)
    with django_capture_on_commit_callbacks(execute=True):
        replayed = webhook_event_replay(event_pk=row.pk, actor=None)

    assert replayed.status == replayed.Status.PROCESSED
    assert Notification.objects.count() == 2
    assert len(mail.outbox) == 2


def test_payment_declined_notifies_payer_and_coach_of_the_failure(
    booking, client_user, make_card, django_capture_on_commit_callbacks
):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(CardDeclined),
    ):
        services.payment_confirm(
            payment=payment,
            payment_method_id=make_card(DECLINED_AT_CHARGE),
            actor=client_user,
        )
    assert Notification.objects.filter(kind=K.PAYMENT_FAILED).count() == 2
    assert {message.subject for message in mail.outbox} == {"Payment failed"}


def test_notification_create_twice_with_the_same_key_creates_once(
    booking, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = notification_create(
            booking_id=booking.pk, kind=K.REFUNDED, dedupe_key="r1"
        )
        again = notification_create(
            booking_id=booking.pk, kind=K.REFUNDED, dedupe_key="r1"
        )
        other = notification_create(
            booking_id=booking.pk, kind=K.REFUNDED, dedupe_key="r2"
        )
    assert (len(first), len(again), len(other)) == (2, 0, 2)
    assert len(mail.outbox) == 4


def test_notification_send_email_twice_sends_once(booking):
    note, _coach_note = notification_create(booking_id=booking.pk, kind=K.REFUNDED)
    assert notification_send_email(notification_pk=note.pk) is True
    assert notification_send_email(notification_pk=note.pk) is False
    assert len(mail.outbox) == 1


def test_notification_mark_read_by_someone_else_is_refused(booking, other_client):
    note, _coach_note = notification_create(booking_id=booking.pk, kind=K.REFUNDED)
    with pytest.raises(Notification.DoesNotExist):
        notification_mark_read(notification=note, actor=other_client)
    note = notification_mark_read(notification=note, actor=booking.client)
    note.refresh_from_db()
    assert note.read is True
