"""Hostile and careless input to the payment API: a fast 400 (or 404 for an id
Stripe does not know), never a 5xx, a stall or a change at Stripe or in the
database. Bodies are sent as raw JSON text, so numbers like ``1e400`` reach
the server exactly as an attacker would write them."""

import json
import re

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from payments.models import Payment, Refund, SavedPaymentMethod
from tests.payments.conftest import VISA

pytestmark = pytest.mark.django_db

# JSON texts of values that are not a chargeable amount in CHF.
HOSTILE_AMOUNTS = [
    '"9e999990"',
    "9e999990",  # a JSON number: Python reads it as float infinity
    '"1e999999999"',
    "1e400",
    "-1e400",
    '"1E2"',
    '"\u0663"',  # Arabic-Indic three
    '"\u0661\u0660"',
    '"\uff13"',  # fullwidth three
    '"-5"',
    "-5",
    '"+5"',
    "0",
    '"0"',
    "0.0",
    "100.001",
    '"12.345"',
    '"12."',
    '".5"',
    '"1_0"',
    '"0x10"',
    '"1,5"',
    '" 12"',
    '""',
    '"NaN"',
    '"Infinity"',
    '"' + "9" * 10_000 + '"',
    "1" + "0" * 1000,  # a 1001-digit JSON integer
    "100000000",  # CHF 100,000,000: more than Stripe's maximum charge
    "true",
    "false",
    "null",
    "[]",
    "[1]",
    "{}",
    '{"amount": 1}',
]
HOSTILE_RATES = [
    *[a for a in HOSTILE_AMOUNTS if a not in ("0", '"0"', "0.0")],
    "100.01",
    '"8.123"',
    "101",
]


def as_user(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def post_raw(user, path: str, body: str):
    return as_user(user).post(path, body, content_type="application/json")


def assert_validation_error(response, field: str) -> None:
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "validation_error"
    assert field in json.dumps(body["error"]["details"])


@pytest.fixture
def paid(booking, client_user, make_card):
    api = as_user(client_user)
    intent = api.post(
        "/api/payments/create-intent", {"bookingId": str(booking.pk)}, format="json"
    ).json()["paymentIntent"]["id"]
    response = api.post(
        "/api/payments/confirm",
        {"paymentIntentId": intent, "paymentMethodId": make_card(VISA)},
        format="json",
    )
    assert response.status_code == 200
    return Payment.objects.get(stripe_payment_intent_id=intent)


def _refunds_at_stripe(stripe_client, intent_id: str) -> int:
    page = stripe_client.v1.refunds.list(params={"payment_intent": intent_id})
    return len(page.data)


# --- Refund amount -----------------------------------------------------------------


@pytest.mark.parametrize("amount", HOSTILE_AMOUNTS, ids=lambda a: a[:30])
def test_refund_with_a_hostile_amount_is_400_and_refunds_nothing(
    coach, paid, stripe_client, amount
):
    body = (
        f'{{"paymentIntentId": "{paid.stripe_payment_intent_id}", '
        f'"reason": "requested_by_customer", "amount": {amount}}}'
    )
    response = post_raw(coach, "/api/payments/refund", body)
    assert_validation_error(response, "amount")
    assert not Refund.objects.exists()
    paid.refresh_from_db()
    assert paid.amount_refunded == 0 and paid.status == Payment.Status.SUCCEEDED
    assert _refunds_at_stripe(stripe_client, paid.stripe_payment_intent_id) == 0


_PLAIN_CHF = re.compile(r"[0-9]+(\.[0-9]{1,2})?", re.ASCII)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    amount=st.one_of(
        st.text(max_size=20).filter(lambda t: not _PLAIN_CHF.fullmatch(t)),
        st.floats(min_value=1e6, allow_infinity=False),
        st.floats(max_value=0, allow_infinity=False),
        st.integers(max_value=0),
        st.integers(min_value=10**6),
        st.lists(st.integers(), max_size=2),
    )
)
def test_refund_amounts_that_are_not_plain_amounts_are_400(coach, paid, amount):
    cache.clear()  # the throttle counts every example
    response = as_user(coach).post(
        "/api/payments/refund",
        {
            "paymentIntentId": paid.stripe_payment_intent_id,
            "reason": "requested_by_customer",
            "amount": amount,
        },
        format="json",
    )
    assert response.status_code == 400, response.content[:300]
    assert not Refund.objects.exists()


# --- The price a client sends with create-intent ---------------------------------


@pytest.mark.parametrize("amount", HOSTILE_AMOUNTS, ids=lambda a: a[:30])
@pytest.mark.parametrize("part", ["final", "base"])
def test_create_intent_with_a_hostile_price_amount_is_400(
    booking, client_user, part, amount
):
    body = f'{{"bookingId": "{booking.pk}", "price": {{"{part}": {{"amount": {amount}}}}}}}'
    response = post_raw(client_user, "/api/payments/create-intent", body)
    assert_validation_error(response, "amount")
    assert not Payment.objects.exists()


@pytest.mark.parametrize("rate", HOSTILE_RATES, ids=lambda a: a[:30])
@pytest.mark.parametrize(
    ("part", "key"), [("vat", "rate"), ("platformFee", "percentage")]
)
def test_create_intent_with_a_hostile_rate_is_400(
    booking, client_user, part, key, rate
):
    body = (
        f'{{"bookingId": "{booking.pk}", "price": {{"{part}": {{"{key}": {rate}}}}}}}'
    )
    response = post_raw(client_user, "/api/payments/create-intent", body)
    assert_validation_error(response, key)
    assert not Payment.objects.exists()


