"""What happens at Stripe without our server hearing of it, for tests.

A payment confirmed straight at localstripe (the way a lost webhook or a
browser talking to Stripe would leave it), and the event Stripe would send
about it. The product only ever learns of it through a webhook, a replay or
reconciliation.
"""

import hashlib
import hmac
import time
import uuid

from payments.gateway import WebhookEventData
from payments.models import WebhookEvent
from payments.services.events import webhook_event_store
from tests.payments.conftest import VISA


def sign_webhook_payload(payload: str, *, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header Stripe would send for ``payload``
    (verification in the product is the Stripe SDK's own)."""
    signed = f"{timestamp}.{payload}".encode()
    mac = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def confirm_at_stripe(stripe_client, payment, number: str = VISA) -> dict:
    """Pay ``payment``'s intent at localstripe directly; return the intent."""
    pm = stripe_client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    stripe_client.v1.payment_methods.attach(
        pm.id, params={"customer": payment.stripe_customer_id}
    )
    intent_id = payment.stripe_payment_intent_id
    stripe_client.v1.payment_intents.update(intent_id, params={"payment_method": pm.id})
    stripe_client.v1.payment_intents.confirm(intent_id)
    return stripe_client.v1.payment_intents.retrieve(intent_id).to_dict()


def intent_event(
    stripe_client, intent_id: str, event_type: str = "payment_intent.succeeded"
) -> WebhookEventData:
    """The event Stripe would send now about an intent, as parsed by the gateway."""
    event_id = f"evt_test_{uuid.uuid4().hex[:20]}"
    created = int(time.time())
    payload = {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": created,
        "livemode": False,
        "data": {
            "object": stripe_client.v1.payment_intents.retrieve(intent_id).to_dict()
        },
    }
    return WebhookEventData(
        id=event_id, type=event_type, created=created, livemode=False, payload=payload
    )


def unknown_intent_event(event_id: str) -> WebhookEventData:
    """A ``payment_intent.succeeded`` about an intent no payment of ours has."""
    payload = {
        "id": event_id,
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": {"id": "pi_nobody", "object": "payment_intent"}},
    }
    return WebhookEventData(
        id=event_id,
        type="payment_intent.succeeded",
        created=payload["created"],
        livemode=False,
        payload=payload,
    )


def store_dead_event(event: WebhookEventData) -> WebhookEvent:
    """Store an event as if every attempt had failed (dead-lettered)."""
    row, created = webhook_event_store(event=event)
    assert created
    WebhookEvent.objects.filter(pk=row.pk).update(
        status=WebhookEvent.Status.DEAD,
        attempts=8,
        last_error="EventNotReady: gave up",
        next_attempt_at=None,
    )
    row.refresh_from_db()
    return row
