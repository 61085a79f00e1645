"""Every cancel and every released hold settles the money through one path:
no intent of an ended hold stays open at Stripe (the emulator)."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking
from payments import services
from payments.models import Payment
from payments.services import maintenance
from tests.payments.conftest import next_slot

pytestmark = pytest.mark.django_db


def past(minutes: int = 1) -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=minutes)


def test_admin_cancel_action_cancels_the_open_intent_at_stripe(
    client, admin_user, booking, client_user, stripe_client
):
    payment, intent = services.payment_create_intent(booking=booking, actor=client_user)
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:bookings_booking_changelist"),
        {"action": "cancel_unpaid", "_selected_action": [booking.pk]},
        follow=True,
    )

    assert response.status_code == 200
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CANCELED
    assert stripe_client.v1.payment_intents.retrieve(intent.id).status == "canceled"
    open_intents = [
        pi
        for pi in stripe_client.v1.payment_intents.list(params={"limit": 100}).data
        if pi.status not in ("canceled", "succeeded")
    ]
    assert open_intents == []


def test_hold_expired_on_the_spot_by_another_booking_cancels_its_intent(
    booking,
    client_user,
    other_client,
    stripe_client,
    django_capture_on_commit_callbacks,
):
    payment, intent = services.payment_create_intent(booking=booking, actor=client_user)
    Booking.objects.filter(pk=booking.pk).update(expires_at=past())

    with django_capture_on_commit_callbacks(execute=True):
        taken = booking_services.booking_create(
            client=other_client,
            offering=booking.offering,
            starts_at=next_slot(),
            actor=other_client,
        )

    assert taken.starts_at == booking.starts_at
    booking.refresh_from_db()
    assert booking.status == Booking.Status.EXPIRED
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CANCELED
    assert stripe_client.v1.payment_intents.retrieve(intent.id).status == "canceled"


def test_reconcile_cancels_the_open_intent_of_an_ended_hold(
    booking, client_user, stripe_client, settings
):
    """The safety net: the after-commit cancel failed (Stripe was down), so the
    payment stayed open; the reconciliation cancels it instead of re-reading
    it forever."""
    payment, intent = services.payment_create_intent(booking=booking, actor=client_user)
    Booking.objects.filter(pk=booking.pk).update(expires_at=past())
    booking_services.booking_expire(booking=booking, actor=None)  # no on-commit run
    assert Payment.objects.get().status == Payment.Status.REQUIRES_PAYMENT_METHOD
    Payment.objects.filter(pk=payment.pk).update(updated_at=past(60))

    maintenance.payments_reconcile()

    payment.refresh_from_db()
    assert payment.status == Payment.Status.CANCELED
    assert stripe_client.v1.payment_intents.retrieve(intent.id).status == "canceled"
