"""Logout and refresh-token reuse end every token of the user at once.

Access tokens are stateless JWTs: without a check against the user row they
would keep working until they expire, after a logout and after a stolen
refresh token was detected. These tests hold the API, the pages' session and
the WebSocket to the user's token generation.
"""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from accounts import services
from coaching.routing import websocket_application
from tests.accounts.conftest import ACCESS_COOKIE, REFRESH_COOKIE

LOGIN = "/api/auth/login/"
LOGOUT = "/api/auth/logout/"
USER = "/api/auth/user/"
REFRESH = "/api/auth/token/refresh/"
ORIGIN = (b"origin", b"http://testserver")


def _bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def _with_access_cookie(access: str) -> APIClient:
    client = APIClient()
    client.cookies[ACCESS_COOKIE] = access
    return client


def _refresh(token: str):
    return APIClient().post(REFRESH, {"refresh": token}, format="json")


def _age_blacklisting(token_jti: str, seconds: int) -> None:
    """Pretend the token was rotated ``seconds`` ago (past the reuse grace)."""
    BlacklistedToken.objects.filter(token__jti=token_jti).update(
        blacklisted_at=timezone.now() - timedelta(seconds=seconds)
    )


def _jti(raw: str) -> str:
    from rest_framework_simplejwt.tokens import UntypedToken

    return UntypedToken(raw, verify=False)["jti"]


# --- logout --------------------------------------------------------------------


@pytest.mark.django_db
def test_logout_by_bearer_client_ends_its_access_token(api, log_in, client_user):
    access = log_in(api, client_user).json()["access"]
    bearer = _bearer(access)
    assert bearer.get(USER).status_code == 200

    assert bearer.post(LOGOUT, {}, format="json").status_code == 200

    response = bearer.get(USER)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert response.json()["error"]["details"] == {"reason": "token_revoked"}


@pytest.mark.django_db
def test_logout_by_cookies_ends_the_old_access_cookie(api, log_in, client_user):
    access = log_in(api, client_user).cookies[ACCESS_COOKIE].value

    assert api.post(LOGOUT, {}, format="json").status_code == 200

    assert _with_access_cookie(access).get(USER).status_code == 401
    assert _bearer(access).get(USER).status_code == 401


@pytest.mark.django_db
def test_logout_ends_every_token_and_session_of_the_user(
    api, log_in, client, client_user
):
    # Two logins of the same user (phone and laptop), and a page session.
    phone = log_in(APIClient(), client_user)
    client.force_login(client_user)
    log_in(api, client_user)

    api.post(LOGOUT, {}, format="json")

    assert _bearer(phone.json()["access"]).get(USER).status_code == 401
    assert _refresh(phone.cookies[REFRESH_COOKIE].value).status_code == 401
    assert client.get(USER).status_code == 401


@pytest.mark.django_db
def test_logout_leaves_other_users_logged_in(api, log_in, client_user, coach):
    coach_access = log_in(APIClient(), coach).json()["access"]
    log_in(api, client_user)

    api.post(LOGOUT, {}, format="json")

    assert _bearer(coach_access).get(USER).status_code == 200


@pytest.mark.django_db
def test_logout_page_ends_the_access_cookie(client, client_user):
    response = client.post(
        "/login/", {"email": client_user.email, "password": "coaching-test-pw-1"}
    )
    access = response.cookies[ACCESS_COOKIE].value

    client.post("/logout/")

    assert _with_access_cookie(access).get(USER).status_code == 401


@pytest.mark.django_db
def test_logout_with_a_stale_token_changes_nothing(api, log_in, client_user):
    """An old token cannot log its user out again and again."""
    old = log_in(APIClient(), client_user).json()["access"]
    log_in(api, client_user)
    api.post(LOGOUT, {}, format="json")
    fresh = log_in(APIClient(), client_user).json()["access"]

    _bearer(old).post(LOGOUT, {}, format="json")

    assert _bearer(fresh).get(USER).status_code == 200


@pytest.mark.django_db
def test_login_after_logout_works(api, log_in, client_user):
    log_in(api, client_user)
    api.post(LOGOUT, {}, format="json")

    access = log_in(api, client_user).json()["access"]

    assert _bearer(access).get(USER).status_code == 200
    assert api.get(USER).status_code == 200


# --- refresh-token reuse -------------------------------------------------------


@pytest.mark.django_db
def test_refresh_reuse_revokes_the_successors(api, log_in, client_user):
    login = log_in(api, client_user)
    first_refresh = login.cookies[REFRESH_COOKIE].value
    rotated = _refresh(first_refresh)
    assert rotated.status_code == 200
    second_refresh = rotated.cookies[REFRESH_COOKIE].value
    second_access = rotated.json()["access"]
    _age_blacklisting(_jti(first_refresh), seconds=60)

    # Someone replays the rotated token: it was stolen.
    assert _refresh(first_refresh).status_code == 401

    assert _refresh(second_refresh).status_code == 401
    assert _bearer(second_access).get(USER).status_code == 401
    assert _bearer(login.json()["access"]).get(USER).status_code == 401
    assert api.get(USER).status_code == 401  # the session too


