"""The Stripe gateway's call policy, against localstripe behind a fault proxy.

Retries of network errors, 5xx and 429 with a bounded count and a per-call
timeout; no retry of a card decline or of a request Stripe refused; every
mutating call carries an idempotency key derived from our own ids, the same
one on every attempt. Objects are counted at the emulator itself.
"""

import time
import uuid

import pytest

from payments import gateway, services
from payments.exceptions import (
    CardDeclined,
    GatewayError,
    ProviderUnavailable,
    StripeObjectMissing,
)
from tests import factories, faultproxy
from tests.payments.conftest import DECLINED_AT_CHARGE, VISA

fault_proxy = faultproxy.fault_proxy  # the fixture, under the name tests ask for


def _metadata(obj) -> dict:
    return obj.to_dict().get("metadata") or {}


def _customers_for_user(stripe_client, user_id: str) -> list:
    return [
        c
        for c in stripe_client.v1.customers.list(
            params={"limit": 100}
        ).auto_paging_iter()
        if _metadata(c).get("user_id") == user_id
    ]


def _intents_with(stripe_client, key: str, value: str) -> list:
    return [
        pi
        for pi in stripe_client.v1.payment_intents.list(
            params={"limit": 100}
        ).auto_paging_iter()
        if _metadata(pi).get(key) == value
    ]


@pytest.fixture
def customer_id(stripe_client) -> str:
    """A customer made at the emulator directly, not through the proxy."""
    return stripe_client.v1.customers.create(params={"email": "payer@example.com"}).id


def _create_intent(customer_id: str, marker: str) -> gateway.IntentResult:
    return gateway.payment_intent_create(
        amount=10000,
        currency="CHF",
        customer_id=customer_id,
        metadata={"test_marker": marker},
        idempotency_key=f"payment:{marker}:create",
    )


# --- Transient errors are retried ----------------------------------------------------


def test_customer_create_two_server_errors_then_success_creates_one_customer(
    fault_proxy, stripe_client
):
    user_id = str(uuid.uuid4())
    fault_proxy.fail_next(2, "http500", path="/v1/customers")

    customer = gateway.customer_create(
        email="retry@example.com",
        name="Retry",
        user_id=user_id,
        idempotency_key=f"user:{user_id}:customer",
    )

    attempts = fault_proxy.requests_to("/v1/customers", "POST")
    assert [a.action for a in attempts] == ["http500", "http500", "pass"]
    assert [c.id for c in _customers_for_user(stripe_client, user_id)] == [customer]


def test_payment_intent_create_two_dropped_connections_then_success_creates_one_intent(
    fault_proxy, stripe_client, customer_id
):
    marker = str(uuid.uuid4())
    fault_proxy.fail_next(2, "drop", path="/v1/payment_intents")

    intent = _create_intent(customer_id, marker)

    attempts = fault_proxy.requests_to("/v1/payment_intents", "POST")
    assert [a.action for a in attempts] == ["drop", "drop", "pass"]
    assert [pi.id for pi in _intents_with(stripe_client, "test_marker", marker)] == [
        intent.id
    ]


def test_payment_intent_create_two_timeouts_then_success_creates_one_intent(
    fault_proxy, stripe_client, customer_id
):
    marker = str(uuid.uuid4())
    fault_proxy.fail_next(2, "hang", path="/v1/payment_intents")

    intent = _create_intent(customer_id, marker)

    attempts = fault_proxy.requests_to("/v1/payment_intents", "POST")
    assert [a.action for a in attempts] == ["hang", "hang", "pass"]
    assert [pi.id for pi in _intents_with(stripe_client, "test_marker", marker)] == [
        intent.id
    ]


def test_customer_create_rate_limited_once_is_retried_and_succeeds(
    fault_proxy, stripe_client
):
    user_id = str(uuid.uuid4())
    fault_proxy.fail_next(1, "http429")

    customer = gateway.customer_create(
        email="busy@example.com",
        name="Busy",
        user_id=user_id,
        idempotency_key=f"user:{user_id}:customer",
    )

    assert [a.action for a in fault_proxy.requests] == ["http429", "pass"]
    assert [c.id for c in _customers_for_user(stripe_client, user_id)] == [customer]


def test_payment_intent_create_retried_attempts_reuse_one_idempotency_key(
    fault_proxy, customer_id
):
    marker = str(uuid.uuid4())
    fault_proxy.fail_next(2, "http500")

    _create_intent(customer_id, marker)

    keys = [a.idempotency_key for a in fault_proxy.requests_to("/v1/payment_intents")]
    assert keys == [f"payment:{marker}:create"] * 3


# --- Retries are bounded ----------------------------------------------------------


def test_customer_create_server_errors_exhausted_raises_provider_unavailable(
    fault_proxy, stripe_client, settings
):
    user_id = str(uuid.uuid4())
    fault_proxy.mode = "http500"

    with pytest.raises(ProviderUnavailable) as caught:
        gateway.customer_create(
            email="down@example.com",
            name="Down",
            user_id=user_id,
            idempotency_key=f"user:{user_id}:customer",
        )

    assert caught.value.http_status == 503
    assert caught.value.code == "provider_unavailable"
    assert int(caught.value.headers["Retry-After"]) > 0
    assert len(fault_proxy.requests) == settings.STRIPE_MAX_RETRIES + 1
    assert _customers_for_user(stripe_client, user_id) == []


