"""Signed but hostile webhooks: malformed bodies are a 400 that stores nothing,
a signature from the future is refused like a stale one, and an event whose
amounts disagree with our payment is checked against Stripe's own copy."""

import hashlib
import hmac
import json
import time

import pytest
from django.conf import settings
from django.db import DataError, OperationalError, connection

from bookings.models import Booking
from payments import services
from payments.models import LedgerEntry, Payment, WebhookEvent
from tests.payments.test_webhooks import charged_at_stripe, deliver, event, ledger

pytestmark = pytest.mark.django_db

URL = "/api/payments/webhook"
__all__ = ["charged_at_stripe", "deliver"]  # fixtures used here


def post_signed(client, body: bytes | str, *, timestamp: int | None = None):
    raw = body.encode() if isinstance(body, str) else body
    t = timestamp or int(time.time())
    mac = hmac.new(
        settings.STRIPE_WEBHOOK_SECRET.encode(), f"{t}.".encode() + raw, hashlib.sha256
    ).hexdigest()
    return client.post(
        URL,
        raw,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=f"t={t},v1={mac}",
    )


NOW = int(time.time())


def _event_text(**fields: str) -> str:
    base = {
        "id": '"evt_malformed"',
        "object": '"event"',
        "type": '"payment_intent.succeeded"',
        "created": str(NOW),
        "livemode": "false",
        "data": '{"object": {"id": "pi_x", "object": "payment_intent"}}',
    }
    base.update(fields)
    return "{" + ", ".join(f'"{k}": {v}' for k, v in base.items() if v) + "}"


MALFORMED = {
    "list": "[]",
    "string": '"evt"',
    "null": "null",
    "number": "12",
    "empty object": "{}",
    "created 1e400": '{"id":"evt_x","type":"x","created":1e400}',
    "created far past": _event_text(created="-99999999999999"),
    "created far future": _event_text(created="99999999999999"),
    "created float": _event_text(created="1700000000.5"),
    "created string": _event_text(created='"1700000000"'),
    "created bool": _event_text(created="true"),
    "created missing": _event_text(created=""),
    "created NaN": _event_text(created="NaN"),
    "id missing": _event_text(id=""),
    "id number": _event_text(id="12"),
    "id not evt": _event_text(id='"pi_123"'),
    "id non-ascii": _event_text(id='"evt_\\u00fc"'),
    "id too long": _event_text(id='"evt_' + "x" * 300 + '"'),
    "type number": _event_text(type="12"),
    "type too long": _event_text(type='"' + "x" * 101 + '"'),
    "type with spaces": _event_text(type='"payment intent"'),
    "livemode string": _event_text(livemode='"yes"'),
    "data missing": _event_text(data=""),
    "data list": _event_text(data="[]"),
    "data object list": _event_text(data='{"object": []}'),
    "NUL in a string": _event_text(data='{"object": {"id": "pi_\\u0000"}}'),
    "lone surrogate": _event_text(data='{"object": {"id": "pi_\\ud800"}}'),
    "Infinity in data": _event_text(data='{"object": {"amount": Infinity}}'),
    "1e400 in data": _event_text(data='{"object": {"amount": 1e400}}'),
    "deep nesting": "[" * 100_000 + "]" * 100_000,
    "not JSON": "{not json",
    "not UTF-8": b'{"id": "evt_\xff\xfe"}',
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_signed_malformed_webhook_is_400_and_stores_nothing(client, body):
    response = post_signed(client, body)
    assert response.status_code == 400, response.content[:300]
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] in ("invalid_event", "invalid_signature")
    assert not WebhookEvent.objects.exists()


def test_signed_wellformed_event_text_is_stored(client):
    # The positive control for the cases above: the same text, nothing broken.
    response = post_signed(client, _event_text(type='"some.thing"'))
    assert response.status_code == 200, response.content
    assert WebhookEvent.objects.get().stripe_event_id == "evt_malformed"


