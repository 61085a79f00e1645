"""Processes killed mid-payment (issue 13, defects 2 and 6, on real processes).

- A granian web worker (the deploy/Procfile command, 2 workers) is killed
  with SIGKILL while it waits for Stripe's answer to a confirm that charged
  the card (the fault proxy holds the answer). The payer retries on the
  server, which another worker answers: once the dead worker's confirm
  lease (about two Stripe calls) runs out, that worker reads the intent at
  Stripe and records the charge. Before the fix it waited ~290 s and got 409.
- A Celery worker is killed with SIGKILL while it applies a webhook event
  (held at its Stripe read by the proxy). Another worker applies the event
  once the dead worker's processing lease runs out, on the next
  ``retry_failed_webhooks`` (beat's job, sent here every second).

Each ends with the money invariants (tests/ops/invariants.py). Runs on CI's
PostgreSQL + Redis leg: the processes share the test database and Redis.
"""

import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from coaching.celery import app as celery_app
from payments import services
from payments.models import Payment, WebhookEvent
from payments.services.events import webhook_event_store
from payments.tasks import process_webhook_event, retry_failed_webhooks
from tests import faultproxy
from tests.ops.conftest import free_port, web_command
from tests.ops.invariants import assert_money_invariants
from tests.payments.conftest import VISA
from tests.payments.stripe_side import confirm_at_stripe, intent_event
from tests.processes import LoggedProcess, test_database_url

fault_proxy = faultproxy.fault_proxy  # the fixture, under the name tests ask for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    # The processes see only committed rows.
    pytest.mark.django_db(transaction=True),
]

# Generous bounds for slow shared machines; a pass takes seconds.
START_TIMEOUT = 60.0
HEAL_TIMEOUT = 90.0
# The children's Stripe policy: one attempt of 2 s, so leases are short.
CHILD_STRIPE = {"STRIPE_TIMEOUT_SECONDS": "2", "STRIPE_MAX_RETRIES": "0"}


@pytest.fixture
def child_env(transactional_db, fault_proxy) -> dict:
    """The product processes' environment: this test's database and Redis,
    Stripe behind this test's fault proxy."""
    return {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DB_CONN_MAX_AGE": "0",
        "REDIS_URL": settings.REDIS_URL,
        "STRIPE_API_BASE": fault_proxy.url,
        "STRIPE_SECRET_KEY": settings.STRIPE_SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": settings.STRIPE_PUBLISHABLE_KEY,
        "STRIPE_WEBHOOK_SECRET": settings.STRIPE_WEBHOOK_SECRET,
        "SECURE_SSL_REDIRECT": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        **CHILD_STRIPE,
    }