def test_payment_intent_retrieve_timeouts_exhausted_raises_provider_unavailable_in_time(
    fault_proxy, customer_id, stripe_client, settings
):
    intent = stripe_client.v1.payment_intents.create(
        params={"amount": 500, "currency": "chf", "customer": customer_id}
    )
    fault_proxy.mode = "hang"

    started = time.monotonic()
    with pytest.raises(ProviderUnavailable) as caught:
        gateway.payment_intent_retrieve(intent.id)
    elapsed = time.monotonic() - started

    attempts = settings.STRIPE_MAX_RETRIES + 1
    assert len(fault_proxy.requests) == attempts
    assert "Retry-After" in caught.value.headers
    # Each attempt waits one timeout; the backoff between them is capped.
    backoff_cap = sum(
        min(gateway._BACKOFF_CAP_SECONDS, gateway._BACKOFF_BASE_SECONDS * 2**n)
        for n in range(attempts - 1)
    )
    assert elapsed >= attempts * settings.STRIPE_TIMEOUT_SECONDS
    assert elapsed < attempts * settings.STRIPE_TIMEOUT_SECONDS + backoff_cap + 2


def test_payment_intent_create_without_retries_fails_after_one_attempt(
    fault_proxy, customer_id, settings
):
    settings.STRIPE_MAX_RETRIES = 0
    fault_proxy.mode = "drop"

    with pytest.raises(ProviderUnavailable):
        _create_intent(customer_id, str(uuid.uuid4()))

    assert len(fault_proxy.requests) == 1


# --- Refusals are not retried -----------------------------------------------------


def test_payment_intent_confirm_card_declined_is_not_retried(
    fault_proxy, customer_id, stripe_client, make_card
):
    intent = stripe_client.v1.payment_intents.create(
        params={
            "amount": 10000,
            "currency": "chf",
            "customer": customer_id,
            "payment_method_types": ["card"],
        }
    )
    card = make_card(DECLINED_AT_CHARGE)

    with pytest.raises(CardDeclined) as caught:
        gateway.payment_intent_confirm(
            intent_id=intent.id,
            payment_method_id=card,
            idempotency_key=f"payment:{intent.id}:confirm:{card}",
        )

    assert caught.value.http_status == 402
    assert caught.value.details["declineCode"]
    assert len(fault_proxy.requests_to(f"/v1/payment_intents/{intent.id}/confirm")) == 1
    charges = stripe_client.v1.charges.list(
        params={"customer": customer_id, "limit": 100}
    ).data
    assert [c.status for c in charges] == ["failed"]


def test_payment_intent_retrieve_unknown_intent_is_not_retried_raises_gateway_error(
    fault_proxy,
):
    with pytest.raises(GatewayError) as caught:
        gateway.payment_intent_retrieve("pi_doesnotexist")

    assert not isinstance(caught.value, ProviderUnavailable)
    assert caught.value.http_status == 502
    assert caught.value.details["http_status"] == 404
    assert len(fault_proxy.requests) == 1


# --- Idempotency keys from our ids --------------------------------------------------


@pytest.mark.django_db
def test_payment_flow_mutating_calls_carry_idempotency_keys_from_our_ids(
    fault_proxy, booking, client_user, make_card
):
    admin = factories.AdminFactory()
    card = make_card(VISA)

    payment, _intent = services.payment_create_intent(
        booking=booking, actor=client_user
    )
    payment, _intent = services.payment_confirm(
        payment=payment, payment_method_id=card, actor=client_user
    )
    refund = services.payment_refund(
        payment=payment, amount=2500, reason="requested_by_customer", actor=admin
    )

    posts = [r for r in fault_proxy.requests if r.method == "POST"]
    assert posts, "the flow made no POST through the proxy"
    assert all(r.idempotency_key for r in posts)
    customer = client_user.stripe_customer.stripe_customer_id
    intent = payment.stripe_payment_intent_id
    assert [(r.path, r.idempotency_key) for r in posts] == [
        ("/v1/customers", f"user:{client_user.pk}:customer"),
        ("/v1/payment_intents", f"payment:{payment.pk}:create"),
        (
            f"/v1/payment_methods/{card}/attach",
            f"pm:{card}:attach:{customer}",
        ),
        (
            f"/v1/payment_intents/{intent}",
            f"payment:{payment.pk}:confirm:{card}:set-method",
        ),
        (
            f"/v1/payment_intents/{intent}/confirm",
            f"payment:{payment.pk}:confirm:{card}",
        ),
        ("/v1/refunds", f"refund:{refund.pk}:create"),
    ]


def test_card_id_stripe_does_not_know_is_not_found_not_a_gateway_failure(fault_proxy):
    # The card id came from outside (Stripe.js or an API client): Stripe's
    # resource_missing (localstripe: a bare 404) is the caller's 404.
    with pytest.raises(StripeObjectMissing) as caught:
        gateway.payment_method_retrieve("pm_doesnotexist")
    assert (caught.value.http_status, caught.value.code) == (404, "not_found")
    assert len(fault_proxy.requests) == 1
