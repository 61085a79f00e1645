"""Broadcasts sent from synchronous code outside a server (a Celery worker's
task, on commit) reuse one Redis connection per process.

``async_to_sync`` ran each such send on a new event loop, and the Redis
channel layers keep their connections per loop: every broadcast opened a new
Redis connection and closed it again (1.7 ms of CPU per webhook event).
"""

import threading

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import channel_layers, get_channel_layer

from coaching.channels import group_send_blocking
from coaching.settings import redis_channel_layer

pytestmark = [pytest.mark.redis]


@pytest.fixture
def layer(private_redis, settings):
    settings.CHANNEL_LAYERS = {
        "default": redis_channel_layer(private_redis.url, timeout=1.0)
    }
    channel_layers.backends.clear()
    yield get_channel_layer()
    channel_layers.backends.clear()


def _connections_received(client) -> int:
    return client.info("stats")["total_connections_received"]


def test_sends_from_a_plain_thread_share_one_connection_and_all_arrive(
    layer, private_redis
):
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("payments.booking.test", channel)
    stats = redis.Redis.from_url(private_redis.url)
    before = _connections_received(stats)

    def task() -> None:  # as a Celery worker runs it: no event loop around
        for n in range(5):
            group_send_blocking(
                layer, "payments.booking.test", {"type": "payment.status", "n": n}
            )

    worker = threading.Thread(target=task)
    worker.start()
    worker.join()

    assert _connections_received(stats) - before <= 1

    async def receive_all() -> list[int]:
        return [(await layer.receive(channel))["n"] for _ in range(5)]

    assert async_to_sync(receive_all)() == [0, 1, 2, 3, 4]


def test_a_send_to_a_frozen_redis_gives_up_within_the_layer_timeout(
    layer, private_redis
):
    private_redis.freeze()
    with pytest.raises(TimeoutError):
        group_send_blocking(layer, "payments.booking.test", {"type": "x"})
    # Refused at once afterwards, not after another timeout.
    with pytest.raises(ConnectionError):
        group_send_blocking(layer, "payments.booking.test", {"type": "x"})
