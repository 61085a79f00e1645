"""/healthz is liveness only; /readyz reports each dependency."""

import pytest

from payments import gateway

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_touching_the_database(
    client, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"success": True, "status": "ok"}


def test_readyz_reports_database_redis_and_stripe_as_last_seen(client, localstripe_url):
    gateway.payment_method_retrieve("pm_card_visa")  # a call that reaches Stripe

    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert set(body["checks"]) == {"database", "redis", "stripe"}
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    assert body["checks"]["stripe"]["status"] == "ok"
    assert body["checks"]["stripe"]["required"] is False
