"""The refund policy (DESIGN.md "Policies"): the payer's only refund is
cancelling; the booking's coach and staff may give goodwill refunds."""

import pytest

from bookings.models import Booking
from payments import services
from payments.exceptions import RefundNotAllowed
from payments.models import Payment, Refund
from tests.payments.conftest import VISA
from tests.payments.test_api import as_user, error_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_intent(booking, client_user, make_card):
    """The CHF 100 booking, paid by its client with a Visa card at the emulator."""
    api = as_user(client_user)
    created = api.post(
        "/api/payments/create-intent", {"bookingId": str(booking.pk)}, format="json"
    )
    intent = created.json()["paymentIntent"]
    confirmed = api.post(
        "/api/payments/confirm",
        {"paymentIntentId": intent["id"], "paymentMethodId": make_card(VISA)},
        format="json",
    )
    assert confirmed.status_code == 200, confirmed.json()
    return intent


def refund(user, intent_id, **body):
    return as_user(user).post(
        "/api/payments/refund",
        {"paymentIntentId": intent_id, "reason": "requested_by_customer", **body},
        format="json",
    )


def test_payer_partial_refund_is_400_with_the_allowed_amount_and_keeps_the_booking(
    client_user, booking, paid_intent
):
    response = refund(client_user, paid_intent["id"], amount=96)
    assert response.status_code == 400, response.json()
    assert error_code(response) == "validation_error"
    details = response.json()["error"]["details"]
    assert details["allowedAmount"] == 100 and details["currency"] == "CHF"
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    assert not Refund.objects.exists()
    assert Payment.objects.get().status == Payment.Status.SUCCEEDED


@pytest.mark.parametrize("body", [{}, {"amount": 100}, {"amount": "100.00"}])
def test_payer_refund_in_the_window_cancels_and_refunds_the_policy_amount(
    client_user, booking, paid_intent, stripe_client, body
):
    response = refund(client_user, paid_intent["id"], **body)
    assert response.status_code == 200, response.json()
    out = response.json()
    assert out["refund"]["amount"] == 100 and out["refund"]["status"] == "succeeded"
    assert out["payment"]["status"] == "refunded"
    booking.refresh_from_db()
    assert booking.status == Booking.Status.REFUNDED
    assert booking.cancelled_at is not None
    refunds = stripe_client.v1.refunds.list(params={"limit": 10}).data
    assert [r.amount for r in refunds] == [10000]


def test_payer_refund_after_the_window_is_403_and_keeps_the_booking(
    client_user, booking, paid_intent
):
    Booking.objects.filter(pk=booking.pk).update(cancellation_window_hours=24 * 30)
    response = refund(client_user, paid_intent["id"], amount=100)
    assert response.status_code == 403
    assert error_code(response) == "refund_window_closed"
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    assert not Refund.objects.exists()


def test_payer_refund_of_a_cancelled_booking_is_409(
    client_user, coach, booking, paid_intent
):
    as_user(coach).post(f"/api/bookings/{booking.pk}/cancel/")
    response = refund(client_user, paid_intent["id"])
    assert response.status_code == 409
    assert Refund.objects.count() == 1


@pytest.mark.parametrize("who", ["coach", "admin_user"])
def test_goodwill_partial_refund_by_coach_or_staff_keeps_the_booking(
    request, booking, paid_intent, who
):
    response = refund(request.getfixturevalue(who), paid_intent["id"], amount=30)
    assert response.status_code == 200, response.json()
    assert response.json()["payment"]["status"] == "partially_refunded"
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


def test_payer_after_goodwill_is_offered_what_is_left(
    client_user, coach, booking, paid_intent
):
    assert refund(coach, paid_intent["id"], amount=30).status_code == 200
    response = refund(client_user, paid_intent["id"], amount=96)
    assert response.status_code == 400
    assert response.json()["error"]["details"]["allowedAmount"] == 70
    response = refund(client_user, paid_intent["id"], amount=70)
    assert response.status_code == 200, response.json()
    booking.refresh_from_db()
    assert booking.status == Booking.Status.REFUNDED


def test_payment_refund_by_the_payer_without_cancelling_is_refused(
    client_user, booking, paid_intent
):
    payment = Payment.objects.get()
    with pytest.raises(RefundNotAllowed):
        services.payment_refund(
            payment=payment,
            amount=9600,
            reason=Refund.Reason.REQUESTED_BY_CUSTOMER,
            actor=client_user,
        )
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    assert not Refund.objects.exists()


def test_refund_schema_states_the_policy(client):
    response = client.get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    text = response.content.decode()
    assert "only refund is cancelling" in text
