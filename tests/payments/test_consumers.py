"""The WebSocket protocol of ``/ws/payments/`` for every role, bad input included."""

from collections.abc import Awaitable, Callable

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from coaching.routing import websocket_application
from payments import services
from tests.payments.conftest import VISA

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://testserver")


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    # Database work inside runs on this test's thread and connection.
    async_to_sync(scenario)()


def bearer(user) -> list[tuple[bytes, bytes]]:
    return [ORIGIN, (b"authorization", f"Bearer {AccessToken.for_user(user)}".encode())]


def jwt_cookie(user) -> list[tuple[bytes, bytes]]:
    name = settings.REST_AUTH["JWT_AUTH_COOKIE"]
    return [ORIGIN, (b"cookie", f"{name}={AccessToken.for_user(user)}".encode())]


def session_cookie(client, user) -> list[tuple[bytes, bytes]]:
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    return [ORIGIN, (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode())]


async def connect(headers) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(
        websocket_application, "/ws/payments/", headers=headers
    )
    connected, code = await socket.connect()
    assert connected, code
    return socket


def test_anonymous_socket_is_closed_with_4401():
    async def scenario():
        socket = WebsocketCommunicator(
            websocket_application, "/ws/payments/", headers=[ORIGIN]
        )
        connected, code = await socket.connect()
        assert not connected and code == 4401

    run(scenario)


def test_invalid_token_is_treated_as_anonymous():
    async def scenario():
        headers = [ORIGIN, (b"authorization", b"Bearer not-a-jwt")]
        socket = WebsocketCommunicator(
            websocket_application, "/ws/payments/", headers=headers
        )
        connected, code = await socket.connect()
        assert not connected and code == 4401

    run(scenario)


def test_foreign_origin_is_refused(client_user):
    async def scenario():
        headers = [(b"origin", b"https://evil.example"), *bearer(client_user)[1:]]
        socket = WebsocketCommunicator(
            websocket_application, "/ws/payments/", headers=headers
        )
        connected, _ = await socket.connect()
        assert not connected

    run(scenario)


def test_ping_gets_pong(client_user):
    async def scenario():
        socket = await connect(bearer(client_user))
        await socket.send_json_to({"type": "ping"})
        assert await socket.receive_json_from() == {"type": "pong"}
        await socket.disconnect()

    run(scenario)


@pytest.mark.parametrize("auth", ["bearer", "jwt_cookie", "session"])
def test_payer_subscribes_and_gets_the_snapshot_at_once(
    client, client_user, booking, auth
):
    headers = {
        "bearer": lambda: bearer(client_user),
        "jwt_cookie": lambda: jwt_cookie(client_user),
        "session": lambda: session_cookie(client, client_user),
    }[auth]()

    async def scenario():
        socket = await connect(headers)
        await socket.send_json_to({"type": "subscribe", "bookingId": str(booking.pk)})
        message = await socket.receive_json_from()
        assert message == {
            "type": "payment.status",
            "bookingId": str(booking.pk),
            "paymentIntentId": None,
            "status": None,
            "bookingStatus": "pending_payment",
            "version": booking.version,
            "amount": None,
            "amountRefunded": None,
            "currency": None,
            "updatedAt": message["updatedAt"],
        }
        await socket.disconnect()

    run(scenario)


@pytest.mark.parametrize("who", ["coach", "admin_user"])
def test_coach_and_admin_may_subscribe(request, booking, who):
    user = request.getfixturevalue(who)

    async def scenario():
        socket = await connect(bearer(user))
        await socket.send_json_to({"type": "subscribe", "bookingId": str(booking.pk)})
        assert (await socket.receive_json_from())["type"] == "payment.status"
        await socket.disconnect()

    run(scenario)


@pytest.mark.parametrize("who", ["other_client", "other_coach"])
def test_strangers_get_forbidden_and_nothing_about_the_booking(request, booking, who):
    user = request.getfixturevalue(who)

    async def scenario():
        socket = await connect(bearer(user))
        await socket.send_json_to({"type": "subscribe", "bookingId": str(booking.pk)})
        assert await socket.receive_json_from() == {
            "type": "error",
            "code": "forbidden",
            "bookingId": str(booking.pk),
        }
        # Nor does anything arrive when the booking changes.
        await sync_to_async(services.payment_create_intent)(
            booking=booking, actor=booking.client
        )
        assert await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()

    run(scenario)


