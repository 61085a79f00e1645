"""Several ASGI processes share one Redis channel layer (DESIGN.md "Run modes").

Two uvicorn processes serve ``coaching.asgi:application`` against the test
database and the test's Redis, as production's app processes do behind a
proxy. A socket held by process B hears of changes made in other processes:

- a Stripe webhook posted to process A: A stores it and enqueues it, and a
  Celery worker (production's third kind of process) applies it and
  broadcasts;
- a refund asked of process A's API: A applies it and broadcasts itself;
- a change committed in this test process;

and hears nothing of a change whose transaction rolled back.

Needs PostgreSQL (a database other processes can open) and REDIS_URL:
``DATABASE_URL=postgres://... REDIS_URL=redis://... pytest tests/payments/test_multiprocess.py``.
"""

import contextlib
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from rest_framework_simplejwt.tokens import AccessToken
from websockets.sync.client import connect

from bookings import services as booking_services
from coaching.celery import app as celery_app
from payments import services
from payments.models import Payment, WebhookEvent
from tests.payments.conftest import VISA
from tests.payments.stripe_side import sign_webhook_payload
from tests.processes import LoggedProcess, test_database_url

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not settings.REDIS_URL,
        reason="needs REDIS_URL: processes share the Redis channel layer",
    ),
    # The servers see only committed rows.
    pytest.mark.django_db(transaction=True),
]

START_TIMEOUT = 30.0
DELIVERY_TIMEOUT = 30.0
# How long a rolled-back change is given to (wrongly) arrive.
SILENCE_SECONDS = 1.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AsgiProcess(LoggedProcess):
    def __init__(self, name: str, env: dict, log: Path):
        self.port = _free_port()
        super().__init__(
            name,
            [
                sys.executable,
                "-m",
                "uvicorn",
                "coaching.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--lifespan",
                "off",
                "--log-level",
                "warning",
            ],
            env,
            log,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def is_up(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as answer:
                return answer.status == 200
        except OSError:
            return False

    def post(self, path: str, body: bytes, headers: dict) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=body,
            headers={"Content-Type": "application/json", **headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def process_env(transactional_db, localstripe_url) -> dict:
    """What every child process runs with: this test's database, Redis and
    Stripe, and the environment the tests run with (secret key, hosts)."""
    return {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DB_CONN_MAX_AGE": "0",
        "REDIS_URL": settings.REDIS_URL,
        "STRIPE_API_BASE": localstripe_url,
        "STRIPE_SECRET_KEY": settings.STRIPE_SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": settings.STRIPE_PUBLISHABLE_KEY,
        "STRIPE_WEBHOOK_SECRET": settings.STRIPE_WEBHOOK_SECRET,
        "SECRET_KEY": os.environ["SECRET_KEY"],
        "ALLOWED_HOSTS": os.environ["ALLOWED_HOSTS"],
        "SECURE_SSL_REDIRECT": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
    }


@pytest.fixture
def servers(process_env, tmp_path):
    """Processes A and B, started together."""
    started = [
        AsgiProcess(name, process_env, tmp_path / f"asgi-{name}.log")
        for name in ("A", "B")
    ]
    try:
        for process in started:
            process.wait_for(process.is_up, "answering /healthz")
        yield started
    finally:
        for process in started:
            process.stop()


@pytest.fixture
def worker(process_env, tmp_path):
    """A Celery worker on the default queue, which the servers enqueue to.

    The queue is emptied first: the broker is this test's Redis database, and
    earlier runs may have left messages in it.
    """
    queue = celery_app.conf.task_default_queue
    with celery_app.connection_for_write() as broker:
        broker.default_channel.queue_purge(queue)
    process = LoggedProcess(
        "worker",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "coaching",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            queue,
            "-n",
            f"multiprocess-{uuid.uuid4().hex[:8]}@%h",
        ],
        process_env,
        tmp_path / "worker.log",
    )
    try:
        process.wait_for(lambda: " ready." in process.output(), "worker ready")
        yield process
    finally:
        process.stop()


class Subscriber:
    """A WebSocket on one server, subscribed to one booking."""

    def __init__(self, server: AsgiProcess, user, booking_id):
        self.booking_id = str(booking_id)
        self.stack = contextlib.ExitStack()
        self.socket = self.stack.enter_context(
            connect(
                f"ws://127.0.0.1:{server.port}/ws/payments/",
                origin=server.url,
                additional_headers={
                    "Authorization": f"Bearer {AccessToken.for_user(user)}"
                },
                open_timeout=10,
            )
        )
        self.socket.send(
            json.dumps({"type": "subscribe", "bookingId": self.booking_id})
        )
        self.snapshot = self.next_status()

    def next_status(self, timeout: float = DELIVERY_TIMEOUT) -> dict:
        """The next payment.status message for the booking."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no payment.status within {timeout}s")
            message = json.loads(self.socket.recv(timeout=left))
            if message.get("type") == "payment.status":
                assert message["bookingId"] == self.booking_id
                return message

    def status_where(self, condition, timeout: float = DELIVERY_TIMEOUT) -> dict:
        """The first message satisfying ``condition``; messages come in order."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            try:
                message = self.next_status(timeout=max(deadline - time.monotonic(), 0))
            except TimeoutError:
                pytest.fail(f"no matching message within {timeout}s; got {seen}")
            seen.append(message)
            if condition(message):
                return message

    def nothing_within(self, seconds: float) -> list[dict]:
        """Every message that arrives within ``seconds`` (expected: none)."""
        got = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                got.append(json.loads(self.socket.recv(timeout=left)))
            except TimeoutError:
                break
        return got

    def close(self) -> None:
        self.stack.close()


@pytest.fixture
def subscribe():
    opened: list[Subscriber] = []

    def open_(server, user, booking_id) -> Subscriber:
        opened.append(Subscriber(server, user, booking_id))
        return opened[-1]

    yield open_
    for subscriber in opened:
        subscriber.close()


def signed_event(type_: str, obj: dict) -> tuple[bytes, str]:
    body = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "type": type_,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": obj},
        }
    ).encode()
    signature = sign_webhook_payload(
        body.decode(), secret=settings.STRIPE_WEBHOOK_SECRET, timestamp=int(time.time())
    )
    return body, signature


