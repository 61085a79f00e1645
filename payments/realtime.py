"""Push payment status to WebSocket subscribers. Called only on commit."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


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
            booking_group(booking_id), {"type": "payment.status", "message": message}
        )
    except Exception:
        logger.exception("realtime.broadcast_failed booking=%s", booking_id)
