"""/metrics: protected, and counting what operations alert on."""

import re

import pytest
from rest_framework.test import APIClient

from payments.models import WebhookEvent
from tests.payments.conftest import DECLINED_AT_CHARGE, VISA

pytestmark = pytest.mark.django_db

TOKEN = "metrics-test-token"


@pytest.fixture(autouse=True)
def _token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client, token=TOKEN) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    return response.content.decode()


def value(text: str, name: str, **labels: str) -> float:
    label_text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(name + (f"{{{label_text}}}" if labels else "")) + r" (\S+)"
    found = re.search(r"^" + pattern + "$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Token {TOKEN}"])
def test_metrics_without_the_token_or_staff_is_401(client, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_metrics_for_a_client_session_is_401_and_for_staff_200(
    client, client_user, admin_user
):
    client.force_login(client_user)
    assert client.get("/metrics").status_code == 401
    client.force_login(admin_user)
    assert client.get("/metrics").status_code == 200


def test_metrics_count_payments_declines_stripe_calls_and_webhooks(
    client, client_user, booking, make_card, make_booking
):
    before = scrape(client)
    api = APIClient()
    api.force_authenticate(client_user)
    for target, card in ((booking, VISA), (make_booking(days=5), DECLINED_AT_CHARGE)):
        intent = api.post(
            "/api/payments/create-intent", {"bookingId": str(target.pk)}, format="json"
        ).json()["paymentIntent"]
        api.post(
            "/api/payments/confirm",
            {"paymentIntentId": intent["id"], "paymentMethodId": make_card(card)},
            format="json",
        )
    WebhookEvent.objects.create(
        stripe_event_id="evt_metrics", type="x", payload={}, status="dead"
    )

    after = scrape(client)

    assert value(after, "coaching_payments", status="succeeded") == 1
    assert value(after, "coaching_payment_declines_total", code="card_declined") == 1
    assert value(after, "coaching_webhook_events", status="dead") == 1
    assert value(after, "coaching_webhook_events_received_total") >= 1
    calls = "coaching_stripe_calls_total"
    for operation, outcome in (
        ("payment_intent.create", "ok"),
        ("payment_intent.confirm", "ok"),
        ("payment_intent.confirm", "declined"),
    ):
        assert value(after, calls, operation=operation, outcome=outcome) > value(
            before, calls, operation=operation, outcome=outcome
        ), after
    assert "coaching_stripe_call_seconds_bucket" in after
    assert "coaching_payments_stuck 0.0" in after
    assert "coaching_reconciliation_fixes_total" in after
    assert "coaching_websockets_open" in after
