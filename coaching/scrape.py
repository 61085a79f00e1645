"""``/metrics``: Prometheus text format, for a bearer token or staff.

Two sources (README.md, Operations):

- business state read from the database at scrape time, the same whichever
  process answers: payments by status, declines by code, stuck payments,
  webhook events by status, the age of the oldest unapplied event and the lag
  from receipt to applied, reconciliation fixes, the Celery queue's length;
- per-process counters of ``coaching/metrics.py`` (Stripe calls, latency,
  retries, cache and database outages, open WebSockets), added up over the
  host's processes when ``PROMETHEUS_MULTIPROC_DIR`` is set.
"""

import hmac
import logging
import os
from datetime import timedelta
from pathlib import Path

import redis
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from kombu.transport.redis import Channel as RedisChannel
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from coaching.api_errors import error_body
from coaching.celery import app as celery_app
from payments.models import (
    Payment,
    PaymentStatus,
    PaymentTransition,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

# Payments not final and untouched this long are "stuck" (alert on it).
STUCK_AFTER = timedelta(minutes=30)
# The receipt-to-applied lag is taken over the events applied this recently.
LAG_WINDOW = timedelta(minutes=15)
_PRE_FINAL = [
    PaymentStatus.REQUIRES_PAYMENT_METHOD,
    PaymentStatus.REQUIRES_CONFIRMATION,
    PaymentStatus.REQUIRES_ACTION,
    PaymentStatus.PROCESSING,
]


class DatabaseCollector:
    """Business gauges and totals computed from the database at scrape time."""

    def collect(self):
        now = timezone.now()
        payments = GaugeMetricFamily(
            "coaching_payments", "Payments by status.", labels=["status"]
        )
        counts = dict(
            Payment.objects.values_list("status").annotate(n=Count("pk")).order_by()
        )
        for status in PaymentStatus.values:
            payments.add_metric([status], counts.get(status, 0))
        yield payments

        declines = CounterMetricFamily(
            "coaching_payment_declines",
            "Failed payments by the decline or error code Stripe gave.",
            labels=["code"],
        )
        for code, n in (
            Payment.objects.filter(status=PaymentStatus.FAILED)
            .values_list("last_error_code")
            .annotate(n=Count("pk"))
            .order_by()
        ):
            declines.add_metric([code or "unknown"], n)
        yield declines

        yield GaugeMetricFamily(
            "coaching_payments_stuck",
            f"Payments not final and untouched for {STUCK_AFTER}.",
            value=Payment.objects.filter(
                status__in=_PRE_FINAL, updated_at__lt=now - STUCK_AFTER
            ).count(),
        )

        events = GaugeMetricFamily(
            "coaching_webhook_events",
            "Stored Stripe events by status (dead = dead-lettered).",
            labels=["status"],
        )
        counts = dict(
            WebhookEvent.objects.values_list("status")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for status in WebhookEvent.Status.values:
            events.add_metric([status], counts.get(status, 0))
        yield events
        yield CounterMetricFamily(
            "coaching_webhook_events_received",
            "Stripe events received and stored.",
            value=sum(counts.values()),
        )

        oldest = (
            WebhookEvent.objects.filter(
                status__in=[WebhookEvent.Status.PENDING, WebhookEvent.Status.FAILED]
            )
            .order_by("received_at")
            .values_list("received_at", flat=True)
            .first()
        )
        yield GaugeMetricFamily(
            "coaching_webhook_oldest_unapplied_seconds",
            "Age of the oldest stored event not applied yet (0: none).",
            value=(now - oldest).total_seconds() if oldest else 0,
        )
        lags = [
            (processed - received).total_seconds()
            for received, processed in WebhookEvent.objects.filter(
                processed_at__gte=now - LAG_WINDOW
            ).values_list("received_at", "processed_at")[:5000]
        ]
        yield GaugeMetricFamily(
            "coaching_webhook_lag_seconds",
            f"Longest receipt-to-applied time of the events applied in the last {LAG_WINDOW}.",
            value=max(lags, default=0),
        )

        yield CounterMetricFamily(
            "coaching_reconciliation_fixes",
            "Payment changes made by the reconciliation with Stripe (a lost webhook healed).",
            value=PaymentTransition.objects.filter(cause="reconcile").count(),
        )

        if settings.REDIS_URL:
            yield GaugeMetricFamily(
                "coaching_celery_queue_length",
                "Tasks waiting in the Celery queue (-1: Redis unreachable).",
                value=_queue_length(),
            )


def _queue_length() -> int:
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL,
        socket_timeout=settings.REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=settings.REDIS_TIMEOUT_SECONDS,
    )
    # kombu keeps one Redis list per priority step of a queue.
    queue = celery_app.conf.task_default_queue
    lists = [
        queue if step == 0 else f"{queue}{RedisChannel.sep}{step}"
        for step in RedisChannel.priority_steps
    ]
    try:
        with client.pipeline(transaction=False) as pipe:
            for name in lists:
                pipe.llen(name)
            return sum(pipe.execute())
    except redis.RedisError:
        return -1
    finally:
        client.close()


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated and user.is_staff)


def _forget_dead_processes(directory: str) -> None:
    """Drop the live gauges (open WebSockets) of workers that died: granian
    respawns them under new pids, and their last values would count forever."""
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, directory)
        except PermissionError:
            pass  # alive, another user's


def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return JsonResponse(
            error_body("not_authenticated", "Metrics need the bearer token or staff."),
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        _forget_dead_processes(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        process_registry = CollectorRegistry()
        MultiProcessCollector(process_registry)
    else:
        process_registry = REGISTRY
    database_registry = CollectorRegistry()
    database_registry.register(DatabaseCollector())
    try:
        database = generate_latest(database_registry)
    except DatabaseError:
        # The process metrics still help most while the database is down.
        logger.exception("metrics.database_unavailable")
        database = b""
    body = generate_latest(process_registry) + database
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
