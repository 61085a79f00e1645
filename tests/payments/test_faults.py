"""What the database holds after Stripe fails us, through the API and the real gateway.

Faults come from a TCP proxy in front of localstripe (timeouts, dropped
connections, 5xx, answers lost after Stripe acted) or from a localstripe
process killed mid-test. Nothing of ours or of ``stripe`` is patched. After
every fault the payment is in a state a retry can continue from, nothing is
booked in the ledger that Stripe did not do, and a retry never charges or
refunds twice (counted at the emulator).
"""

import pytest
import stripe
from rest_framework.test import APIClient

from bookings.models import Booking
from payments.models import (
    LedgerEntry,
    Payment,
    PaymentTransition,
    Refund,
    StripeCustomer,
)
from payments.services import refund_settle
from tests import faultproxy
from tests.payments.conftest import VISA

fault_proxy = faultproxy.fault_proxy  # the fixture, under the name tests ask for

pytestmark = pytest.mark.django_db

PRE_CHARGE = {
    Payment.Status.REQUIRES_PAYMENT_METHOD,
    Payment.Status.REQUIRES_CONFIRMATION,
    Payment.Status.REQUIRES_ACTION,
}


# --- Helpers ---------------------------------------------------------------------------


@pytest.fixture
def payer_api(api, client_user):
    api.force_authenticate(client_user)
    return api


@pytest.fixture
def admin_api(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


@pytest.fixture
def private_stripe():
    """A second localstripe of this test's own, to kill or to forget everything."""
    emulator = faultproxy.LocalStripe().start()
    yield emulator
    emulator.kill()


def _create_intent(api, booking):
    return api.post(
        "/api/payments/create-intent", {"bookingId": str(booking.pk)}, format="json"
    )


def _confirm(api, intent_id: str, card: str):
    return api.post(
        "/api/payments/confirm",
        {"paymentIntentId": intent_id, "paymentMethodId": card},
        format="json",
    )


def _refund(api, intent_id: str, amount=None):
    body = {"paymentIntentId": intent_id, "reason": "requested_by_customer"}
    if amount is not None:
        body["amount"] = amount
    return api.post("/api/payments/refund", body, format="json")


def _assert_provider_unavailable(response) -> None:
    assert response.status_code == 503, response.content
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "provider_unavailable"
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)


def _succeeded_charges(stripe_client, intent_id: str) -> list:
    intent = stripe_client.v1.payment_intents.retrieve(intent_id).to_dict()
    customer = intent["customer"]
    charges = stripe_client.v1.charges.list(
        params={"customer": customer, "limit": 100}
    ).auto_paging_iter()
    return [
        c for c in charges if c.payment_intent == intent_id and c.status == "succeeded"
    ]


def _refunds_at_stripe(stripe_client, intent_id: str) -> list:
    return list(
        stripe_client.v1.refunds.list(
            params={"payment_intent": intent_id, "limit": 100}
        ).auto_paging_iter()
    )


@pytest.fixture
def intent_id(fault_proxy, payer_api, booking) -> str:
    """An open intent for ``booking``, made through the proxy while it passes."""
    response = _create_intent(payer_api, booking)
    assert response.status_code == 200, response.content
    return response.json()["paymentIntent"]["id"]


@pytest.fixture
def paid(fault_proxy, payer_api, intent_id, make_card) -> Payment:
    """A payment of 100.00 CHF that succeeded, through the proxy while it passes."""
    response = _confirm(payer_api, intent_id, make_card(VISA))
    assert response.status_code == 200, response.content
    payment = Payment.objects.get(stripe_payment_intent_id=intent_id)
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.amount_received == 10000
    fault_proxy.clear()
    return payment


