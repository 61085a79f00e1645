"""The WebSocket handshake's Origin check compares scheme, host and port."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from accounts.tokens import UserRefreshToken
from coaching.routing import websocket_application
from coaching.ws_origin import parse_origin

pytestmark = pytest.mark.django_db(transaction=True)


def _handshake(user, origin: bytes | None, *, host=None, scheme=None, extra=()):
    headers = [
        (
            b"authorization",
            f"Bearer {UserRefreshToken.for_user(user).access_token}".encode(),
        ),
        *extra,
    ]
    if origin is not None:
        headers.append((b"origin", origin))
    if host is not None:
        headers.append((b"host", host))

    async def scenario():
        socket = WebsocketCommunicator(
            websocket_application, "/ws/payments/", headers=headers
        )
        if scheme is not None:
            socket.scope["scheme"] = scheme
        connected, _ = await socket.connect()
        if connected:
            await socket.disconnect()
        return connected

    return async_to_sync(scenario)()


@pytest.mark.parametrize(
    "origin",
    [
        b"http://localhost:9999",  # the reproduction: another port
        b"https://localhost:8000",  # another scheme
        b"http://127.0.0.1:8000",  # another host in ALLOWED_HOSTS
        b"http://localhost",
        b"http://evil.example:8000",
        b"http://localhost:8000.evil.example",
        b"null",
        b"",
        b"localhost:8000",
        b"http://user@localhost:8000",
        b"http://localhost:8000/path",
        b"http://localhost:99999",
        b"ws://localhost:8000",
    ],
)
def test_origin_other_than_the_page_is_refused(client_user, origin):
    assert not _handshake(client_user, origin, host=b"localhost:8000")


@pytest.mark.parametrize("origin", [b"http://localhost:8000", b"HTTP://LOCALHOST:8000"])
def test_origin_of_the_page_itself_is_accepted(client_user, origin):
    assert _handshake(client_user, origin, host=b"localhost:8000")


def test_missing_origin_is_refused(client_user):
    assert not _handshake(client_user, None, host=b"localhost:8000")


def test_host_outside_allowed_hosts_is_refused(client_user):
    assert not _handshake(client_user, b"http://evil.example", host=b"evil.example")


def test_default_port_is_the_same_origin(client_user):
    assert _handshake(client_user, b"http://localhost", host=b"localhost:80")
    assert _handshake(client_user, b"http://localhost:80", host=b"localhost")


def test_secure_socket_needs_an_https_origin(client_user):
    assert _handshake(
        client_user, b"https://localhost", host=b"localhost", scheme="wss"
    )
    assert not _handshake(
        client_user, b"http://localhost", host=b"localhost", scheme="wss"
    )


def test_tls_proxy_header_makes_the_page_https(client_user, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proto = ((b"x-forwarded-proto", b"https"),)

    assert _handshake(client_user, b"https://localhost", host=b"localhost", extra=proto)
    assert not _handshake(
        client_user, b"http://localhost", host=b"localhost", extra=proto
    )


def test_csrf_trusted_origins_are_accepted_with_scheme_and_port(client_user, settings):
    settings.CSRF_TRUSTED_ORIGINS = [
        "https://pay.example.com",
        "https://*.coaching.example",
    ]
    host = b"localhost:8000"

    assert _handshake(client_user, b"https://pay.example.com", host=host)
    assert _handshake(client_user, b"https://pay.example.com:443", host=host)
    assert _handshake(client_user, b"https://eu.coaching.example", host=host)
    assert _handshake(client_user, b"https://coaching.example", host=host)
    assert not _handshake(client_user, b"http://pay.example.com", host=host)
    assert not _handshake(client_user, b"https://pay.example.com:8443", host=host)
    assert not _handshake(client_user, b"https://evilcoaching.example", host=host)


def test_without_host_header_allowed_hosts_on_the_default_port(client_user):
    # Test clients omit Host; ALLOWED_HOSTS has testserver, 127.0.0.1, localhost.
    assert _handshake(client_user, b"http://testserver")
    assert not _handshake(client_user, b"http://testserver:9999")
    assert not _handshake(client_user, b"https://testserver")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://a.example", ("http", "a.example", 80)),
        ("https://A.example:8443", ("https", "a.example", 8443)),
        ("http://[::1]:8000", ("http", "::1", 8000)),
        ("ftp://a.example", None),
        ("http://", None),
        ("http://a.example:port", None),
    ],
)
def test_parse_origin(value, expected):
    assert parse_origin(value) == expected
