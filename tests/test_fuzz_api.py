"""Schema fuzzing: every operation of ``/api/schema/``, driven by schemathesis.

For each operation schemathesis generates requests from the schema (valid and
invalid ones) and every request is sent three times: as an anonymous caller, as
a client and as a coach, each logged in through ``/api/auth/login/``. The
client and the coach also send each request a second time with the ids in it
replaced by real objects of theirs (a paid booking, its Stripe intent, a saved
card, their user id), so the fuzzed fields reach the code behind the lookups.
The objects are real: bookings, payments and cards made at the Stripe emulator.

Every response must:
- not be a 5xx;
- have a status code, content type, headers and body that the schema documents
  (so the schema must describe every field the API returns);
- come back within ``STALL_SECONDS``: a generous bound that catches a request
  that stalls the server (as ``Decimal`` arithmetic on ``"9e999990"`` did), not
  a benchmark.

Examples are bounded and derandomized, so a run is repeatable and takes about
a minute. The webhook is not in the schema (Stripe's own format, signed): its
hostile inputs are tested in tests/payments/test_webhooks.py.
"""

import itertools
import json
from dataclasses import dataclass, field

import pytest
import schemathesis
import stripe
from django.conf import settings as django_settings
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    missing_required_header,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from bookings import services as booking_services
from payments import services as payment_services
from tests import factories
from tests.payments.conftest import VISA, next_slot

MAX_EXAMPLES = 15
STALL_SECONDS = 5.0
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    unsupported_method,
    allow_header_conformance,
    missing_required_header,
]
# Not negative_data_rejection: DRF reads the number 0 as the string "0" where
# a string is expected, which that check counts as accepting invalid data, and
# the real ids put into a case can make an invalid case valid.

schema = schemathesis.openapi.from_wsgi(
    "/api/schema/?format=json", get_wsgi_application()
)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Requests reach Django through WSGI, as under a real server; Django would
    then close the database connection after each request, which inside the
    test's transaction ends the test. Django's test client does the same."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@dataclass
class Caller:
    """One role: who, a token and the ids of objects that are theirs."""

    email: str | None
    ids: dict[str, str] = field(default_factory=dict)
    token: str | None = None

    def headers(self, case) -> dict[str, str]:
        if self.email is None:
            return {}
        if self.token is None:
            self.token = _login(case, self.email)
        return {"Authorization": f"Bearer {self.token}"}


def _login(case, email: str) -> str:
    login = schema["/api/auth/login/"]["POST"].Case(
        body={"email": email, "password": factories.PASSWORD}
    )
    cache.clear()
    response = login.call()
    assert response.status_code == 200, response.text
    return response.json()["access"]


def _paid_booking(client, offering, stripe_client, days: int):
    booking = booking_services.booking_create(
        client=client, offering=offering, starts_at=next_slot(days), actor=client
    )
    payment, _intent = payment_services.payment_create_intent(
        booking=booking, actor=client
    )
    card = stripe_client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": VISA, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    payment, _intent = payment_services.payment_confirm(
        payment=payment, payment_method_id=card.id, actor=client
    )
    return booking, payment


@pytest.fixture
def callers(db, localstripe_url):
    """Anonymous, a client with a paid booking and a saved card, and its coach."""
    stripe_client = stripe.StripeClient(
        django_settings.STRIPE_SECRET_KEY, base_addresses={"api": localstripe_url}
    )
    client = factories.ClientFactory(email="fuzz-client@example.com")
    coach = factories.CoachFactory(email="fuzz-coach@example.com")
    offering = factories.OfferingFactory(coach=coach)
    booking, payment = _paid_booking(client, offering, stripe_client, days=3)
    # A second booking still on hold: something to pay, cancel and look up.
    held = booking_services.booking_create(
        client=client, offering=offering, starts_at=next_slot(4), actor=client
    )
    card = stripe_client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": VISA, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    payment_services.payment_method_attach(
        user=client, payment_method_id=card.id, make_default=True, actor=client
    )
    return {
        "anonymous": Caller(None),
        "client": Caller(
            client.email,
            {
                "booking": str(booking.pk),
                "held_booking": str(held.pk),
                "intent": payment.stripe_payment_intent_id,
                "card": card.id,
                "user": str(client.pk),
                "offering": str(offering.pk),
            },
        ),
        "coach": Caller(
            coach.email,
            {
                "booking": str(booking.pk),
                "held_booking": str(held.pk),
                "intent": payment.stripe_payment_intent_id,
                "card": card.id,
                "user": str(coach.pk),
                "offering": str(offering.pk),
            },
        ),
    }


