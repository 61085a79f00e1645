"""``/ws/payments/``: live payment status per booking (DESIGN.md "Real time")."""

import json
import logging
import uuid

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.ws_auth import RevocableSocketMixin
from payments import realtime, selectors

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
MAX_SUBSCRIPTIONS = 200


class PaymentStatusConsumer(RevocableSocketMixin, AsyncJsonWebsocketConsumer):
    """Relay ``payment.status`` messages for the bookings a user may see.

    Every subscribe answers with the current state at once (channel-layer
    delivery is at most once, so a reconnecting client catches up this way),
    then one message per change. Bad messages get an error message; the socket
    and its other subscriptions stay up. A logout closes it (4401).
    """

    async def connect(self):
        self.user = self.scope.get("user")
        self.subscriptions: set[str] = set()
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self.accept()
        await self.revocation_watch()

    async def disconnect(self, code):
        await self.revocation_unwatch()
        for booking_id in getattr(self, "subscriptions", set()):
            await self.channel_layer.group_discard(
                realtime.booking_group(booking_id), self.channel_name
            )

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            content = json.loads(text_data or "")
        except (TypeError, ValueError):
            await self._error("malformed", "Send JSON objects.")
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            await self._error("malformed", "Send JSON objects.")
            return
        kind = content.get("type")
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "subscribe":
            await self._subscribe(content.get("bookingId"))
        elif kind == "unsubscribe":
            await self._unsubscribe(content.get("bookingId"))
        else:
            await self._error(
                "unknown_type", "Unknown message type.", received=str(kind)[:50]
            )

    async def _subscribe(self, booking_id) -> None:
        booking_id = _clean_id(booking_id)
        if booking_id is None:
            await self._error("invalid_booking_id", "bookingId must be a booking id.")
            return
        joined = booking_id not in self.subscriptions
        if joined:
            if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
                await self._error(
                    "too_many_subscriptions", "Unsubscribe from some first."
                )
                return
            # Join before reading, so no change falls between the snapshot and
            # the first message; a broadcast that arrives meanwhile waits until
            # this handler returns (a consumer handles one message at a time),
            # and is relayed only if the booking turned out to be visible.
            await self.channel_layer.group_add(
                realtime.booking_group(booking_id), self.channel_name
            )
        # The permission check and the snapshot are one query.
        snapshot = await database_sync_to_async(selectors.payment_status_message)(
            booking_id=booking_id, user=self.user
        )
        if snapshot is None:
            if joined:
                await self.channel_layer.group_discard(
                    realtime.booking_group(booking_id), self.channel_name
                )
            # The same answer for "not yours" and "does not exist".
            await self.send_json(
                {"type": "error", "code": "forbidden", "bookingId": booking_id}
            )
            return
        self.subscriptions.add(booking_id)
        await self.send_json(snapshot)

    async def _unsubscribe(self, booking_id) -> None:
        booking_id = _clean_id(booking_id)
        if booking_id is None or booking_id not in self.subscriptions:
            await self.send_json(
                {"type": "error", "code": "not_subscribed", "bookingId": booking_id}
            )
            return
        await self.channel_layer.group_discard(
            realtime.booking_group(booking_id), self.channel_name
        )
        self.subscriptions.discard(booking_id)
        await self.send_json({"type": "unsubscribed", "bookingId": booking_id})

    async def payment_status(self, event):
        """A broadcast from ``payments.realtime`` (type ``payment.status``)."""
        if event["message"]["bookingId"] in self.subscriptions:
            await self.send_json(event["message"])

    async def _error(self, code: str, message: str, **extra) -> None:
        await self.send_json(
            {"type": "error", "code": code, "message": message, **extra}
        )


def _clean_id(value) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None
