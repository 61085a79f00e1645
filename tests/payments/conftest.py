"""Payment fixtures: a payable booking and cards made at localstripe.

Cards are created the way Stripe.js would (a PaymentMethod from a card
number); the test talks to the emulator directly for that, the product never
sees a card number.
"""

import datetime as dt
import zoneinfo

import pytest
import stripe
from django.conf import settings
from django.utils import timezone

from bookings import services as booking_services
from payments import services
from payments.models import Payment

VISA = "4242424242424242"
DECLINED_AT_CHARGE = "4000000000000341"
DECLINED_AT_ATTACH = "4000000000000002"
THREE_D_SECURE = "4000002760003184"
# Other cards that simply pay: distinct numbers, so distinct fingerprints (the
# same card is saved only once).
MASTERCARD = "5555555555554444"
VISA_DEBIT = "4000056655665556"


def next_slot(days: int = 3, hour: int = 10) -> dt.datetime:
    zurich = zoneinfo.ZoneInfo("Europe/Zurich")
    day = timezone.now().astimezone(zurich).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=zurich)


@pytest.fixture
def stripe_client(localstripe_url):
    """The emulator as a test sees it (to count objects, play Stripe.js)."""
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": localstripe_url}
    )


@pytest.fixture
def make_card(stripe_client):
    def make(number: str = VISA) -> str:
        pm = stripe_client.v1.payment_methods.create(
            params={
                "type": "card",
                "card": {
                    "number": number,
                    "exp_month": 12,
                    "exp_year": 2034,
                    "cvc": "123",
                },
            }
        )
        return pm.id

    return make


@pytest.fixture
def make_booking(client_user, offering, localstripe_url):
    def make(*, client=None, days: int = 3, hour: int = 10, off=None):
        who = client or client_user
        return booking_services.booking_create(
            client=who,
            offering=off or offering,
            starts_at=next_slot(days, hour),
            actor=who,
        )

    return make


@pytest.fixture
def booking(make_booking):
    return make_booking()


@pytest.fixture
def paid(booking, client_user, make_card) -> Payment:
    """The booking paid with a new card through the services."""
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    payment, _ = services.payment_confirm(
        payment=payment, payment_method_id=make_card(), actor=client_user
    )
    assert payment.status == Payment.Status.SUCCEEDED
    return payment