_SLOTS = itertools.count()
_BODY_IDS = {
    "bookingId": "held_booking",
    "paymentIntentId": "intent",
    "paymentMethodId": "card",
    "offeringId": "offering",
}


def _with_own_ids(case, ids: dict[str, str]) -> bool:
    """Put the caller's real ids where the case has ids; False if it has none."""
    changed = False
    path = case.operation.path
    for name in list(case.path_parameters or {}):
        if name == "booking_id":
            case.path_parameters[name] = ids["booking"]
        elif name == "item_id":
            is_user = case.method.upper() == "GET"
            case.path_parameters[name] = ids["user"] if is_user else ids["card"]
        else:
            continue
        changed = True
    if isinstance(case.body, dict):
        for key, role_key in _BODY_IDS.items():
            if key in case.body:
                case.body[key] = ids[role_key]
                changed = True
        if path.endswith("/bookings/") and "startsAt" in case.body:
            # A new slot each time (deterministic, unlike uuid4), so not every
            # booking after the first is a 409 slot_taken.
            starts = next_slot(5 + next(_SLOTS) % 60)
            case.body["startsAt"] = starts.isoformat()
    return changed


def _send(case, caller: Caller, role: str) -> None:
    cache.clear()  # throttles would turn the run into a wall of 429s
    response = case.call(headers=caller.headers(case))
    if response.status_code == 401 and caller.email is not None:
        # A fuzzed logout may have ended this token's session: log in again.
        caller.token = None
    elapsed = response.elapsed  # seconds
    assert elapsed < STALL_SECONDS, (
        f"{case.operation.label} as {role} took {elapsed:.1f} s: "
        f"{case.path_parameters} {case.query} {case.body!r}"
    )
    case.validate_response(response, checks=CHECKS)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_as_every_role(case, callers):
    for role, caller in callers.items():
        _send(case, caller, role)
    for role in ("client", "coach"):
        caller = callers[role]
        if _with_own_ids(case, caller.ids):
            _send(case, caller, role)


# Inputs that once stalled or crashed the server (issue 10), sent with the
# caller's real ids so they reach the parsers behind the lookups. Schemathesis
# rarely draws these strings by itself; here they run on every build.
HOSTILE = [
    ("/api/payments/refund/", {"amount": "9e999990"}),
    ("/api/payments/refund/", {"amount": "1e999999999"}),
    ("/api/payments/refund/", {"amount": "٣"}),
    ("/api/payments/refund/", {"amount": "0.001"}),
    ("/api/payments/create-intent/", {"price": {"final": {"amount": "9e999990"}}}),
    ("/api/payments/create-intent/", {"price": {"vat": {"rate": "1e999999999"}}}),
    ("/api/payments/create-intent/", {"price": {"platformFee": {"percentage": "٣"}}}),
    ("/api/payments/methods/", {"paymentMethodId": "pm_doesnotexist"}),
    ("/api/payments/methods/", {"paymentMethodId": "123"}),
    ("/api/payments/methods/", {"paymentMethodId": "pm_ü"}),
    ("/api/payments/methods/", {"paymentMethodId": "../v1/charges"}),
    ("/api/payments/methods/", {"paymentMethodId": "x" * 255}),
    ("/api/payments/confirm/", {"paymentMethodId": "pm_doesnotexist"}),
    ("/api/payments/confirm/", {"paymentMethodId": "../v1/charges"}),
]


def _hostile_body(path: str, hostile: dict, ids: dict[str, str]) -> dict:
    base = {
        "/api/payments/refund/": {
            "paymentIntentId": ids["intent"],
            "reason": "requested_by_customer",
        },
        "/api/payments/create-intent/": {"bookingId": ids["held_booking"]},
        "/api/payments/methods/": {},
        "/api/payments/confirm/": {"paymentIntentId": ids["intent"]},
    }[path]
    return base | hostile


@pytest.mark.parametrize(
    ("path", "hostile"), HOSTILE, ids=[f"{p} {json.dumps(h)[:40]}" for p, h in HOSTILE]
)
def test_hostile_inputs_are_refused_quickly(path, hostile, callers):
    operation = schema[path]["POST"]
    for role in ("client", "coach"):
        body = _hostile_body(path, hostile, callers[role].ids)
        case = operation.Case(body=body, media_type="application/json")
        _send(case, callers[role], role)
