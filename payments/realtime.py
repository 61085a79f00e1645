"""Push payment status to WebSocket subscribers. Called only on commit."""

import json
import logging
from typing import Any

from channels.layers import get_channel_layer
from django.db import transaction
from rest_framework.renderers import JSONRenderer

from coaching.channels import group_send_blocking
from payments.selectors import payment_status_message

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
    try:
        message = payment_status_message(booking_id=booking_id)
        layer = get_channel_layer()
        if layer is None or message is None:
            return
        group_send_blocking(
            layer,
            booking_group(booking_id),
            {"type": "payment.status", "message": jsonable(message)},
        )
    except Exception:
        logger.exception("realtime.broadcast_failed booking=%s", booking_id)


def broadcast_booking_on_commit(booking_id) -> None:
    """Broadcast the booking's status once the current transaction commits.

    Once per booking and transaction, however many changes it made: the
    message is read after commit, so one carries them all (a payment that
    succeeds and the booking it confirms are one message, not two). Nothing
    is sent for a rolled-back change.
    """
    booking_id = str(booking_id)
    if any(
        getattr(func, "broadcasts_booking", None) == booking_id
        for func in _pending_in_this_transaction()
    ):
        # Already registered and still pending (a rolled-back savepoint
        # takes its registration with it, so this check cannot skip one).
        return

    def send() -> None:
        broadcast_booking(booking_id)

    send.broadcasts_booking = booking_id
    transaction.on_commit(send, robust=True)


def _pending_in_this_transaction():
    """The on-commit callbacks the current transaction registered so far.

    Under autocommit the list is emptied at every commit and rollback. In a
    test's transaction (Django's TestCase wraps each test in atomic blocks
    marked ``_from_testcase``) it also keeps what earlier "transactions" of
    the test registered: only entries made inside the first real atomic
    block, i.e. under its savepoint, are this transaction's.
    """
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return []
    blocks = connection.atomic_blocks
    first_real = next(
        (
            i
            for i, block in enumerate(blocks)
            if not getattr(block, "_from_testcase", False)
        ),
        None,
    )
    if first_real is None:
        return []
    if first_real == 0:
        return [func for _sids, func, _robust in connection.run_on_commit]
    marker = connection.savepoint_ids[first_real - 1]
    if marker is None:
        return []
    return [func for sids, func, _robust in connection.run_on_commit if marker in sids]
