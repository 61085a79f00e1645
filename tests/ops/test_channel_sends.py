"""Broadcasts sent from synchronous code outside a server (a Celery worker's
task, on commit) reuse one Redis connection per process, on both Redis
layers, and give up within the layer's timeout when Redis is frozen.

``async_to_sync`` ran each such send on a new event loop, and the Redis
channel layers keep their connections per loop: every broadcast opened a new
Redis connection and closed it again (1.7 ms of CPU per webhook event).
"""

import asyncio

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import channel_layers, get_channel_layer

from coaching.channels import group_send_blocking
from coaching.settings import redis_channel_layer

pytestmark = [pytest.mark.redis]


@pytest.fixture(params=["core", "pubsub"])
def layer(request, private_redis, settings):
    settings.CHANNEL_LAYERS = {
        "default": redis_channel_layer(
            private_redis.url, timeout=1.0, kind=request.param
        )
    }
    channel_layers.backends.clear()
    yield get_channel_layer()
    channel_layers.backends.clear()


def _connections_received(client) -> int:
    return client.info("stats")["total_connections_received"]


def test_sends_from_a_plain_thread_share_one_connection_and_all_arrive(
    layer, private_redis
):
    stats = redis.Redis.from_url(private_redis.url)
    group = "payments.booking.test"

    def task() -> None:  # as a Celery worker runs it: no event loop around
        for n in range(5):
            group_send_blocking(layer, group, {"type": "payment.status", "n": n})

    async def scenario() -> tuple[int, list[int]]:
        # A subscriber, as a consumer is one (the pub/sub layer delivers only
        # to channels made in this process, on the loop that receives).
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        before = _connections_received(stats)
        await asyncio.to_thread(task)
        opened = _connections_received(stats) - before
        return opened, [(await layer.receive(channel))["n"] for _ in range(5)]

    opened, received = async_to_sync(scenario)()

    assert opened <= 1
    assert received == [0, 1, 2, 3, 4]


def test_a_send_to_a_frozen_redis_gives_up_within_the_layer_timeout(
    layer, private_redis
):
    private_redis.freeze()
    with pytest.raises(TimeoutError):
        group_send_blocking(layer, "payments.booking.test", {"type": "x"})
    # Refused at once afterwards, not after another timeout.
    with pytest.raises(ConnectionError):
        group_send_blocking(layer, "payments.booking.test", {"type": "x"})