def test_unknown_booking_is_forbidden_like_a_foreign_one(client_user):
    async def scenario():
        socket = await connect(bearer(client_user))
        missing = "00000000-0000-0000-0000-000000000000"
        await socket.send_json_to({"type": "subscribe", "bookingId": missing})
        assert (await socket.receive_json_from())["code"] == "forbidden"
        await socket.disconnect()

    run(scenario)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "malformed"),
        ("[1, 2]", "malformed"),
        # Nested past the parser's recursion limit, within the frame limit.
        ("[" * 2000 + "]" * 2000, "malformed"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "subscribe", "bookingId": "nope"}', "invalid_booking_id"),
        ('{"type": "subscribe"}', "invalid_booking_id"),
        (
            '{"type": "unsubscribe", "bookingId": "00000000-0000-0000-0000-000000000000"}',
            "not_subscribed",
        ),
    ],
    ids=lambda value: value[:30],
)
def test_bad_messages_get_an_error_and_the_socket_stays_up(
    client_user, booking, raw, code
):
    async def scenario():
        socket = await connect(bearer(client_user))
        await socket.send_json_to({"type": "subscribe", "bookingId": str(booking.pk)})
        await socket.receive_json_from()
        await socket.send_to(text_data=raw)
        error = await socket.receive_json_from()
        assert error["type"] == "error" and error["code"] == code
        await socket.send_json_to({"type": "ping"})
        assert await socket.receive_json_from() == {"type": "pong"}
        await socket.disconnect()

    run(scenario)


def test_changes_arrive_with_increasing_versions_until_unsubscribed(
    client_user, booking, make_card
):
    async def scenario():
        socket = await connect(bearer(client_user))
        await socket.send_json_to({"type": "subscribe", "bookingId": str(booking.pk)})
        snapshot = await socket.receive_json_from()

        payment, _ = await sync_to_async(services.payment_create_intent)(
            booking=booking, actor=client_user
        )
        card = await sync_to_async(make_card)(VISA)
        await sync_to_async(services.payment_confirm)(
            payment=payment, payment_method_id=card, actor=client_user
        )
        seen = [snapshot]
        while not await socket.receive_nothing(timeout=0.5):
            seen.append(await socket.receive_json_from())
        versions = [m["version"] for m in seen]
        assert versions == sorted(versions) and versions[-1] > versions[0]
        last = seen[-1]
        assert (last["status"], last["bookingStatus"]) == ("succeeded", "confirmed")
        assert last["paymentIntentId"] == payment.stripe_payment_intent_id
        assert (last["amount"], last["currency"]) == (100, "CHF")

        await socket.send_json_to({"type": "unsubscribe", "bookingId": str(booking.pk)})
        assert await socket.receive_json_from() == {
            "type": "unsubscribed",
            "bookingId": str(booking.pk),
        }
        await sync_to_async(services.payment_refund)(
            payment=payment, amount=100, reason="duplicate", actor=booking.coach
        )
        assert await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()

    run(scenario)


def test_one_socket_carries_many_bookings(
    coach, make_booking, client_user, other_client
):
    first = make_booking(hour=9)
    second = make_booking(client=other_client, hour=12)

    async def scenario():
        socket = await connect(bearer(coach))
        for booking in (first, second):
            await socket.send_json_to(
                {"type": "subscribe", "bookingId": str(booking.pk)}
            )
            assert (await socket.receive_json_from())["bookingId"] == str(booking.pk)
        await sync_to_async(services.payment_create_intent)(
            booking=second, actor=other_client
        )
        message = await socket.receive_json_from()
        assert message["bookingId"] == str(second.pk)
        assert message["status"] == "requires_payment_method"
        await socket.disconnect()

    run(scenario)


def test_a_rolled_back_change_is_never_announced(client_user, booking):
    from django.db import transaction

    from payments.models import Payment
    from payments.services import _core

    async def scenario():
        socket = await connect(bearer(client_user))
        await socket.send_json_to({"type": "subscribe", "bookingId": str(booking.pk)})
        await socket.receive_json_from()
        payment, _ = await sync_to_async(services.payment_create_intent)(
            booking=booking, actor=client_user
        )
        while not await socket.receive_nothing(timeout=0.3):
            await socket.receive_json_from()

        def change_then_fail():
            with transaction.atomic():
                _b, locked = _core.lock_booking_and_payment(payment.pk)
                _core.transition(locked, Payment.Status.CANCELED, cause="test")
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            await sync_to_async(change_then_fail)()
        assert await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()

    run(scenario)


# --- Amounts that are not whole francs -------------------------------------------


@pytest.fixture
def fractional_booking(coach, client_user, localstripe_url):
    from bookings import services as booking_services
    from tests.factories import OfferingFactory
    from tests.payments.conftest import next_slot

    offering = OfferingFactory(coach=coach, title="Short check-in", price_amount=4990)
    return booking_services.booking_create(
        client=client_user, offering=offering, starts_at=next_slot(4), actor=client_user
    )