def test_create_intent_price_with_more_decimals_than_its_currency_is_400(
    booking, client_user
):
    response = as_user(client_user).post(
        "/api/payments/create-intent",
        {"bookingId": str(booking.pk), "price": {"final": {"amount": "100.001"}}},
        format="json",
    )
    assert_validation_error(response, "price.final.amount")
    assert not Payment.objects.exists()


@pytest.mark.parametrize("price", ["100", [], 12, {"vat": []}, {"final": "100"}])
def test_create_intent_with_a_price_that_is_not_a_price_object_is_400(
    booking, client_user, price
):
    response = as_user(client_user).post(
        "/api/payments/create-intent",
        {"bookingId": str(booking.pk), "price": price},
        format="json",
    )
    assert_validation_error(response, "price")
    assert not Payment.objects.exists()


def test_create_intent_with_the_seed_price_as_strings_is_accepted(booking, client_user):
    response = as_user(client_user).post(
        "/api/payments/create-intent",
        {
            "bookingId": str(booking.pk),
            "price": {
                "final": {"amount": "100.00", "currency": "chf"},
                "vat": {"rate": "8.10", "included": True},
                "platformFee": {"percentage": "15"},
            },
        },
        format="json",
    )
    assert response.status_code == 200, response.json()


# --- Stripe ids from outside ---------------------------------------------------------

HOSTILE_IDS = [
    "123",
    "pm_\u00fc",
    "../v1/charges",
    "x" * 255,
    "pm_" + "x" * 300,
    "",
    12,
]


@pytest.mark.parametrize("pm", HOSTILE_IDS, ids=lambda v: repr(v)[:20])
def test_save_card_with_a_malformed_id_is_400(client_user, pm):
    response = as_user(client_user).post(
        "/api/payments/methods", {"paymentMethodId": pm}, format="json"
    )
    assert_validation_error(response, "paymentMethodId")
    assert not SavedPaymentMethod.objects.exists()


def test_save_card_stripe_does_not_know_is_404(client_user):
    response = as_user(client_user).post(
        "/api/payments/methods", {"paymentMethodId": "pm_doesnotexist"}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert not SavedPaymentMethod.objects.exists()


@pytest.mark.parametrize("pm", HOSTILE_IDS, ids=lambda v: repr(v)[:20])
def test_default_card_with_a_malformed_id_is_400(client_user, pm):
    response = as_user(client_user).post(
        "/api/payments/methods/default", {"paymentMethodId": pm}, format="json"
    )
    assert_validation_error(response, "paymentMethodId")


@pytest.mark.parametrize("pm", ["123", "pm_%C3%BC", "x" * 255, "pm_a.b"])
def test_delete_card_with_a_malformed_id_is_400(client_user, pm):
    response = as_user(client_user).delete(f"/api/payments/methods/{pm}")
    assert_validation_error(response, "methodId")


@pytest.mark.parametrize("field", ["paymentIntentId", "paymentMethodId"])
@pytest.mark.parametrize("bad", HOSTILE_IDS, ids=lambda v: repr(v)[:20])
def test_confirm_with_a_malformed_id_is_400(booking, client_user, field, bad):
    ids = {"paymentIntentId": "pi_abc", "paymentMethodId": "pm_abc"}
    if field == "paymentIntentId" and isinstance(bad, str):
        bad = bad.replace("pm_", "pi_")
    response = as_user(client_user).post(
        "/api/payments/confirm", {**ids, field: bad}, format="json"
    )
    assert_validation_error(response, field)


def test_confirm_with_a_card_stripe_does_not_know_is_404_and_charges_nothing(
    booking, client_user
):
    api = as_user(client_user)
    intent = api.post(
        "/api/payments/create-intent", {"bookingId": str(booking.pk)}, format="json"
    ).json()["paymentIntent"]["id"]
    response = api.post(
        "/api/payments/confirm",
        {"paymentIntentId": intent, "paymentMethodId": "pm_doesnotexist"},
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    payment = Payment.objects.get(stripe_payment_intent_id=intent)
    assert payment.status == Payment.Status.REQUIRES_PAYMENT_METHOD


def test_refund_with_a_malformed_intent_id_is_400(coach):
    response = as_user(coach).post(
        "/api/payments/refund",
        {"paymentIntentId": "../v1/charges", "reason": "duplicate"},
        format="json",
    )
    assert_validation_error(response, "paymentIntentId")


def test_refund_with_a_million_digit_json_integer_is_400(coach, paid):
    # Python's JSON parser refuses integers over 4300 digits before converting
    # them: the request is a malformed body, answered at once.
    body = (
        f'{{"paymentIntentId": "{paid.stripe_payment_intent_id}", '
        f'"reason": "requested_by_customer", "amount": {"9" * 1_000_000}}}'
    )
    response = post_raw(coach, "/api/payments/refund", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("malformed_request", "validation_error")
    assert not Refund.objects.exists()


@pytest.mark.parametrize(
    "path",
    ["/api/payments/create-intent", "/api/payments/refund", "/api/bookings/"],
)
def test_a_body_nested_past_the_parsers_recursion_limit_is_400(client_user, path):
    # "[[[[...]]]]" raises RecursionError in json.loads, which is no
    # ValueError: it used to reach the server as a 500.
    body = "[" * 100_000 + "]" * 100_000
    response = post_raw(client_user, path, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"
