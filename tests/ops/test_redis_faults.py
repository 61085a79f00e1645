"""Redis down or frozen (issue 13, defect 4).

Redis carries the throttle counters, the login lockout, the channel layer and
the Celery broker. Stopped, every throttled endpoint answered 500; frozen
(SIGSTOP: connections accepted, never answered), requests hung. Now the
limits fail open (logged and counted), broadcasts are dropped and logged, and
every client gives up after REDIS_TIMEOUT_SECONDS, so the product keeps taking
bookings and payments. Each test runs against a redis-server of its own.
"""

import os
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from coaching import metrics
from coaching.settings import redis_cache, redis_channel_layer
from payments.models import Payment
from tests.factories import PASSWORD
from tests.payments.conftest import VISA, next_slot

pytestmark = [pytest.mark.redis, pytest.mark.django_db]

LOGIN = "/api/auth/login/"
# A frozen Redis is thawed after this long whatever happens, so the test ends
# even if the code under test would wait forever (it did before the fix).
WATCHDOG_SECONDS = 25.0
# Generous: the timeouts are 1 s; before the fix a request waited until thawed.
FROZEN_BOUND_SECONDS = 12.0


@pytest.fixture
def on_private_redis(settings, private_redis):
    """Point the cache and the channel layer at the test's own redis-server."""
    settings.CACHES = {"default": redis_cache(private_redis.url, timeout=1.0)}
    settings.CHANNEL_LAYERS = {
        "default": redis_channel_layer(private_redis.url, timeout=1.0)
    }
    from coaching import cache as fail_open_cache

    fail_open_cache._down_until.clear()
    return private_redis


def as_user(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def cache_errors() -> float:
    return sum(
        sample.value
        for metric in metrics.CACHE_ERRORS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


def _journey(client_user, booking, make_card, capture):
    """Log in (wrong, then right password), pay, and the coach refunds: the throttled and
    broadcasting endpoints. Returns the status codes seen."""
    anonymous = APIClient()
    wrong = anonymous.post(
        LOGIN, {"email": client_user.email, "password": "wrong-pw"}, format="json"
    )
    right = anonymous.post(
        LOGIN, {"email": client_user.email, "password": PASSWORD}, format="json"
    )
    api = as_user(client_user)
    created = api.post(
        "/api/bookings/",
        {
            "offeringId": str(booking.offering_id),
            "startsAt": next_slot(days=4).isoformat(),
        },
        format="json",
    )
    intent = api.post(
        "/api/payments/create-intent", {"bookingId": str(booking.pk)}, format="json"
    )
    with capture(execute=True):  # broadcasts go out on commit
        confirm = api.post(
            "/api/payments/confirm",
            {
                "paymentIntentId": intent.json()["paymentIntent"]["id"],
                "paymentMethodId": make_card(VISA),
            },
            format="json",
        )
    # A partial refund is the coach's goodwill (the payer's only refund is
    # cancelling).
    with capture(execute=True):
        refund = as_user(booking.coach).post(
            "/api/payments/refund",
            {
                "paymentIntentId": intent.json()["paymentIntent"]["id"],
                "amount": 10,
                "reason": "requested_by_customer",
            },
            format="json",
        )
    return {
        "login_wrong": wrong.status_code,
        "login": right.status_code,
        "booking_create": created.status_code,
        "create_intent": intent.status_code,
        "confirm": confirm.status_code,
        "refund": refund.status_code,
    }


EXPECTED = {
    "login_wrong": 400,
    "login": 200,
    "booking_create": 201,
    "create_intent": 200,
    "confirm": 200,
    "refund": 200,
}


def test_redis_stopped_throttled_endpoints_fail_open_and_money_still_moves(
    on_private_redis,
    client_user,
    booking,
    make_card,
    django_capture_on_commit_callbacks,
):
    on_private_redis.stop()
    before = cache_errors()

    codes = _journey(
        client_user, booking, make_card, django_capture_on_commit_callbacks
    )

    assert codes == EXPECTED
    assert cache_errors() > before  # failing open is counted
    payment = Payment.objects.get(booking=booking)
    assert payment.status == "partially_refunded"
    assert payment.amount_refunded == 1000


def test_redis_frozen_requests_give_up_within_seconds(
    on_private_redis,
    client_user,
    booking,
    make_card,
    django_capture_on_commit_callbacks,
):
    on_private_redis.freeze()
    watchdog = threading.Timer(WATCHDOG_SECONDS, on_private_redis.thaw)
    watchdog.start()
    try:
        started = time.monotonic()
        codes = _journey(
            client_user, booking, make_card, django_capture_on_commit_callbacks
        )
        elapsed = time.monotonic() - started
        still_frozen = on_private_redis.frozen
    finally:
        watchdog.cancel()
        on_private_redis.thaw()

    assert still_frozen, "the watchdog had to thaw Redis: a request waited on it"
    assert codes == EXPECTED
    assert elapsed < FROZEN_BOUND_SECONDS


def test_redis_back_after_outage_limits_apply_again(on_private_redis, settings):
    """Failing open is temporary: once Redis answers, the lockout counts again."""
    from accounts import throttling
    from accounts.exceptions import LoginRateLimited
    from coaching import cache as fail_open_cache

    settings.LOGIN_FAILURE_LIMIT = 2
    on_private_redis.freeze()
    watchdog = threading.Timer(WATCHDOG_SECONDS, on_private_redis.thaw)
    watchdog.start()
    try:
        throttling.login_failure_record(email="a@example.com", client_ip=None)
    finally:
        watchdog.cancel()
        on_private_redis.thaw()
    fail_open_cache._down_until.clear()  # skip the 5 s pause before retrying

    for _ in range(2):
        throttling.login_failure_record(email="a@example.com", client_ip=None)
    with pytest.raises(LoginRateLimited):
        throttling.login_lockout_check(email="a@example.com", client_ip=None)


CELERY_ENQUEUE = """
import time, django
django.setup()
from payments.tasks import process_webhook_event
started = time.monotonic()
try:
    process_webhook_event.delay(1)
    outcome = "enqueued"
except Exception as exc:
    outcome = type(exc).__name__
print(outcome, round(time.monotonic() - started, 2))
"""


@pytest.mark.parametrize("fault", ["stopped", "frozen"])
def test_celery_enqueue_with_redis_down_gives_up_within_seconds(private_redis, fault):
    """Webhooks enqueue their processing on commit inside the request: an
    unreachable broker must cost seconds, and the caller gets an exception it
    logs (the event stays pending; retry_failed_webhooks applies it later)."""
    if fault == "stopped":
        private_redis.stop()
    else:
        private_redis.freeze()
    env = {
        **os.environ,
        "REDIS_URL": private_redis.url,
        "DJANGO_SETTINGS_MODULE": "coaching.settings",
    }
    try:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", CELERY_ENQUEUE],
            cwd=django_settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=WATCHDOG_SECONDS * 2,
        )
        elapsed = time.monotonic() - started
    finally:
        private_redis.thaw()
    assert done.returncode == 0, done.stderr
    outcome, seconds = done.stdout.split()
    assert outcome != "enqueued"
    assert float(seconds) < FROZEN_BOUND_SECONDS, (elapsed, done.stdout)