def test_webhook_to_process_a_reaches_a_socket_on_process_b(
    servers, worker, subscribe, booking, client_user, stripe_client, make_card
):
    process_a, process_b = servers
    # An intent we created, confirmed at Stripe behind our back (as Stripe.js
    # would): only the webhook tells us.
    payment, intent = services.payment_create_intent(booking=booking, actor=client_user)
    card = make_card(VISA)
    stripe_client.v1.payment_methods.attach(
        card, params={"customer": payment.stripe_customer_id}
    )
    stripe_client.v1.payment_intents.update(intent.id, params={"payment_method": card})
    stripe_client.v1.payment_intents.confirm(intent.id)
    succeeded = stripe_client.v1.payment_intents.retrieve(intent.id).to_dict()
    watcher = subscribe(process_b, client_user, booking.pk)
    assert watcher.snapshot["status"] == "requires_payment_method"

    body, signature = signed_event("payment_intent.succeeded", succeeded)
    status, answer = process_a.post(
        "/api/payments/webhook", body, {"Stripe-Signature": signature}
    )

    assert status == 200, answer
    message = watcher.status_where(lambda m: m["bookingStatus"] == "confirmed")
    assert message["status"] == "succeeded"
    assert message["paymentIntentId"] == intent.id
    assert message["version"] > watcher.snapshot["version"]
    # Applied by the worker, which marks the event processed once done.
    worker.wait_for(
        lambda: WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED,
        "event marked processed",
    )
    assert "process_webhook_event" in worker.output()


def test_refund_through_process_a_reaches_a_socket_on_process_b(
    servers, subscribe, booking, client_user, coach, make_card
):
    process_a, process_b = servers
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    services.payment_confirm(
        payment=payment, payment_method_id=make_card(VISA), actor=client_user
    )
    # The coach watches on B, and refunds through A.
    watcher = subscribe(process_b, coach, booking.pk)
    assert watcher.snapshot["status"] == "succeeded"

    status, answer = process_a.post(
        "/api/payments/refund",
        json.dumps(
            {
                "paymentIntentId": payment.stripe_payment_intent_id,
                "amount": 30,
                "reason": "requested_by_customer",
            }
        ).encode(),
        {"Authorization": f"Bearer {AccessToken.for_user(coach)}"},
    )

    assert status == 200, answer
    # First the reservation (a pending refund), then its settlement.
    reserved = watcher.next_status()
    assert reserved["status"] == "succeeded"
    assert reserved["version"] == watcher.snapshot["version"] + 1
    message = watcher.next_status()
    assert message["status"] == "partially_refunded"
    assert message["amountRefunded"] == 30
    assert message["version"] == reserved["version"] + 1
    assert Payment.objects.get(pk=payment.pk).amount_refunded == 3000


def test_rolled_back_change_is_never_broadcast_a_committed_one_is(
    servers, subscribe, booking, client_user
):
    _, process_b = servers
    watcher = subscribe(process_b, client_user, booking.pk)

    class RolledBack(Exception):
        pass

    # This process shares B's Redis: had it committed, B would hear of it.
    with pytest.raises(RolledBack), transaction.atomic():
        booking_services.booking_cancel(booking=booking, actor=client_user)
        raise RolledBack

    assert watcher.nothing_within(SILENCE_SECONDS) == []
    booking.refresh_from_db()
    assert booking.status == "pending_payment"

    # The same change, committed, does arrive: the silence above meant something.
    booking_services.booking_cancel(booking=booking, actor=client_user)
    message = watcher.next_status()
    assert message["bookingStatus"] == "cancelled"
    assert message["version"] == watcher.snapshot["version"] + 1
