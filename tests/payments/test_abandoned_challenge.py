"""Item 5 of issue 9: a 3-D Secure challenge left unanswered must not block the
booking. Through the API against localstripe, as the checkout page calls it."""

import pytest
from rest_framework.test import APIClient

from bookings.models import Booking
from payments import services
from payments.models import Payment
from tests.payments.conftest import THREE_D_SECURE, VISA
from tests.payments.test_services import authenticate_3ds

pytestmark = pytest.mark.django_db


def as_user(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def create_intent(api, booking) -> dict:
    response = api.post(
        "/api/payments/create-intent", {"bookingId": str(booking.pk)}, format="json"
    )
    assert response.status_code == 200, response.json()
    return response.json()


def confirm(api, intent_id: str, card: str):
    return api.post(
        "/api/payments/confirm",
        {"paymentIntentId": intent_id, "paymentMethodId": card},
        format="json",
    )


def charges_at_stripe(stripe_client) -> list:
    return [c for c in stripe_client.v1.charges.list().data if c.status == "succeeded"]


@pytest.fixture
def abandoned(booking, client_user, make_card):
    """A payment whose 3-D Secure challenge was never answered."""
    api = as_user(client_user)
    first = create_intent(api, booking)["paymentIntent"]
    response = confirm(api, first["id"], make_card(THREE_D_SECURE))
    assert response.json()["paymentIntent"]["status"] == "requires_action"
    return api, first


def test_create_intent_after_abandoned_challenge_replaces_the_intent(
    abandoned, booking, make_card, stripe_client
):
    api, first = abandoned

    again = create_intent(api, booking)["paymentIntent"]

    assert again["id"] != first["id"]
    assert stripe_client.v1.payment_intents.retrieve(first["id"]).status == "canceled"
    old = Payment.objects.get(stripe_payment_intent_id=first["id"])
    assert old.status == Payment.Status.CANCELED
    paid = confirm(api, again["id"], make_card(VISA))
    assert paid.status_code == 200, paid.json()
    assert paid.json()["paymentIntent"]["status"] == "succeeded"
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    assert len(charges_at_stripe(stripe_client)) == 1


def test_confirm_another_card_on_abandoned_challenge_ends_it_then_pays(
    abandoned, booking, make_card, stripe_client
):
    api, first = abandoned

    response = confirm(api, first["id"], make_card(VISA))

    assert response.status_code == 409, response.json()
    assert response.json()["error"]["code"] == "booking_not_payable"
    assert stripe_client.v1.payment_intents.retrieve(first["id"]).status == "canceled"
    again = create_intent(api, booking)["paymentIntent"]
    assert again["id"] != first["id"]
    paid = confirm(api, again["id"], make_card(VISA))
    assert paid.json()["paymentIntent"]["status"] == "succeeded"
    assert len(charges_at_stripe(stripe_client)) == 1


def test_confirm_same_card_on_open_challenge_asks_for_it_again(abandoned, client_user):
    api, first = abandoned
    payment = Payment.objects.get(stripe_payment_intent_id=first["id"])

    response = confirm(api, first["id"], payment.stripe_payment_method_id)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["requiresAction"] is True
    assert body["paymentIntent"]["id"] == first["id"]


def test_create_intent_after_challenge_passed_meanwhile_records_the_success(
    abandoned, booking, client_user, localstripe_url, stripe_client
):
    """The bank's answer arrived at Stripe but not (yet) at us: no new intent,
    no second charge; the booking is paid."""
    api, first = abandoned
    payment = Payment.objects.get(stripe_payment_intent_id=first["id"])
    intent = stripe_client.v1.payment_intents.retrieve(first["id"])
    authenticate_3ds(localstripe_url, intent, success=True)

    response = api.post(
        "/api/payments/create-intent", {"bookingId": str(booking.pk)}, format="json"
    )

    assert response.status_code == 409
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    assert len(stripe_client.v1.payment_intents.list().data) == 1
    assert len(charges_at_stripe(stripe_client)) == 1


def test_payment_replace_abandoned_is_a_noop_for_other_states(
    booking, client_user, make_card
):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    again, _ = services.payment_create_intent(booking=booking, actor=client_user)
    assert again.pk == payment.pk


def test_create_intent_after_abandoned_challenge_takes_over_a_lapsed_lease(
    abandoned, booking, client_user, stripe_client
):
    """A process that died holding the confirm lease does not block paying again."""
    import datetime as dt

    from django.utils import timezone

    _api, first = abandoned
    Payment.objects.filter(stripe_payment_intent_id=first["id"]).update(
        confirm_lease_until=timezone.now() - dt.timedelta(seconds=1)
    )

    _payment, intent = services.payment_create_intent(
        booking=booking, actor=client_user
    )

    assert intent.id != first["id"]
    old = Payment.objects.get(stripe_payment_intent_id=first["id"])
    assert (old.status, old.confirm_lease_until) == (Payment.Status.CANCELED, None)
