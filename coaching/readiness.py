"""Readiness checks behind ``/readyz``: each dependency with its status.

Required: the database and, when ``REDIS_URL`` is set, Redis (broker, channel
layer, limits). Stripe is reported as this process last saw it (its last call
reached Stripe or not) but does not make the process unready: taking every web
process out of the load balancer because Stripe is down would also stop
bookings, pages and the webhooks that heal payments afterwards.
"""

import time
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError, connection

from payments import gateway


def _timed(check) -> dict[str, Any]:
    started = time.monotonic()
    try:
        detail = check()
        status = "ok"
    except (DatabaseError, redis.RedisError, OSError) as exc:
        detail, status = type(exc).__name__, "unavailable"
    return {
        "status": status,
        "detail": detail,
        "ms": round((time.monotonic() - started) * 1000, 1),
    }


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


def _redis() -> str:
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=settings.REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=settings.REDIS_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()
    return "ping"


def check_all() -> dict[str, dict[str, Any]]:
    checks = {"database": {**_timed(_database), "required": True}}
    if settings.REDIS_URL:
        checks["redis"] = {**_timed(_redis), "required": True}
    else:
        checks["redis"] = {
            "status": "ok",
            "detail": "not used (in memory)",
            "required": False,
        }
    seen = gateway.reachability()
    checks["stripe"] = {
        "status": {"ok": "ok", "unknown": "unknown"}.get(seen["status"], "unavailable"),
        "detail": "last call from this process",
        "secondsAgo": seen["secondsAgo"],
        "required": False,
    }
    return checks
