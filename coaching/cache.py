"""A Redis cache that fails open: unreachable Redis acts as an empty cache.

The cache holds only throttle counters (DRF) and the failed-login lockout
(accounts/throttling.py). When Redis is down or frozen, refusing every login,
booking and payment with a 500 would turn a lost limiter into a lost product,
so each operation that fails on Redis is logged, counted
(``coaching_cache_errors_total``) and answered as an empty cache would: reads
miss, writes are dropped, ``incr`` finds no key. Limits are then not enforced
until Redis answers again. Nothing that must fail closed may live in this
cache. Connect and read timeouts (``REDIS_TIMEOUT_SECONDS``) bound the wait.

A frozen Redis would cost every operation of a request its own timeout (a
login makes five), so after a failure the process skips Redis for
``RETRY_AFTER_SECONDS`` and answers as empty at once; the next operation
after that tries Redis again.
"""

import functools
import logging
import time

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

from coaching import metrics

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5.0
# Per process and Redis location (cache objects are per thread): until when
# Redis is taken to be unreachable.
_down_until: dict[str, float] = {}


def _fail_open(fallback):
    """Run the Redis operation; on a Redis or socket error, return ``fallback(...)``."""

    def wrap(method):
        @functools.wraps(method)
        def run(self, *args, **kwargs):
            if time.monotonic() < _down_until.get(self._location, 0.0):
                metrics.CACHE_ERRORS.labels(operation=method.__name__).inc()
                return fallback(*args, **kwargs)
            try:
                return method(self, *args, **kwargs)
            except (RedisError, OSError) as exc:
                _down_until[self._location] = time.monotonic() + RETRY_AFTER_SECONDS
                metrics.CACHE_ERRORS.labels(operation=method.__name__).inc()
                logger.warning(
                    "cache.unavailable operation=%s error=%s: failing open for %ss",
                    method.__name__,
                    type(exc).__name__,
                    RETRY_AFTER_SECONDS,
                )
                return fallback(*args, **kwargs)

        return run

    return wrap


def _missing_key(key, *args, **kwargs):
    raise ValueError(f"Key {key!r} not found (cache unavailable).")


class FailOpenRedisCache(RedisCache):
    """Django's RedisCache whose operations never raise for an unreachable Redis."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._location = str(server)

    @_fail_open(lambda key, default=None, *a, **k: default)
    def get(self, key, default=None, version=None):
        return super().get(key, default, version)

    @_fail_open(lambda *a, **k: {})
    def get_many(self, keys, version=None):
        return super().get_many(keys, version)

    @_fail_open(lambda *a, **k: False)
    def has_key(self, key, version=None):
        return super().has_key(key, version)

    @_fail_open(lambda *a, **k: False)
    def add(self, *args, **kwargs):
        return super().add(*args, **kwargs)

    @_fail_open(lambda *a, **k: None)
    def set(self, *args, **kwargs):
        return super().set(*args, **kwargs)

    @_fail_open(lambda data, *a, **k: list(data))
    def set_many(self, data, *args, **kwargs):
        return super().set_many(data, *args, **kwargs)

    @_fail_open(lambda *a, **k: False)
    def touch(self, *args, **kwargs):
        return super().touch(*args, **kwargs)

    @_fail_open(_missing_key)
    def incr(self, key, delta=1, version=None):
        return super().incr(key, delta, version)

    @_fail_open(lambda *a, **k: False)
    def delete(self, key, version=None):
        return super().delete(key, version)

    @_fail_open(lambda *a, **k: None)
    def delete_many(self, keys, version=None):
        return super().delete_many(keys, version)

    @_fail_open(lambda *a, **k: False)
    def clear(self):
        return super().clear()
