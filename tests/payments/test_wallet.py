"""Issue 9, items 4 and 7: saved cards like a wallet (expired cards, the same
card once) and saving a card with the payment. Services and API against
localstripe."""

import pytest
from rest_framework.test import APIClient

from payments import services
from payments.models import Payment, SavedPaymentMethod, card_expired
from payments.services.methods import PaymentMethodNotUsable
from tests.payments.conftest import MASTERCARD, VISA

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_card_expiring(stripe_client):
    """A card with a chosen expiry, as Stripe.js would create it."""

    def make(number: str = VISA, *, month: int, year: int) -> str:
        return stripe_client.v1.payment_methods.create(
            params={
                "type": "card",
                "card": {
                    "number": number,
                    "exp_month": month,
                    "exp_year": year,
                    "cvc": "123",
                },
            }
        ).id

    return make


def save(user, pm: str, *, default: bool = False) -> SavedPaymentMethod:
    return services.payment_method_attach(
        user=user, payment_method_id=pm, make_default=default, actor=user
    )


def expired_saved_card(user, number: str = MASTERCARD) -> SavedPaymentMethod:
    """A card that was saved while valid and has expired since (Stripe keeps it)."""
    card = SavedPaymentMethod.objects.create(
        user=user,
        stripe_payment_method_id=f"pm_expired_{number[-4:]}",
        brand="visa",
        last4=number[-4:],
        exp_month=1,
        exp_year=2025,
    )
    return card


@pytest.mark.parametrize(
    ("month", "year", "today", "expired"),
    [
        (11, 2026, (2026, 11, 30), False),
        (10, 2026, (2026, 11, 1), True),
        (12, 2025, (2026, 1, 1), True),
        (1, 2027, (2026, 12, 31), False),
    ],
)
def test_card_expired_is_after_the_last_day_of_the_month(month, year, today, expired):
    import datetime as dt

    assert card_expired(month, year, dt.date(*today)) is expired


# --- the same card once ----------------------------------------------------------


def test_payment_method_attach_same_card_twice_keeps_one(client_user, make_card):
    first = save(client_user, make_card(VISA))
    again = save(client_user, make_card(VISA))

    assert again.pk == first.pk
    assert SavedPaymentMethod.objects.filter(user=client_user).count() == 1
    assert first.fingerprint  # localstripe sends card.fingerprint


def test_payment_method_attach_renewed_card_takes_the_later_expiry(
    client_user, make_card_expiring
):
    old = save(client_user, make_card_expiring(VISA, month=12, year=2030))
    renewed_pm = make_card_expiring(VISA, month=12, year=2034)

    renewed = save(client_user, renewed_pm)

    assert renewed.pk == old.pk
    assert (renewed.stripe_payment_method_id, renewed.exp_year) == (renewed_pm, 2034)
    assert renewed.is_default


def test_payment_method_attach_different_cards_are_two(client_user, make_card):
    save(client_user, make_card(VISA))
    save(client_user, make_card(MASTERCARD))
    assert SavedPaymentMethod.objects.filter(user=client_user).count() == 2


# --- expired cards ---------------------------------------------------------------


def test_payment_method_attach_expired_card_is_refused(client_user, make_card_expiring):
    with pytest.raises(PaymentMethodNotUsable) as caught:
        save(client_user, make_card_expiring(month=1, year=2025))
    assert "expired" in caught.value.message
    assert not SavedPaymentMethod.objects.filter(user=client_user).exists()


def test_payment_method_set_default_expired_card_is_refused(client_user, make_card):
    current = save(client_user, make_card(VISA))
    expired = expired_saved_card(client_user)

    with pytest.raises(PaymentMethodNotUsable):
        services.payment_method_set_default(
            user=client_user,
            payment_method_id=expired.stripe_payment_method_id,
            actor=client_user,
        )
    current.refresh_from_db()
    assert current.is_default


def test_payment_method_detach_default_skips_expired_cards(
    client_user, make_card, stripe_client
):
    expired = expired_saved_card(client_user)
    default = save(client_user, make_card(VISA), default=True)

    services.payment_method_detach(
        user=client_user,
        payment_method_id=default.stripe_payment_method_id,
        actor=client_user,
    )

    expired.refresh_from_db()
    assert not expired.is_default


def test_confirm_with_expired_card_is_a_clear_400(
    booking, client_user, make_card_expiring
):
    api = APIClient()
    api.force_authenticate(client_user)
    intent = api.post(
        "/api/payments/create-intent", {"bookingId": str(booking.pk)}, format="json"
    ).json()["paymentIntent"]

    response = api.post(
        "/api/payments/confirm",
        {
            "paymentIntentId": intent["id"],
            "paymentMethodId": make_card_expiring(month=1, year=2025),
        },
        format="json",
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "payment_method_not_usable"
    assert error["message"] == (
        "This card expired at the end of 01/2025. Choose another card."
    )
    payment = Payment.objects.get(stripe_payment_intent_id=intent["id"])
    assert payment.status == Payment.Status.REQUIRES_PAYMENT_METHOD


# --- saving the card with the payment ----------------------------------------------


def test_payment_confirm_save_card_saves_it_once_paid(booking, client_user, make_card):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    pm = make_card(VISA)

    payment, _ = services.payment_confirm(
        payment=payment, payment_method_id=pm, actor=client_user, save_card=True
    )

    assert payment.status == Payment.Status.SUCCEEDED
    saved = SavedPaymentMethod.objects.get(user=client_user)
    assert (saved.stripe_payment_method_id, saved.is_default) == (pm, True)


def test_payment_confirm_save_card_same_card_again_keeps_one(
    make_booking, client_user, make_card
):
    for days in (3, 4):
        booking = make_booking(days=days)
        payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
        services.payment_confirm(
            payment=payment,
            payment_method_id=make_card(VISA),
            actor=client_user,
            save_card=True,
        )
    assert SavedPaymentMethod.objects.filter(user=client_user).count() == 1


def test_payment_confirm_save_card_declined_saves_nothing(
    booking, client_user, make_card
):
    from payments.exceptions import CardDeclined
    from tests.payments.conftest import DECLINED_AT_CHARGE

    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    with pytest.raises(CardDeclined):
        services.payment_confirm(
            payment=payment,
            payment_method_id=make_card(DECLINED_AT_CHARGE),
            actor=client_user,
            save_card=True,
        )
    assert not SavedPaymentMethod.objects.filter(user=client_user).exists()
