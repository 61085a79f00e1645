"""Stripe Connect request shapes, against fixture answers (localstripe has no
Connect): destination charges carry ``transfer_data[destination]`` and
``application_fee_amount``; refunds reverse the transfer and give back the
fee only under the proportional refund-fee rule.

A small HTTP server stands in for api.stripe.com: the real SDK talks to it
through ``STRIPE_API_BASE``, it records each request's form fields and
answers with the JSON in ``fixtures/stripe_connect/``.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from bookings.models import Booking, RefundFeeRule
from payments import gateway, services
from payments.models import LedgerEntry, Payment
from tests.payments.test_balances import make_coach, pay

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "stripe_connect"


@pytest.fixture
def stripe_fixture_server(settings):
    seen: list[tuple[str, str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            seen.append(("POST", self.path, form))
            name = (
                "refund.json"
                if self.path.startswith("/v1/refunds")
                else ("payment_intent.json")
            )
            body = json.loads((FIXTURES / name).read_text())
            if "amount" in form:
                body["amount"] = int(form["amount"])
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Request-Id", f"req_fixture_{len(seen)}")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_port}"
    settings.STRIPE_SECRET_KEY = "sk_test_fixture"
    yield seen
    server.shutdown()
    server.server_close()


def test_destination_charge_sends_transfer_data_and_application_fee(
    stripe_fixture_server,
):
    intent = gateway.payment_intent_create(
        amount=10000,
        currency="CHF",
        customer_id="cus_ConnectFixture",
        metadata={"payment_id": "p1"},
        idempotency_key="payment:p1:create",
        destination_account_id="acct_1ConnectFixture",
        application_fee_amount=1500,
    )
    assert intent.id == "pi_3QConnectFixture0001"
    (method, path, form) = stripe_fixture_server[-1]
    assert (method, path) == ("POST", "/v1/payment_intents")
    assert form["transfer_data[destination]"] == "acct_1ConnectFixture"
    assert form["application_fee_amount"] == "1500"
    assert form["amount"] == "10000" and form["currency"] == "chf"


@pytest.mark.parametrize(
    ("rule", "fee_back", "ledger_fee_back"),
    [
        (RefundFeeRule.PROPORTIONAL, "true", -600),
        (RefundFeeRule.PLATFORM_KEEPS, "false", 0),
    ],
)
def test_refund_of_a_destination_charge_reverses_the_transfer(
    stripe_fixture_server, rule, fee_back, ledger_fee_back
):
    coach, offering = make_coach(rule)
    payment = pay(offering)
    Payment.objects.filter(pk=payment.pk).update(
        stripe_payment_intent_id="pi_3QConnectFixture0001",
        stripe_destination_account_id="acct_1ConnectFixture",
    )
    payment.refresh_from_db()
    assert Booking.objects.get(pk=payment.booking_id).refund_fee_rule == rule

    services.payment_refund(
        payment=payment, amount=4000, reason="requested_by_customer", actor=coach
    )

    (method, path, form) = stripe_fixture_server[-1]
    assert (method, path) == ("POST", "/v1/refunds")
    assert form["reverse_transfer"] == "true"
    assert form["refund_application_fee"] == fee_back
    assert form["amount"] == "4000"
    # Our ledger books the same split as the fee Stripe gives back.
    reversal = LedgerEntry.objects.get(
        payment=payment, kind=LedgerEntry.Kind.PLATFORM_FEE_REVERSAL
    )
    assert reversal.amount == ledger_fee_back


def test_refund_without_connect_sends_no_connect_fields(stripe_fixture_server):
    coach, offering = make_coach()
    payment = pay(offering)
    Payment.objects.filter(pk=payment.pk).update(
        stripe_payment_intent_id="pi_3QConnectFixture0001"
    )
    payment.refresh_from_db()
    services.payment_refund(
        payment=payment, amount=1000, reason="requested_by_customer", actor=coach
    )
    form = stripe_fixture_server[-1][2]
    assert "reverse_transfer" not in form and "refund_application_fee" not in form
