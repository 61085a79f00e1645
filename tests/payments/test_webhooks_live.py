"""Real deliveries: localstripe signs and posts events to a live server."""

import time
import urllib.parse
import urllib.request
import uuid

import pytest
import stripe
from django.conf import settings
from rest_framework.test import APIClient

from bookings.models import Booking
from payments.models import Payment, WebhookEvent
from tests.faultproxy import LocalStripe
from tests.payments.conftest import THREE_D_SECURE
from tests.payments.test_services import authenticate_3ds

pytestmark = pytest.mark.django_db(transaction=True)


def register_webhook(localstripe_url: str, target: str) -> None:
    body = urllib.parse.urlencode(
        {"url": target, "secret": settings.STRIPE_WEBHOOK_SECRET}
    ).encode()
    name = f"test-{uuid.uuid4().hex[:8]}"
    request = urllib.request.Request(
        f"{localstripe_url}/_config/webhooks/{name}", data=body
    )
    with urllib.request.urlopen(request, timeout=5):
        pass


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def private_emulator(settings):
    """An emulator of this test's own: its webhook registration (which cannot
    be deleted) must not outlive the test and hit the live server later."""
    emulator = LocalStripe().start()
    settings.STRIPE_API_BASE = emulator.url
    yield emulator.url
    emulator.kill()


def test_webhook_from_localstripe_completes_a_3ds_payment_without_a_client_call(
    live_server, private_emulator, booking, client_user
):
    localstripe_url = private_emulator
    register_webhook(localstripe_url, f"{live_server.url}/api/payments/webhook")
    card = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": localstripe_url}
    ).v1.payment_methods.create(
        params={
            "type": "card",
            "card": {
                "number": THREE_D_SECURE,
                "exp_month": 12,
                "exp_year": 2034,
                "cvc": "123",
            },
        }
    )
    api = APIClient()
    api.force_authenticate(client_user)
    intent = api.post(
        "/api/payments/create-intent", {"bookingId": str(booking.pk)}, format="json"
    ).json()["paymentIntent"]
    confirmed = api.post(
        "/api/payments/confirm",
        {"paymentIntentId": intent["id"], "paymentMethodId": card.id},
        format="json",
    ).json()
    assert confirmed["paymentIntent"]["status"] == "requires_action"

    # The browser's 3-D Secure dialog talks to Stripe, never to us.
    class Intent:
        id = intent["id"]
        client_secret = confirmed["clientSecret"]

    authenticate_3ds(localstripe_url, Intent, success=True)

    def this_intents_events():
        return [
            row.status
            for row in WebhookEvent.objects.filter(type="payment_intent.succeeded")
            # Other tests' late events may arrive too: keep this intent's.
            if row.object_id == intent["id"]
        ]

    # On SQLite the live server shares the test's connection: wait for the
    # whole of the processing, not its first row.
    assert wait_for(lambda: this_intents_events() == [WebhookEvent.Status.PROCESSED]), (
        f"the succeeded webhook was not processed: {this_intents_events()}"
    )
    assert Payment.objects.get().status == Payment.Status.SUCCEEDED
    assert Booking.objects.get().status == Booking.Status.CONFIRMED