@pytest.mark.django_db
def test_refresh_reuse_within_grace_is_refused_without_revoking(
    api, log_in, client_user
):
    """Two tabs refreshing at once: the loser gets 401, the winner stays in."""
    first_refresh = log_in(api, client_user).cookies[REFRESH_COOKIE].value
    rotated = _refresh(first_refresh)

    assert _refresh(first_refresh).status_code == 401

    assert _bearer(rotated.json()["access"]).get(USER).status_code == 200
    assert _refresh(rotated.cookies[REFRESH_COOKIE].value).status_code == 200


@pytest.mark.django_db
def test_refresh_of_a_revoked_family_does_not_revoke_again(api, log_in, client_user):
    stolen = log_in(APIClient(), client_user).cookies[REFRESH_COOKIE].value
    log_in(api, client_user)
    api.post(LOGOUT, {}, format="json")
    fresh = log_in(APIClient(), client_user).json()["access"]

    assert _refresh(stolen).status_code == 401

    assert _bearer(fresh).get(USER).status_code == 200


@pytest.mark.django_db
def test_token_revoke_bumps_generation(client_user):
    before = client_user.token_generation

    services.user_tokens_revoke(user=client_user, reason="test")

    client_user.refresh_from_db()
    assert client_user.token_generation == before + 1


@pytest.mark.django_db
def test_authenticated_request_adds_no_query_for_the_check(
    log_in, client_user, django_assert_num_queries
):
    access = log_in(APIClient(), client_user).json()["access"]
    bearer = _bearer(access)

    # One query: the user row that simplejwt loads anyway.
    with django_assert_num_queries(1):
        assert bearer.get(USER).status_code == 200


# --- WebSocket -----------------------------------------------------------------


def _ws_headers(access: str) -> list[tuple[bytes, bytes]]:
    return [ORIGIN, (b"authorization", f"Bearer {access}".encode())]


@pytest.mark.parametrize("carrier", ["bearer", "cookie"])
@pytest.mark.django_db(transaction=True)
def test_websocket_refuses_an_access_token_after_logout(log_in, client_user, carrier):
    api = APIClient()
    access = log_in(api, client_user).json()["access"]
    api.post(LOGOUT, {}, format="json")
    headers = (
        _ws_headers(access)
        if carrier == "bearer"
        else [ORIGIN, (b"cookie", f"{ACCESS_COOKIE}={access}".encode())]
    )

    async def scenario():
        socket = WebsocketCommunicator(
            websocket_application, "/ws/payments/", headers=headers
        )
        connected, code = await socket.connect()
        assert not connected and code == 4401

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_websocket_refuses_the_session_after_logout(client, client_user):
    client.force_login(client_user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    services.user_tokens_revoke(user=client_user, reason="test")
    headers = [
        ORIGIN,
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode()),
    ]

    async def scenario():
        socket = WebsocketCommunicator(
            websocket_application, "/ws/payments/", headers=headers
        )
        connected, code = await socket.connect()
        assert not connected and code == 4401

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_logout_closes_the_users_open_sockets_with_4401(log_in, client_user, coach):
    api = APIClient()
    access = log_in(api, client_user).json()["access"]
    coach_access = log_in(APIClient(), coach).json()["access"]

    async def scenario():
        mine = WebsocketCommunicator(
            websocket_application, "/ws/payments/", headers=_ws_headers(access)
        )
        theirs = WebsocketCommunicator(
            websocket_application, "/ws/payments/", headers=_ws_headers(coach_access)
        )
        assert (await mine.connect())[0]
        assert (await theirs.connect())[0]

        from asgiref.sync import sync_to_async

        await sync_to_async(api.post)(LOGOUT, {}, format="json")

        closed = await mine.receive_output(timeout=5)
        assert closed == {"type": "websocket.close", "code": 4401}
        # Positive control: the other user's socket still answers.
        await theirs.send_json_to({"type": "ping"})
        assert await theirs.receive_json_from(timeout=5) == {"type": "pong"}
        await theirs.disconnect()

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_refresh_reuse_closes_the_users_open_sockets(log_in, client_user):
    login = log_in(APIClient(), client_user)
    first_refresh = login.cookies[REFRESH_COOKIE].value
    rotated = _refresh(first_refresh)
    _age_blacklisting(_jti(first_refresh), seconds=60)

    async def scenario():
        socket = WebsocketCommunicator(
            websocket_application,
            "/ws/payments/",
            headers=_ws_headers(rotated.json()["access"]),
        )
        assert (await socket.connect())[0]
        from asgiref.sync import sync_to_async

        assert (await sync_to_async(_refresh)(first_refresh)).status_code == 401

        closed = await socket.receive_output(timeout=5)
        assert closed == {"type": "websocket.close", "code": 4401}

    async_to_sync(scenario)()
