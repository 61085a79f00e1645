"""Paths a mutation check found unguarded: no test failed when they broke.

- A lost dispute must leave the payment ``disputed``: mapping it back to
  ``succeeded`` (as a won one is) would show money as ours that the card
  network took back.
- Anonymous callers of confirm, refund, setup-intent and methods/default get
  401 and change nothing: with ``AllowAny`` on any of them the suite fails here.

Events are signed here the way Stripe signs them (``t=...,v1=HMAC-SHA256`` of
``"{t}.{body}"``), independent of the product's own helpers.
"""

import hashlib
import hmac
import json
import time
import uuid

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from bookings.models import Booking
from payments import services
from payments.models import (
    LedgerEntry,
    Payment,
    PaymentTransition,
    Refund,
    SavedPaymentMethod,
)
from tests.payments.conftest import VISA

pytestmark = pytest.mark.django_db

WEBHOOK = "/api/payments/webhook"


def _signed_post(client, payload: dict):
    body = json.dumps(payload)
    timestamp = int(time.time())
    digest = hmac.new(
        settings.STRIPE_WEBHOOK_SECRET.encode(),
        f"{timestamp}.{body}".encode(),
        hashlib.sha256,
    ).hexdigest()
    return client.post(
        WEBHOOK,
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=f"t={timestamp},v1={digest}",
    )


def _event(type_: str, obj: dict) -> dict:
    return {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": type_,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    def send(payload: dict) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            response = _signed_post(client, payload)
        assert response.status_code == 200, response.content

    return send


@pytest.fixture
def paid(booking, client_user, make_card):
    """A booking paid through our own API path (create, confirm)."""
    payment, _intent = services.payment_create_intent(
        booking=booking, actor=client_user
    )
    payment, intent = services.payment_confirm(
        payment=payment, payment_method_id=make_card(VISA), actor=client_user
    )
    assert intent.status == "succeeded"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    return payment


# --- lost dispute ------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["lost", "charge_refunded"])
def test_a_lost_dispute_keeps_the_payment_disputed(deliver, paid, outcome):
    dispute = {
        "id": f"dp_{uuid.uuid4().hex[:12]}",
        "object": "dispute",
        "payment_intent": paid.stripe_payment_intent_id,
        "amount": paid.amount,
        "currency": paid.currency.lower(),
        "status": "needs_response",
    }
    deliver(_event("charge.dispute.created", dispute))
    paid.refresh_from_db()
    assert paid.status == Payment.Status.DISPUTED
    version = paid.version

    deliver(_event("charge.dispute.closed", dispute | {"status": outcome}))

    paid.refresh_from_db()
    assert paid.status == Payment.Status.DISPUTED
    assert paid.version == version, "a lost dispute is no transition"
    assert paid.last_error_code == f"dispute_{outcome}"
    assert not PaymentTransition.objects.filter(
        payment=paid, from_status=Payment.Status.DISPUTED
    ).exists()
    assert paid.booking.status == Booking.Status.CONFIRMED


def test_a_lost_dispute_delivered_twice_still_keeps_it_disputed(deliver, paid):
    dispute = {
        "id": "dp_twice",
        "object": "dispute",
        "payment_intent": paid.stripe_payment_intent_id,
        "amount": paid.amount,
        "status": "needs_response",
    }
    deliver(_event("charge.dispute.created", dispute))
    closed = _event("charge.dispute.closed", dispute | {"status": "lost"})
    deliver(closed)
    deliver(closed)
    deliver(_event("charge.dispute.closed", dispute | {"status": "lost"}))
    paid.refresh_from_db()
    assert paid.status == Payment.Status.DISPUTED


# --- anonymous callers ------------------------------------------------------------------


def _snapshot() -> tuple:
    return (
        list(
            Payment.objects.order_by("pk").values_list(
                "pk", "status", "version", "amount_refunded"
            )
        ),
        Refund.objects.count(),
        LedgerEntry.objects.count(),
        PaymentTransition.objects.count(),
        list(
            SavedPaymentMethod.objects.order_by("pk").values_list(
                "stripe_payment_method_id", "is_default"
            )
        ),
        list(Booking.objects.order_by("pk").values_list("pk", "status", "version")),
    )


def _assert_401(response) -> None:
    assert response.status_code == 401, response.content
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "not_authenticated"


def test_anonymous_confirm_is_401_and_nothing_changes(booking, client_user, make_card):
    payment, intent = services.payment_create_intent(booking=booking, actor=client_user)
    before = _snapshot()
    response = APIClient().post(
        "/api/payments/confirm",
        {"paymentIntentId": intent.id, "paymentMethodId": make_card(VISA)},
        format="json",
    )
    _assert_401(response)
    assert _snapshot() == before
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REQUIRES_PAYMENT_METHOD


def test_anonymous_refund_is_401_and_nothing_changes(paid):
    before = _snapshot()
    for body in (
        {"paymentIntentId": paid.stripe_payment_intent_id, "reason": "duplicate"},
        {
            "paymentIntentId": paid.stripe_payment_intent_id,
            "amount": 10,
            "reason": "requested_by_customer",
        },
    ):
        _assert_401(APIClient().post("/api/payments/refund", body, format="json"))
    assert _snapshot() == before
    paid.refresh_from_db()
    assert paid.status == Payment.Status.SUCCEEDED
    assert paid.amount_refunded == 0


def test_anonymous_setup_intent_is_401_and_asks_stripe_nothing(stripe_client):
    before = len(stripe_client.v1.setup_intents.list().data)
    _assert_401(APIClient().post("/api/payments/setup-intent", {}, format="json"))
    assert len(stripe_client.v1.setup_intents.list().data) == before


def test_anonymous_default_method_is_401_and_nothing_changes(client_user, make_card):
    first, second = make_card(), make_card()
    for card in (first, second):
        services.payment_method_attach(
            user=client_user,
            payment_method_id=card,
            make_default=False,
            actor=client_user,
        )
    before = _snapshot()
    response = APIClient().post(
        "/api/payments/methods/default", {"paymentMethodId": second}, format="json"
    )
    _assert_401(response)
    assert _snapshot() == before
    assert SavedPaymentMethod.objects.get(stripe_payment_method_id=first).is_default
