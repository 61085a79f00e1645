"""channels-redis with bounded sends, so a frozen Redis cannot hold a request.

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
import time

from channels_redis.core import RedisChannelLayer
from redis.exceptions import RedisError

RETRY_AFTER_SECONDS = 5.0


class ChannelLayerUnavailable(ConnectionError):
    pass


class BoundedRedisChannelLayer(RedisChannelLayer):
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

    async def send(self, channel, message):
        await self._bounded(super().send(channel, message))

    async def group_send(self, group, message):
        await self._bounded(super().group_send(group, message))

    async def group_add(self, group, channel):
        await self._bounded(super().group_add(group, channel))

    async def group_discard(self, group, channel):
        await self._bounded(super().group_discard(group, channel))
