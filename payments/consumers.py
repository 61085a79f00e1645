"""``/ws/payments/``: live payment status per booking (DESIGN.md "Real time")."""

import json
import logging
import time
from collections import deque

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.ws_auth import RevocableSocketMixin
from coaching import metrics
from coaching.ids import as_uuid
from payments import realtime, selectors

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
# One page follows a few bookings; a coach's list page at most a page of them.
MAX_SUBSCRIPTIONS = 50
# Every message we expect is well under 200 bytes.
MAX_FRAME_CHARS = 4096
# Subscribe and unsubscribe read the database: at most this many per window.
MAX_SUBSCRIBE_MESSAGES = 60
SUBSCRIBE_WINDOW_SECONDS = 60.0


class PaymentStatusConsumer(RevocableSocketMixin, AsyncJsonWebsocketConsumer):
    """Relay ``payment.status`` messages for the bookings a user may see.

    Every subscribe answers with the current state at once (channel-layer
    delivery is at most once, so a reconnecting client catches up this way),
    then one message per change. Bad messages get an error message; the socket
    and its other subscriptions stay up. A logout closes it (4401).
    """

    @classmethod
    async def encode_json(cls, content) -> str:
        return realtime.encode(content)

    async def connect(self):
        self.user = self.scope.get("user")
        self.subscriptions: set[str] = set()
        self.subscribe_times: deque[float] = deque()
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self.accept()
        self.counted = True
        metrics.WEBSOCKETS_OPEN.inc()
        await self.revocation_watch()

    async def disconnect(self, code):
        if getattr(self, "counted", False):
            metrics.WEBSOCKETS_OPEN.dec()
        await self.revocation_unwatch()
        for booking_id in getattr(self, "subscriptions", set()):
            await self.channel_layer.group_discard(
                realtime.booking_group(booking_id), self.channel_name
            )

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if len(text_data or bytes_data or "") > MAX_FRAME_CHARS:
            # Refused before parsing: a huge frame costs nothing but its read.
            await self._error(
                "message_too_large",
                f"Messages are at most {MAX_FRAME_CHARS} characters.",
            )
            return
        try:
            content = json.loads(text_data or "")
        except (TypeError, ValueError, RecursionError):
            # RecursionError: "[[[[..." fits in a frame and is no ValueError.
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
        elif kind in ("subscribe", "unsubscribe") and not self._within_rate():
            await self._error(
                "rate_limited",
                "Too many subscribe messages. Try again in a minute.",
                bookingId=str(content.get("bookingId"))[:50],
            )
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

    def _within_rate(self) -> bool:
        """Count a subscribe or unsubscribe; False once the window is full."""
        now = time.monotonic()
        while (
            self.subscribe_times
            and now - self.subscribe_times[0] > SUBSCRIBE_WINDOW_SECONDS
        ):
            self.subscribe_times.popleft()
        if len(self.subscribe_times) >= MAX_SUBSCRIBE_MESSAGES:
            return False
        self.subscribe_times.append(now)
        return True

    async def payment_status(self, event):
        """A broadcast from ``payments.realtime`` (type ``payment.status``)."""
        if event["message"]["bookingId"] in self.subscriptions:
            await self.send_json(event["message"])

    async def _error(self, code: str, message: str, **extra) -> None:
        await self.send_json(
            {"type": "error", "code": code, "message": message, **extra}
        )


def _clean_id(value) -> str | None:
    parsed = as_uuid(value)
    return str(parsed) if parsed else None
