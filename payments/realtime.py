"""Push payment status to WebSocket subscribers. Called only on commit."""

import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from rest_framework.renderers import JSONRenderer

logger = logging.getLogger(__name__)


def encode(message: dict[str, Any]) -> str:
    """The JSON text of a message, rendered as the HTTP API renders its bodies.

    One renderer for both, so an amount reads the same over HTTP and the
    socket (CHF 49.90 is ``49.9`` in both; ``json.dumps`` refused the
    Decimal and closed the socket).
    """
    return JSONRenderer().render(message).decode()


def jsonable(message: dict[str, Any]) -> dict[str, Any]:
    """``message`` made of JSON types only, as the channel layer can carry it
    (channels-redis packs messages with msgpack, which knows no Decimal)."""
    return json.loads(encode(message))


def booking_group(booking_id) -> str:
    return f"payments.booking.{booking_id}"


def broadcast_booking(booking_id) -> None:
    """Send the booking's current payment status to its group.

    Delivery is at most once: a subscriber that misses this gets the snapshot
    when it (re)subscribes, so a failed send is logged, never raised.
    """
    from payments.selectors import payment_status_message

    try:
        message = payment_status_message(booking_id=booking_id)
        layer = get_channel_layer()
        if layer is None or message is None:
            return
        async_to_sync(layer.group_send)(
            booking_group(booking_id),
            {"type": "payment.status", "message": jsonable(message)},
        )
    except Exception:
        logger.exception("realtime.broadcast_failed booking=%s", booking_id)