@pytest.mark.parametrize("who", ["client_user", "coach"])
def test_fractional_amounts_reach_payer_and_coach_as_the_api_shows_them(
    request, client_user, fractional_booking, make_card, who
):
    from rest_framework.test import APIClient

    booking = fractional_booking
    user = request.getfixturevalue(who)

    def api_status() -> dict:
        api = APIClient()
        api.force_authenticate(user)
        return api.get(f"/api/payments/status/{booking.pk}").json()["payment"]

    async def scenario():
        socket = await connect(bearer(user))
        payment, _ = await sync_to_async(services.payment_create_intent)(
            booking=booking, actor=client_user
        )
        card = await sync_to_async(make_card)(VISA)
        await sync_to_async(services.payment_confirm)(
            payment=payment, payment_method_id=card, actor=client_user
        )
        # Snapshot of a paid CHF 49.90 booking: the socket stays open.
        await socket.send_json_to({"type": "subscribe", "bookingId": str(booking.pk)})
        snapshot = await socket.receive_json_from()
        assert (snapshot["amount"], snapshot["amountRefunded"]) == (49.9, 0)

        # A pushed change with a refund of CHF 0.50.
        await sync_to_async(services.payment_refund)(
            payment=payment, amount=50, reason="duplicate", actor=booking.coach
        )
        pushed = await socket.receive_json_from()
        while not await socket.receive_nothing(timeout=0.3):
            pushed = await socket.receive_json_from()
        assert (pushed["amount"], pushed["amountRefunded"]) == (49.9, 0.5)
        http = await sync_to_async(api_status)()
        assert (pushed["amount"], pushed["amountRefunded"]) == (
            http["amount"],
            http["amountRefunded"],
        )
        # Still up after both.
        await socket.send_json_to({"type": "ping"})
        assert await socket.receive_json_from() == {"type": "pong"}
        await socket.disconnect()

    run(scenario)


# --- Limits: frame size, subscriptions, subscribe rate ------------------------------


@pytest.mark.parametrize("size", [4097, 1_000_000])
def test_oversized_frames_get_an_error_and_the_socket_stays_up(client_user, size):
    async def scenario():
        socket = await connect(bearer(client_user))
        padding = "x" * size
        await socket.send_to(text_data=f'{{"type": "ping", "pad": "{padding}"}}')
        error = await socket.receive_json_from()
        assert (error["type"], error["code"]) == ("error", "message_too_large")
        await socket.send_json_to({"type": "ping"})
        assert await socket.receive_json_from() == {"type": "pong"}
        await socket.disconnect()

    run(scenario)


def test_subscriptions_per_socket_are_capped(monkeypatch, coach, make_booking):
    from payments import consumers

    monkeypatch.setattr(consumers, "MAX_SUBSCRIPTIONS", 1)
    first, second = make_booking(hour=9), make_booking(hour=12)

    async def scenario():
        socket = await connect(bearer(coach))
        await socket.send_json_to({"type": "subscribe", "bookingId": str(first.pk)})
        assert (await socket.receive_json_from())["type"] == "payment.status"
        await socket.send_json_to({"type": "subscribe", "bookingId": str(second.pk)})
        error = await socket.receive_json_from()
        assert (error["type"], error["code"]) == ("error", "too_many_subscriptions")
        # Subscribing again to one it has is fine; so is making room.
        await socket.send_json_to({"type": "subscribe", "bookingId": str(first.pk)})
        assert (await socket.receive_json_from())["bookingId"] == str(first.pk)
        await socket.send_json_to({"type": "unsubscribe", "bookingId": str(first.pk)})
        assert (await socket.receive_json_from())["type"] == "unsubscribed"
        await socket.send_json_to({"type": "subscribe", "bookingId": str(second.pk)})
        assert (await socket.receive_json_from())["bookingId"] == str(second.pk)
        await socket.disconnect()

    run(scenario)


def test_subscribe_messages_are_rate_limited(monkeypatch, client_user, booking):
    from payments import consumers

    monkeypatch.setattr(consumers, "MAX_SUBSCRIBE_MESSAGES", 3)

    async def scenario():
        socket = await connect(bearer(client_user))
        for _ in range(3):
            await socket.send_json_to(
                {"type": "subscribe", "bookingId": str(booking.pk)}
            )
            assert (await socket.receive_json_from())["type"] == "payment.status"
        await socket.send_json_to({"type": "subscribe", "bookingId": str(booking.pk)})
        error = await socket.receive_json_from()
        assert (error["type"], error["code"]) == ("error", "rate_limited")
        await socket.send_json_to({"type": "ping"})
        assert await socket.receive_json_from() == {"type": "pong"}
        await socket.disconnect()

    run(scenario)