# --- Confirm -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["hang", "drop", "http500"])
def test_confirm_api_stripe_fails_on_confirm_answers_503_then_retry_charges_once(
    mode, fault_proxy, payer_api, booking, intent_id, make_card, stripe_client, settings
):
    card = make_card(VISA)
    fault_proxy.fail(mode, path="/confirm", method="POST")

    response = _confirm(payer_api, intent_id, card)

    _assert_provider_unavailable(response)
    assert (
        len(fault_proxy.requests_to("/confirm", "POST"))
        == settings.STRIPE_MAX_RETRIES + 1
    )
    payment = Payment.objects.get(stripe_payment_intent_id=intent_id)
    assert payment.status in PRE_CHARGE
    assert payment.amount_received == 0
    assert payment.confirm_lease_until is None
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PENDING_PAYMENT
    assert not LedgerEntry.objects.filter(payment=payment).exists()
    assert _succeeded_charges(stripe_client, intent_id) == []

    fault_proxy.heal()
    retry = _confirm(payer_api, intent_id, card)

    assert retry.status_code == 200, retry.content
    assert retry.json()["paymentIntent"]["status"] == "succeeded"
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert booking.status == Booking.Status.CONFIRMED
    assert list(
        LedgerEntry.objects.filter(payment=payment, kind="charge").values_list(
            "amount", flat=True
        )
    ) == [10000]
    assert len(_succeeded_charges(stripe_client, intent_id)) == 1


def test_confirm_api_answer_lost_after_charge_then_retry_does_not_charge_again(
    fault_proxy, payer_api, booking, intent_id, make_card, stripe_client, settings
):
    # Without our own retry: localstripe ignores idempotency keys and refuses a
    # second confirm of a paid intent, where real Stripe would replay the answer.
    settings.STRIPE_MAX_RETRIES = 0
    card = make_card(VISA)
    fault_proxy.fail("hang_after", times=1, path="/confirm", method="POST")

    response = _confirm(payer_api, intent_id, card)

    _assert_provider_unavailable(response)
    # Stripe charged; we do not know it yet, and must not pretend either way.
    assert len(_succeeded_charges(stripe_client, intent_id)) == 1
    payment = Payment.objects.get(stripe_payment_intent_id=intent_id)
    assert payment.status in PRE_CHARGE
    assert not LedgerEntry.objects.filter(payment=payment).exists()
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PENDING_PAYMENT

    retry = _confirm(payer_api, intent_id, card)

    assert retry.status_code == 200, retry.content
    assert retry.json()["paymentIntent"]["status"] == "succeeded"
    assert len(fault_proxy.requests_to("/confirm", "POST")) == 1
    assert len(_succeeded_charges(stripe_client, intent_id)) == 1
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.amount_received == 10000
    assert booking.status == Booking.Status.CONFIRMED
    assert LedgerEntry.objects.filter(payment=payment, kind="charge").count() == 1
    assert (
        PaymentTransition.objects.filter(payment=payment, to_status="succeeded").count()
        == 1
    )


# --- Refund --------------------------------------------------------------------------


def test_refund_api_stripe_500_keeps_refund_pending_and_reserved(
    fault_proxy, admin_api, paid, stripe_client, settings
):
    intent_id = paid.stripe_payment_intent_id
    fault_proxy.fail("http500", path="/v1/refunds", method="POST")

    response = _refund(admin_api, intent_id, amount=100)

    _assert_provider_unavailable(response)
    refund = Refund.objects.get(payment=paid)
    assert refund.status == Refund.Status.PENDING
    assert refund.amount == 10000

    second = _refund(admin_api, intent_id, amount=100)

    assert second.status_code == 400, second.content
    assert second.json()["error"]["code"] == "invalid_refund"
    assert second.json()["error"]["details"]["available"] == 0
    assert (
        len(fault_proxy.requests_to("/v1/refunds", "POST"))
        == settings.STRIPE_MAX_RETRIES + 1
    )
    paid.refresh_from_db()
    assert paid.amount_refunded == 0
    assert paid.status == Payment.Status.SUCCEEDED
    assert Refund.objects.filter(payment=paid).count() == 1
    assert not LedgerEntry.objects.filter(payment=paid, refund__isnull=False).exists()
    assert paid.booking.status == Booking.Status.CONFIRMED
    assert _refunds_at_stripe(stripe_client, intent_id) == []