@pytest.mark.parametrize("offset", [400, 3600, 10**9])
def test_webhook_signed_in_the_future_is_400_and_stores_nothing(client, offset):
    response = post_signed(
        client, _event_text(type='"some.thing"'), timestamp=int(time.time()) + offset
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    assert not WebhookEvent.objects.exists()


def test_webhook_signed_a_little_ahead_is_accepted(client):
    # Clocks differ by a few seconds: within the tolerance either way is fine.
    response = post_signed(
        client, _event_text(type='"some.thing"'), timestamp=int(time.time()) + 60
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "header", ["t=abc,v1=00", "t=" + "9" * 50 + ",v1=00", "x" * 5000]
)
def test_webhook_with_a_garbled_signature_header_is_400(client, header):
    response = client.post(
        URL,
        _event_text(type='"some.thing"'),
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
    )
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


# --- An event's amounts are checked against Stripe --------------------------------


@pytest.fixture
def unpaid(booking, client_user, stripe_client):
    """A payment whose intent exists at Stripe and is not paid."""
    payment, _intent = services.payment_create_intent(
        booking=booking, actor=client_user
    )
    return payment, stripe_client.v1.payment_intents.retrieve(
        payment.stripe_payment_intent_id
    ).to_dict()


def _forged_success(intent: dict, **changes) -> dict:
    charge = {
        "id": "ch_forged",
        "object": "charge",
        "amount": intent["amount"],
        "currency": intent["currency"],
        "status": "succeeded",
    }
    return {
        **intent,
        "status": "succeeded",
        "amount_received": intent["amount"],
        "charges": {"object": "list", "data": [charge]},
        **changes,
    }


@pytest.mark.parametrize(
    "changes",
    [
        {"amount_received": 1},
        {"amount": 1, "amount_received": 1},
        {"currency": "eur"},
        {"metadata": {"booking_id": "6075e65b-2d34-a344-b1f5-f32c00000000"}},
        {"amount_received": 1.5},
        {"amount_received": 10**400},
    ],
    ids=["amount_received", "amount", "currency", "booking id", "float", "huge"],
)
def test_forged_success_for_an_unpaid_intent_confirms_nothing(
    deliver, unpaid, booking, changes
):
    payment, intent = unpaid
    deliver(event("payment_intent.succeeded", _forged_success(intent, **changes)))
    payment.refresh_from_db()
    booking.refresh_from_db()
    # Stripe says the intent still waits for a card: that is what we keep.
    assert payment.status == Payment.Status.REQUIRES_PAYMENT_METHOD
    assert payment.amount_received == 0
    assert booking.status == Booking.Status.PENDING_PAYMENT
    assert not LedgerEntry.objects.filter(payment=payment).exists()
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_forged_amount_on_a_paid_intent_records_what_stripe_received(
    deliver, charged_at_stripe, booking
):
    payment, intent = charged_at_stripe
    deliver(
        event(
            "payment_intent.succeeded",
            _forged_success(intent, amount_received=1),
        )
    )
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.amount_received == 10000
    assert booking.status == Booking.Status.CONFIRMED
    assert ledger(payment)["charge"] == 10000


def test_event_as_expected_is_applied_without_asking_stripe_again(
    deliver, charged_at_stripe, booking, caplog
):
    payment, intent = charged_at_stripe
    deliver(event("payment_intent.succeeded", _forged_success(intent)))
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert "webhook.intent_doubted" not in caplog.text


def test_signed_event_with_a_big_integer_is_stored(client):
    body = _event_text(
        type='"some.thing"', data=json.dumps({"object": {"amount": 10**100}})
    )
    response = post_signed(client, body)
    # A big integer is valid JSON and storable: stored, and harmless (ignored type).
    assert response.status_code == 200


# --- The one 5xx: the database cannot store the event ----------------------------


def _failing_insert(error: Exception):
    def wrapper(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("INSERT") and "webhookevent" in sql.lower():
            raise error
        return execute(sql, params, many, context)

    return wrapper


def test_webhook_when_the_database_is_down_is_503_so_stripe_retries(client):
    with connection.execute_wrapper(_failing_insert(OperationalError("server gone"))):
        response = post_signed(client, _event_text(type='"some.thing"'))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_failed"
    assert not WebhookEvent.objects.exists()
    # Stripe's redelivery, once the database is back, is stored.
    assert post_signed(client, _event_text(type='"some.thing"')).status_code == 200


def test_webhook_the_database_refuses_as_data_is_400_not_5xx(client):
    with connection.execute_wrapper(_failing_insert(DataError("bad value"))):
        response = post_signed(client, _event_text(type='"some.thing"'))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_event"
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("amount", [2500.5, -2500, 10**400, "2500", None])
def test_refund_event_with_a_malformed_amount_records_nothing(
    deliver, charged_at_stripe, stripe_client, amount
):
    from payments.models import Refund

    payment, intent = charged_at_stripe
    deliver(event("payment_intent.succeeded", intent))
    refund = stripe_client.v1.refunds.create(
        params={"payment_intent": intent["id"], "amount": 2500}
    ).to_dict()
    deliver(event("refund.created", {**refund, "amount": amount}))
    assert not Refund.objects.exists()
    payment.refresh_from_db()
    assert payment.amount_refunded == 0
    stored = WebhookEvent.objects.get(type="refund.created")
    assert stored.status == WebhookEvent.Status.FAILED
    # The positive control: the same refund with Stripe's amount is recorded.
    deliver(event("refund.created", refund))
    assert Refund.objects.get().amount == 2500
