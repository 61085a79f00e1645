"""The bench's baseline views: off (404) unless BENCH_BASELINES, and then the
floor they claim to be (one verified insert; authentication only)."""

import json
import time
import uuid

import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from payments.models import WebhookEvent
from tests.payments.stripe_side import sign_webhook_payload

pytestmark = pytest.mark.django_db


def _signed(client, event_id: str):
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": {"id": "pi_x", "object": "payment_intent"}},
        }
    )
    signature = sign_webhook_payload(
        body, secret=settings.STRIPE_WEBHOOK_SECRET, timestamp=int(time.time())
    )
    return client.post(
        "/bench/webhook",
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )


def test_baselines_are_404_unless_turned_on(client, client_user):
    assert _signed(client, "evt_off").status_code == 404
    api = APIClient()
    api.force_authenticate(client_user)
    assert api.get("/bench/auth").status_code == 404
    assert not WebhookEvent.objects.exists()


def test_webhook_baseline_verifies_and_inserts_one_row(
    client, settings, django_assert_num_queries
):
    settings.BENCH_BASELINES = True
    event_id = f"evt_{uuid.uuid4().hex[:20]}"
    with django_assert_num_queries(1):
        assert _signed(client, event_id).status_code == 200
    assert WebhookEvent.objects.get().stripe_event_id == event_id
    bad = client.post(
        "/bench/webhook",
        "{}",
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE="x",
    )
    assert bad.status_code == 400


def test_auth_baseline_authenticates_like_the_status_api(settings, client_user):
    settings.BENCH_BASELINES = True
    api = APIClient()
    assert api.get("/bench/auth").status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(client_user)}")
    response = api.get("/bench/auth")
    assert response.status_code == 200
    assert response.json()["userId"] == str(client_user.pk)
