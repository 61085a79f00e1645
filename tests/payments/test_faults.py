"""What the database holds after Stripe fails us, through the API and the real gateway.

Faults come from a TCP proxy in front of localstripe (timeouts, dropped
connections, 5xx, answers lost after Stripe acted) or from a localstripe
process killed mid-test. Nothing of ours or of ``stripe`` is patched. After
every fault the payment is in a state a retry can continue from, nothing is
booked in the ledger that Stripe did not do, and a retry never charges or
refunds twice (counted at the emulator).
"""

import datetime as dt

import pytest
import stripe
from django.utils import timezone
from rest_framework.test import APIClient

from bookings.models import Booking
from payments.models import (
    LedgerEntry,
    Payment,
    Refund,
    StripeCustomer,
)
from payments.services import _core, refund_settle
from payments.services.events import webhook_event_process, webhook_event_store
from tests import faultproxy
from tests.payments.conftest import VISA
from tests.payments.stripe_side import confirm_at_stripe, intent_event

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


@pytest.mark.parametrize(
    ("mode", "retries"),
    [
        # The answer comes too late (our timeout fires) and we do not retry.
        ("hang_after", 0),
        # Our retry of the confirm meets an intent Stripe already paid: a 400
        # (localstripe refuses; real Stripe would replay the answer).
        ("hang_after", 2),
        ("drop_after", 2),
    ],
)
def test_confirm_api_answer_lost_after_charge_answers_the_charge(
    mode,
    retries,
    fault_proxy,
    payer_api,
    booking,
    intent_id,
    make_card,
    stripe_client,
    settings,
):
    """Issue 13, defect 3: a charged card was answered 503 (answer late) or
    502 "Bad request" (answer dropped, retry refused). Failed before the fix."""
    settings.STRIPE_MAX_RETRIES = retries
    card = make_card(VISA)
    fault_proxy.fail(mode, times=1, path="/confirm", method="POST")

    response = _confirm(payer_api, intent_id, card)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True
    assert body["paymentIntent"]["status"] == "succeeded"
    assert body["payment"]["status"] == "succeeded"
    assert len(_succeeded_charges(stripe_client, intent_id)) == 1
    payment = Payment.objects.get(stripe_payment_intent_id=intent_id)
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.amount_received == 10000
    assert payment.confirm_lease_until is None
    assert list(
        LedgerEntry.objects.filter(payment=payment, kind="charge").values_list(
            "amount", flat=True
        )
    ) == [10000]
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED

    retry = _confirm(payer_api, intent_id, card)

    assert retry.status_code == 200, retry.content
    assert retry.json()["paymentIntent"]["status"] == "succeeded"
    assert len(_succeeded_charges(stripe_client, intent_id)) == 1


def test_confirm_api_charge_unknown_answers_503_then_the_recorded_success(
    fault_proxy, payer_api, booking, intent_id, make_card, stripe_client, settings
):
    """The answer is lost and Stripe stays unreachable: the outcome is not
    known, so 503 (never "failed"); once the webhook recorded the charge, a
    retry answers it from our records even while Stripe is still away (before
    the fix: 503 again)."""
    settings.STRIPE_MAX_RETRIES = 0
    card = make_card(VISA)
    fault_proxy.fail("hang_after", times=1, path="/confirm", method="POST")
    fault_proxy.fail("hang", path="/v1/payment_intents/", method="GET")

    response = _confirm(payer_api, intent_id, card)

    _assert_provider_unavailable(response)
    payment = Payment.objects.get(stripe_payment_intent_id=intent_id)
    assert payment.status in PRE_CHARGE
    assert payment.confirm_lease_until is None
    assert len(_succeeded_charges(stripe_client, intent_id)) == 1

    # The webhook arrives (Stripe reaches us; we cannot reach Stripe).
    event = intent_event(stripe_client, intent_id)
    row, _created = webhook_event_store(event=event)
    webhook_event_process(event_pk=row.pk)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED

    retry = _confirm(payer_api, intent_id, card)

    assert retry.status_code == 200, retry.content
    body = retry.json()
    assert body["paymentIntent"]["status"] == "succeeded"
    assert body["paymentIntent"]["amount_received"] == 10000
    assert body["payment"]["status"] == "succeeded"
    assert len(_succeeded_charges(stripe_client, intent_id)) == 1


def test_confirm_api_after_the_lease_holder_died_takes_over_within_the_bound(
    fault_proxy, payer_api, booking, intent_id, make_card, stripe_client, settings
):
    """Issue 13, defect 2: a confirm's process died holding the confirm lease
    after Stripe charged the card. A retry waited out a ~290 s lease, then got
    409. Now the lease is about two Stripe calls long and the waiter finishes
    the job: it reads the intent at Stripe and records the charge. Failed
    before the fix (409)."""
    payment = Payment.objects.get(stripe_payment_intent_id=intent_id)
    # What the dead process left: its card set and charged at Stripe, its lease.
    intent = confirm_at_stripe(stripe_client, payment)
    Payment.objects.filter(pk=payment.pk).update(
        stripe_payment_method_id=intent["payment_method"]
    )
    claimed_at = timezone.now()
    assert _core.claim_lease(payment, "confirm_lease_until", status__in=PRE_CHARGE)
    payment.refresh_from_db()
    attempts = settings.STRIPE_MAX_RETRIES + 1
    one_call = attempts * settings.STRIPE_TIMEOUT_SECONDS + 0.25 + 0.5
    assert payment.confirm_lease_until - claimed_at <= dt.timedelta(
        seconds=2 * one_call + 5 + 1
    )
    # It died a while ago: a second of its lease is left.
    Payment.objects.filter(pk=payment.pk).update(
        confirm_lease_until=timezone.now() + dt.timedelta(seconds=1)
    )

    response = _confirm(payer_api, intent_id, make_card(VISA))

    assert response.status_code == 200, response.content
    assert response.json()["paymentIntent"]["status"] == "succeeded"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.confirm_lease_until is None
    assert len(_succeeded_charges(stripe_client, intent_id)) == 1
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


def test_lease_with_production_settings_is_about_two_stripe_calls(settings):
    settings.STRIPE_TIMEOUT_SECONDS = 10
    settings.STRIPE_MAX_RETRIES = 3
    # 4 attempts of 10 s and 1.75 s of backoff, twice, and a margin: not 290 s.
    assert _core.lease_seconds() == 2 * (40 + 1.75) + 5


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