def test_refund_api_answer_lost_after_refund_keeps_reservation_so_no_second_refund(
    fault_proxy, admin_api, paid, stripe_client, settings
):
    settings.STRIPE_MAX_RETRIES = 0
    intent_id = paid.stripe_payment_intent_id
    fault_proxy.fail("hang_after", times=1, path="/v1/refunds", method="POST")

    response = _refund(admin_api, intent_id, amount=60)

    _assert_provider_unavailable(response)
    at_stripe = _refunds_at_stripe(stripe_client, intent_id)
    assert [r.amount for r in at_stripe] == [6000]  # the money did go back
    refund = Refund.objects.get(payment=paid)
    assert refund.status == Refund.Status.PENDING

    # Only what was never asked for may still be refunded.
    assert _refund(admin_api, intent_id, amount=50).status_code == 400
    assert _refund(admin_api, intent_id, amount=40).status_code == 200
    assert sorted(r.amount for r in _refunds_at_stripe(stripe_client, intent_id)) == [
        4000,
        6000,
    ]
    paid.refresh_from_db()
    assert paid.amount_refunded == 4000

    # Reconciliation learns the outcome: the reservation becomes a refund, once.
    for _ in range(2):
        refund_settle(
            refund=refund,
            stripe_refund_id=at_stripe[0].id,
            status="succeeded",
            cause="reconcile",
        )
    paid.refresh_from_db()
    assert paid.amount_refunded == 10000
    assert paid.status == Payment.Status.REFUNDED
    assert (
        sum(
            LedgerEntry.objects.filter(payment=paid, kind="refund").values_list(
                "amount", flat=True
            )
        )
        == -10000
    )


def test_refund_api_stripe_rejects_refund_marks_it_failed_and_releases_reservation(
    fault_proxy, admin_api, paid, stripe_client, private_stripe
):
    intent_id = paid.stripe_payment_intent_id
    # A Stripe that never heard of the intent refuses the refund (404): a
    # definite answer, unlike a timeout.
    session_stripe, fault_proxy.upstream = fault_proxy.upstream, private_stripe.url

    response = _refund(admin_api, intent_id, amount=100)

    assert response.status_code == 502, response.content
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == "gateway_error"
    assert len(fault_proxy.requests_to("/v1/refunds", "POST")) == 1
    refund = Refund.objects.get(payment=paid)
    assert refund.status == Refund.Status.FAILED
    assert refund.failure_reason
    paid.refresh_from_db()
    assert paid.amount_refunded == 0
    assert not LedgerEntry.objects.filter(payment=paid, refund__isnull=False).exists()

    fault_proxy.upstream = session_stripe
    again = _refund(admin_api, intent_id, amount=100)

    assert again.status_code == 200, again.content
    assert again.json()["refund"]["status"] == "succeeded"
    paid.refresh_from_db()
    assert paid.amount_refunded == 10000
    assert paid.status == Payment.Status.REFUNDED
    assert [r.amount for r in _refunds_at_stripe(stripe_client, intent_id)] == [10000]


# --- Stripe down -----------------------------------------------------------------------


def test_create_intent_api_stripe_down_answers_503_then_works_after_restart(
    payer_api, booking, client_user, private_stripe, settings
):
    settings.STRIPE_API_BASE = private_stripe.url
    settings.STRIPE_TIMEOUT_SECONDS = faultproxy.TIMEOUT_SECONDS
    settings.STRIPE_MAX_RETRIES = faultproxy.MAX_RETRIES
    private_stripe.kill()

    response = _create_intent(payer_api, booking)

    _assert_provider_unavailable(response)
    payments = Payment.objects.filter(booking=booking)
    assert not payments.exclude(stripe_payment_intent_id=None).exists()
    assert all(p.create_lease_until is None for p in payments)
    assert not StripeCustomer.objects.filter(user=client_user).exists()
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PENDING_PAYMENT

    private_stripe.start()
    again = _create_intent(payer_api, booking)

    assert again.status_code == 200, again.content
    intent_id = again.json()["paymentIntent"]["id"]
    live = Payment.objects.filter(booking=booking).exclude(
        status__in=[Payment.Status.FAILED, Payment.Status.CANCELED]
    )
    assert [p.stripe_payment_intent_id for p in live] == [intent_id]
    emulator = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": private_stripe.url}
    )
    intents = [
        pi
        for pi in emulator.v1.payment_intents.list(
            params={"limit": 100}
        ).auto_paging_iter()
        if pi.to_dict()["metadata"].get("booking_id") == str(booking.pk)
    ]
    assert [pi.id for pi in intents] == [intent_id]