def _descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(
                stat.read_text().rsplit(")", 1)[1].split()[1]
            )
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def _talking_to(port: int, pids: set[int]) -> int | None:
    """Which of ``pids`` has a TCP connection to local ``port`` (the proxy)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    for pid in pids:
        try:
            links = {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
        except OSError:
            continue
        if links & inodes:
            return pid
    return None


def _post(url: str, path: str, body: dict, token: str) -> tuple[int | None, dict]:
    request = urllib.request.Request(
        f"{url}{path}",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=HEAL_TIMEOUT) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except OSError:
        return None, {}  # the connection died with the worker


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def test_web_worker_killed_mid_confirm_retry_on_another_worker_records_the_charge(
    child_env, fault_proxy, booking, client_user, make_card, stripe_client, tmp_path
):
    payment, intent = services.payment_create_intent(booking=booking, actor=client_user)
    body = {"paymentIntentId": intent.id, "paymentMethodId": make_card(VISA)}
    token = str(AccessToken.for_user(client_user))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    web = LoggedProcess(
        "web", web_command(port, workers=2), child_env, tmp_path / "web.log"
    )
    try:
        web.wait_for(lambda: _healthy(url), "answering /healthz", START_TIMEOUT)
        # Stripe charges the card; its answer never reaches the worker.
        fault_proxy.fail("hang_after", times=1, path="/confirm", method="POST")
        first: dict = {}
        caller = threading.Thread(
            target=lambda: first.update(
                answer=_post(url, "/api/payments/confirm", body, token)
            ),
            daemon=True,
        )
        caller.start()
        web.wait_for(
            lambda: fault_proxy.requests_to("/confirm", "POST"),
            "the confirm reaching Stripe",
            START_TIMEOUT,
        )
        proxy_port = urlsplit(fault_proxy.url).port
        holder = _talking_to(proxy_port, _descendants(web.popen.pid))
        assert holder is not None, web.output()
        os.kill(holder, signal.SIGKILL)
        caller.join(HEAL_TIMEOUT)
        assert first["answer"][0] in (None, 500, 502, 503), first
        payment.refresh_from_db()
        assert payment.status == Payment.Status.REQUIRES_CONFIRMATION
        assert payment.confirm_lease_until is not None  # the dead worker's

        status, answer = _post(url, "/api/payments/confirm", body, token)

        assert status == 200, (answer, web.output())
        assert answer["paymentIntent"]["status"] == "succeeded"
        assert answer["payment"]["status"] == "succeeded"
    finally:
        web.stop()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.confirm_lease_until is None
    assert len(fault_proxy.requests_to("/confirm", "POST")) == 1
    assert_money_invariants(stripe_client, [booking])


def _celery_worker(name: str, queue: str, env: dict, log: Path) -> LoggedProcess:
    worker = LoggedProcess(
        name,
        [
            sys.executable, "-m", "celery", "-A", "coaching", "worker",
            "--pool=solo", "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-Q", queue, "-n", f"{name}-{queue}@%h",
            "--", f"task.default_queue={queue}",
        ],
        env,
        log,
    )  # fmt: skip
    worker.wait_for(lambda: " ready." in worker.output(), "worker start", START_TIMEOUT)
    return worker


def test_celery_worker_killed_mid_event_another_worker_applies_it(
    child_env, fault_proxy, booking, client_user, stripe_client, tmp_path, settings
):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    confirm_at_stripe(stripe_client, payment)
    event = intent_event(stripe_client, payment.stripe_payment_intent_id)
    # A thin event (no metadata): the worker reads the intent at Stripe, where
    # the proxy holds it, so it is mid-event when it is killed.
    event.payload["data"]["object"].pop("metadata", None)
    row, _ = webhook_event_store(event=event)
    fault_proxy.fail("hang", path="/v1/payment_intents/", method="GET")
    queue = f"test-faults-{uuid.uuid4().hex[:12]}"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    workers: list[LoggedProcess] = []
    try:
        workers.append(_celery_worker("one", queue, child_env, tmp_path / "one.log"))
        process_webhook_event.delay(row.pk)
        workers[0].wait_for(
            lambda: fault_proxy.requests_to("/v1/payment_intents/", "GET"),
            "the worker reading the intent",
            START_TIMEOUT,
        )
        workers[0].popen.send_signal(signal.SIGKILL)
        workers[0].popen.wait(timeout=10)
        row.refresh_from_db()
        assert row.status == WebhookEvent.Status.PENDING
        assert row.locked_until is not None  # the dead worker's lease
        fault_proxy.heal()

        workers.append(_celery_worker("two", queue, child_env, tmp_path / "two.log"))

        def applied() -> bool:
            # What beat does every minute; here every second.
            retry_failed_webhooks.delay()
            time.sleep(1)
            return (
                WebhookEvent.objects.get(pk=row.pk).status
                == WebhookEvent.Status.PROCESSED
            )

        workers[1].wait_for(applied, "the event applied", HEAL_TIMEOUT)
    finally:
        for worker in workers:
            worker.stop()
        with celery_app.connection_for_write() as broker:
            broker.default_channel.queue_delete(queue)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert_money_invariants(stripe_client, [booking])
