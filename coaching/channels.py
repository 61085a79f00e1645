"""channels-redis (both layers) with bounded sends, so a frozen Redis cannot
hold a request.

Broadcasts run on commit inside web requests and Celery tasks
(payments/realtime.py) and are at most once by design: a subscriber that
misses one gets the snapshot when it resubscribes. A send that Redis does not
take within ``send_timeout`` seconds is abandoned (``asyncio.TimeoutError``,
logged by the caller) instead of waiting on a socket that has no read timeout
(a consumer's receive blocks in BZPOPMIN on the same pools). After a failed send the
layer refuses sends at once for ``RETRY_AFTER_SECONDS``, so a request that
broadcasts several times pays the timeout once.
"""

import asyncio
import os
import threading
import time

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from redis.exceptions import RedisError

RETRY_AFTER_SECONDS = 5.0


class ChannelLayerUnavailable(ConnectionError):
    pass


class _BoundedSends:
    """Bounds every operation of a Redis channel layer by ``send_timeout``,
    then refuses at once for ``RETRY_AFTER_SECONDS`` after a failure."""

    def __init__(self, *args, send_timeout: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.send_timeout = send_timeout
        self._down_until = 0.0

    async def _bounded(self, operation):
        if time.monotonic() < self._down_until:
            operation.close()  # never awaited: the coroutine is dropped
            raise ChannelLayerUnavailable("Redis failed recently; not retried yet.")
        try:
            return await asyncio.wait_for(operation, self.send_timeout)
        except (TimeoutError, OSError, RedisError):
            self._down_until = time.monotonic() + RETRY_AFTER_SECONDS
            raise

    def _unbounded(self, name: str):
        """The layer's own operation ``name``."""
        return getattr(super(), name)

    async def send(self, channel, message):
        await self._bounded(self._unbounded("send")(channel, message))

    async def group_send(self, group, message):
        await self._bounded(self._unbounded("group_send")(group, message))

    async def group_add(self, group, channel):
        await self._bounded(self._unbounded("group_add")(group, channel))

    async def group_discard(self, group, channel):
        await self._bounded(self._unbounded("group_discard")(group, channel))


class BoundedRedisChannelLayer(_BoundedSends, RedisChannelLayer):
    """channels-redis's list-based layer: one Redis push per socket."""


class BoundedRedisPubSubChannelLayer(_BoundedSends, RedisPubSubChannelLayer):
    """channels-redis's pub/sub layer: one publish per group message, which
    each process fans out to its own sockets in memory."""

    def _unbounded(self, name: str):
        # This layer serves its operations through __getattr__ (one inner
        # layer per event loop), which super() does not consult.
        return RedisPubSubChannelLayer.__getattr__(self, name)


# --- sending from synchronous code --------------------------------------------------


def group_send_blocking(layer: BaseChannelLayer, group: str, message: dict) -> None:
    """``layer.group_send`` from synchronous code (a service's on-commit
    broadcast), waiting until Redis took it.

    ``async_to_sync`` would run each send on a new event loop in a new thread
    where there is no server loop to hand it to (a Celery worker): and the
    Redis layers keep their connections per event loop, so every broadcast
    paid a new loop, a new Redis connection and its teardown (1.7 ms of CPU,
    against 0.5 ms here; bench/README.md). With Redis, sends run on one event
    loop per process instead, kept in a thread of its own. The in-memory
    layer (no Redis: one process, tests) hands messages to queues that live
    on the server's loop, so it keeps ``async_to_sync``.
    """
    if isinstance(layer, InMemoryChannelLayer):
        async_to_sync(layer.group_send)(group, message)
        return
    _SenderLoop.get().run(layer.group_send(group, message))


class _SenderLoop:
    """A process's event loop for channel-layer sends from synchronous code."""

    _current: "_SenderLoop | None" = None
    _lock = threading.Lock()
    # A send waits at most this long; the bounded layer gives up before.
    WAIT_SECONDS = 5.0

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=self.loop.run_forever, name="channel-layer-sends", daemon=True
        )
        thread.start()

    @classmethod
    def get(cls) -> "_SenderLoop":
        with cls._lock:
            if cls._current is None:
                cls._current = cls()
            return cls._current

    @classmethod
    def forget(cls) -> None:
        """After a fork: the child has the parent's loop but not its thread."""
        cls._current = None
        cls._lock = threading.Lock()

    def run(self, operation) -> None:
        asyncio.run_coroutine_threadsafe(operation, self.loop).result(self.WAIT_SECONDS)


os.register_at_fork(after_in_child=_SenderLoop.forget)
