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
    assert all("CHF 100.00 paid for" in note.body for note in notes)
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        [client_user.email, coach.email]
    )
    for message in mail.outbox:
        assert message.subject == "Payment received"
        assert "CHF 100.00 paid for" in message.body
        [(html, mimetype)] = message.alternatives
        assert mimetype == "text/html"
        assert "CHF 100.00 paid for" in html


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


# --- each recipient reads the time in their own zone, with amounts -------------


def _paid(booking, client_user, make_card):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    payment, _ = services.payment_confirm(
        payment=payment, payment_method_id=make_card(), actor=client_user
    )
    return payment


def test_notifications_and_emails_show_the_time_in_each_recipients_zone(
    booking, client_user, coach, make_card, django_capture_on_commit_callbacks
):
    from accounts.zones import format_when

    client_user.time_zone = "America/New_York"
    client_user.save(update_fields=["time_zone"])
    with django_capture_on_commit_callbacks(execute=True):
        _paid(booking, client_user, make_card)

    in_new_york = format_when(booking.starts_at, "America/New_York")
    in_zurich = format_when(booking.starts_at, "Europe/Zurich")
    assert in_new_york.endswith("(America/New_York)")
    assert in_new_york != in_zurich
    note = Notification.objects.get(kind=K.PAYMENT_SUCCEEDED, recipient=client_user)
    coach_note = Notification.objects.get(kind=K.PAYMENT_SUCCEEDED, recipient=coach)
    assert in_new_york in note.body and "UTC" not in note.body
    assert in_zurich in coach_note.body
    [email] = [m for m in mail.outbox if m.to == [client_user.email]]
    assert in_new_york in email.body
    assert in_new_york in email.alternatives[0][0]
    [coach_email] = [m for m in mail.outbox if m.to == [coach.email]]
    assert in_zurich in coach_email.body


def test_refund_notifications_carry_the_amount_refunded(
    booking, client_user, coach, make_card, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        payment = _paid(booking, client_user, make_card)
    with django_capture_on_commit_callbacks(execute=True):
        services.payment_refund(
            payment=payment, amount=5500, reason="requested_by_customer", actor=coach
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.payment_refund(
            payment=payment, amount=4500, reason="requested_by_customer", actor=coach
        )

    bodies = [
        n.body
        for n in Notification.objects.filter(
            kind=K.REFUNDED, recipient=client_user
        ).order_by("created_at")
    ]
    assert bodies[0].startswith("CHF 55.00 of CHF 100.00 refunded for ")
    assert bodies[1].startswith("CHF 100.00 refunded for ")
    assert any(
        "CHF 55.00 of CHF 100.00 refunded" in m.body
        for m in mail.outbox
        if m.to == [client_user.email]
    )
