"""The Stripe webhook endpoint and event processing.

Events are built from real localstripe objects and signed with the test
secret, as Stripe signs them (``t=...,v1=HMAC-SHA256``); localstripe does not
emit refund, dispute or most intent events, so tests post those themselves.
"""

import json
import time
import uuid

import pytest
from django.conf import settings
from django.db.models import Sum
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bookings.models import Booking
from payments import services
from payments.models import (
    LedgerEntry,
    Payment,
    PaymentTransition,
    Refund,
    SavedPaymentMethod,
    WebhookEvent,
)
from payments.services.events import webhook_event_process, webhook_event_replay
from tests.factories import OfferingFactory
from tests.payments.conftest import MASTERCARD, VISA
from tests.payments.stripe_side import sign_webhook_payload

pytestmark = pytest.mark.django_db

URL = "/api/payments/webhook"


def event(type_: str, obj: dict, *, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": type_,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }


def post(
    client,
    payload: dict,
    *,
    secret: str | None = None,
    timestamp: int | None = None,
    header: bool = True,
):
    body = json.dumps(payload)
    headers = {}
    if header:
        headers["HTTP_STRIPE_SIGNATURE"] = sign_webhook_payload(
            body,
            secret=secret or settings.STRIPE_WEBHOOK_SECRET,
            timestamp=timestamp or int(time.time()),
        )
    return client.post(URL, body, content_type="application/json", **headers)


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """Post signed events and run what the endpoint enqueues after commit."""

    def send(payload: dict):
        with django_capture_on_commit_callbacks(execute=True):
            response = post(client, payload)
        assert response.status_code == 200, response.content
        return response

    return send


@pytest.fixture
def charged_at_stripe(booking, client_user, stripe_client, make_card):
    """A payment we created whose intent was confirmed at Stripe behind our back
    (as Stripe.js's confirmCardPayment would): only a webhook can tell us."""
    payment, intent = services.payment_create_intent(booking=booking, actor=client_user)
    card = make_card(VISA)
    stripe_client.v1.payment_methods.attach(
        card, params={"customer": payment.stripe_customer_id}
    )
    stripe_client.v1.payment_intents.update(intent.id, params={"payment_method": card})
    stripe_client.v1.payment_intents.confirm(intent.id)
    return payment, stripe_client.v1.payment_intents.retrieve(intent.id).to_dict()


def ledger(payment) -> dict[str, int]:
    return dict(
        LedgerEntry.objects.filter(payment=payment)
        .values_list("kind")
        .annotate(total=Sum("amount"))
        .values_list("kind", "total")
    )


# --- signature -------------------------------------------------------------------------


def test_webhook_without_signature_is_400_and_stores_nothing(client):
    response = post(
        client, event("payment_intent.succeeded", {"id": "pi_x"}), header=False
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    assert not WebhookEvent.objects.exists()


def test_webhook_with_a_wrong_secret_is_400_and_stores_nothing(client):
    response = post(
        client, event("payment_intent.succeeded", {"id": "pi_x"}), secret="whsec_other"
    )
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_webhook_with_a_stale_timestamp_is_400_and_stores_nothing(client):
    stale = int(time.time()) - 301
    response = post(
        client, event("payment_intent.succeeded", {"id": "pi_x"}), timestamp=stale
    )
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_webhook_with_a_tampered_body_is_400(client):
    payload = event("payment_intent.succeeded", {"id": "pi_x"})
    body = json.dumps(payload)
    signature = sign_webhook_payload(
        body, secret=settings.STRIPE_WEBHOOK_SECRET, timestamp=int(time.time())
    )
    tampered = body.replace("pi_x", "pi_y")
    response = client.post(
        URL, tampered, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_webhook_get_is_405(client):
    assert client.get(URL).status_code == 405


def test_webhook_of_an_unknown_type_is_stored_and_ignored(deliver):
    response = deliver(event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert response.json() == {"success": True, "received": True, "duplicate": False}
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED


# --- processing ---------------------------------------------------------------------------


def test_webhook_succeeded_confirms_payment_and_booking(
    deliver, charged_at_stripe, booking
):
    payment, intent = charged_at_stripe
    deliver(event("payment_intent.succeeded", intent))
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert booking.status == Booking.Status.CONFIRMED
    assert ledger(payment) == {
        "charge": 10000,
        "platform_fee": 1500,
        "coach_earning": 8500,
        "vat": 749,
    }
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookEvent.Status.PROCESSED and stored.attempts == 1
    assert (
        PaymentTransition.objects.get(
            payment=payment, to_status="succeeded"
        ).stripe_event_id
        == stored.stripe_event_id
    )


def test_webhook_delivered_ten_times_is_applied_once(deliver, charged_at_stripe):
    payment, intent = charged_at_stripe
    payload = event("payment_intent.succeeded", intent)
    answers = [deliver(payload).json()["duplicate"] for _ in range(10)]
    assert answers == [False] + [True] * 9
    assert WebhookEvent.objects.count() == 1
    assert (
        PaymentTransition.objects.filter(payment=payment, to_status="succeeded").count()
        == 1
    )
    assert LedgerEntry.objects.filter(payment=payment).count() == 4


def test_webhook_backwards_event_is_recorded_and_ignored(deliver, charged_at_stripe):
    payment, intent = charged_at_stripe
    deliver(event("payment_intent.succeeded", intent))
    deliver(event("payment_intent.processing", {**intent, "status": "processing"}))
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert WebhookEvent.objects.filter(status="processed").count() == 2


def test_webhook_payment_failed_fails_the_payment(
    deliver, booking, client_user, stripe_client
):
    payment, intent = services.payment_create_intent(booking=booking, actor=client_user)
    failed = stripe_client.v1.payment_intents.retrieve(intent.id).to_dict() | {
        "status": "requires_payment_method",
        "last_payment_error": {
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
        },
    }
    deliver(event("payment_intent.payment_failed", failed))
    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert payment.last_error_code == "insufficient_funds"
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PENDING_PAYMENT


def test_webhook_for_an_unknown_intent_is_retried_then_dead_then_replayed(
    deliver, charged_at_stripe, settings
):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    payment, intent = charged_at_stripe
    # Stripe knows the intent; we lost its id (as if our commit had not landed yet).
    Payment.objects.filter(pk=payment.pk).update(stripe_payment_intent_id=None)
    deliver(event("payment_intent.succeeded", intent))
    row = WebhookEvent.objects.get()
    assert row.status == WebhookEvent.Status.FAILED
    assert row.attempts == 1 and row.next_attempt_at is not None
    assert "EventNotReady" in row.last_error
    for _ in range(2):
        row = webhook_event_process(event_pk=row.pk)
    assert row.status == WebhookEvent.Status.DEAD and row.attempts == 3
    assert webhook_event_process(event_pk=row.pk).attempts == 3  # dead stays dead

    Payment.objects.filter(pk=payment.pk).update(stripe_payment_intent_id=intent["id"])
    row = webhook_event_replay(event_pk=row.pk, actor=None)
    assert row.status == WebhookEvent.Status.PROCESSED
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED


def test_webhook_external_refund_is_recorded_with_its_ledger(
    deliver, charged_at_stripe, stripe_client, booking
):
    payment, intent = charged_at_stripe
    deliver(event("payment_intent.succeeded", intent))
    refund = stripe_client.v1.refunds.create(
        params={"payment_intent": intent["id"], "amount": 2500}
    )
    deliver(event("refund.created", refund.to_dict()))
    deliver(event("charge.refund.updated", refund.to_dict()))  # same refund again
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PARTIALLY_REFUNDED
    assert payment.amount_refunded == 2500
    assert Refund.objects.get().stripe_refund_id == refund.id
    assert ledger(payment)["refund"] == -2500


def test_webhook_charge_refunded_settles_our_pending_refund(
    deliver, charged_at_stripe, stripe_client
):
    payment, intent = charged_at_stripe
    deliver(event("payment_intent.succeeded", intent))
    ours = Refund.objects.create(
        payment=payment, amount=10000, currency="CHF", reason="duplicate"
    )
    made = stripe_client.v1.refunds.create(
        params={
            "payment_intent": intent["id"],
            "amount": 10000,
            "metadata": {"refund_id": str(ours.pk)},
        }
    )
    charge = stripe_client.v1.payment_intents.retrieve(intent["id"]).to_dict()[
        "charges"
    ]["data"][0]
    charge["refunds"] = {"object": "list", "data": [made.to_dict()]}
    deliver(event("charge.refunded", charge))
    ours.refresh_from_db()
    payment.refresh_from_db()
    assert ours.status == Refund.Status.SUCCEEDED and ours.stripe_refund_id == made.id
    assert payment.status == Payment.Status.REFUNDED
    assert Booking.objects.get().status == Booking.Status.REFUNDED


def test_webhook_dispute_opens_and_a_won_dispute_restores_the_payment(
    deliver, charged_at_stripe
):
    payment, intent = charged_at_stripe
    deliver(event("payment_intent.succeeded", intent))
    dispute = {
        "id": "dp_1",
        "object": "dispute",
        "payment_intent": intent["id"],
        "amount": 10000,
        "status": "needs_response",
    }
    deliver(event("charge.dispute.created", dispute))
    payment.refresh_from_db()
    assert payment.status == Payment.Status.DISPUTED
    deliver(event("charge.dispute.closed", dispute | {"status": "won"}))
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED


def test_webhook_payment_method_detached_drops_our_copy(
    deliver, client_user, make_card
):
    first, second = make_card(VISA), make_card(MASTERCARD)
    for card in (first, second):
        services.payment_method_attach(
            user=client_user,
            payment_method_id=card,
            make_default=False,
            actor=client_user,
        )
    deliver(event("payment_method.detached", {"id": first, "object": "payment_method"}))
    assert list(
        SavedPaymentMethod.objects.values_list("stripe_payment_method_id", "is_default")
    ) == [(second, True)]


# --- order does not matter ---------------------------------------------------------------


def _final_state(payment_id) -> tuple:
    payment = Payment.objects.get(pk=payment_id)
    return (
        payment.status,
        payment.amount_received,
        payment.amount_refunded,
        Booking.objects.get(pk=payment.booking_id).status,
        tuple(sorted(ledger(payment).items())),
    )


def _drain(payment_id) -> None:
    """Run every retry now, as the periodic job would over time."""
    for _ in range(10):
        due = WebhookEvent.objects.filter(status__in=["pending", "failed"])
        if not due.exists():
            return
        for row in due:
            webhook_event_process(event_pk=row.pk)


@pytest.fixture
def event_story(make_booking, client_user, stripe_client, make_card):
    """A payment's life as Stripe would report it: processing, succeeded, two
    refunds (created, then settled), a late processing duplicate."""

    def make():
        # A coach of its own per story, so stories never compete for a slot.
        booking = make_booking(off=OfferingFactory())
        payment, intent = services.payment_create_intent(
            booking=booking, actor=client_user
        )
        card = make_card(VISA)
        stripe_client.v1.payment_methods.attach(
            card, params={"customer": payment.stripe_customer_id}
        )
        stripe_client.v1.payment_intents.update(
            intent.id, params={"payment_method": card}
        )
        stripe_client.v1.payment_intents.confirm(intent.id)
        paid = stripe_client.v1.payment_intents.retrieve(intent.id).to_dict()
        first = stripe_client.v1.refunds.create(
            params={"payment_intent": intent.id, "amount": 3000}
        ).to_dict()
        second = stripe_client.v1.refunds.create(
            params={"payment_intent": intent.id, "amount": 7000}
        ).to_dict()
        story = [
            event("payment_intent.processing", paid | {"status": "processing"}),
            event("payment_intent.succeeded", paid),
            event("refund.created", first | {"status": "pending"}),
            event("refund.updated", first),
            event("refund.created", second),
        ]
        return payment, story

    return make


def test_webhook_events_in_order_reach_the_expected_end(event_story, deliver):
    payment, story = event_story()
    for payload in story:
        deliver(payload)
    _drain(payment.pk)
    status, received, refunded, booking_status, entries = _final_state(payment.pk)
    assert (status, received, refunded, booking_status) == (
        "refunded",
        10000,
        10000,
        "refunded",
    )
    totals = dict(entries)
    for kind, undo in [
        ("charge", "refund"),
        ("platform_fee", "platform_fee_reversal"),
        ("coach_earning", "coach_earning_reversal"),
        ("vat", "vat_reversal"),
    ]:
        assert totals[kind] + totals[undo] == 0


@hsettings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_webhook_events_in_any_order_with_duplicates_reach_the_same_end(
    event_story, client, django_capture_on_commit_callbacks, data
):
    in_order, story = event_story()
    for payload in story:
        with django_capture_on_commit_callbacks(execute=True):
            post(client, payload)
    _drain(in_order.pk)
    expected = _final_state(in_order.pk)

    shuffled, story = event_story()
    order = data.draw(st.permutations(story), label="order")
    repeats = data.draw(st.lists(st.sampled_from(story), max_size=4), label="repeats")
    for payload in [*order, *repeats]:
        with django_capture_on_commit_callbacks(execute=True):
            assert post(client, payload).status_code == 200
    _drain(shuffled.pk)
    assert _final_state(shuffled.pk) == expected
