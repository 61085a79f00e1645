"""The auth API: status, shape, cookies and permissions of every endpoint."""

import time

import pytest
from django.core import mail
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import (
    BlacklistedToken,
    OutstandingToken,
)

from accounts.models import User
from bookings.models import AvailabilityWindow, CoachProfile, Offering
from tests.accounts.conftest import ACCESS_COOKIE, REFRESH_COOKIE
from tests.factories import PASSWORD, ClientFactory

pytestmark = pytest.mark.django_db

LOGIN = "/api/auth/login/"
LOGOUT = "/api/auth/logout/"
USER = "/api/auth/user/"
REFRESH = "/api/auth/token/refresh/"
REGISTER = "/api/auth/registration/"

STRONG_PASSWORD = "violet-kettle-harbour-42"


def _error(response) -> dict:
    body = response.json()
    assert body["success"] is False
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def _user_json(user: User) -> dict:
    return {
        "id": str(user.pk),
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "timeZone": user.time_zone,
    }


# --- login ---------------------------------------------------------------------


def test_login_valid_credentials_returns_access_token_and_user(api, any_user):
    response = api.post(
        LOGIN, {"email": any_user.email, "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "success",
        "access",
        "accessExpiration",
        "refreshExpiration",
        "user",
    }
    assert body["success"] is True
    assert body["access"] == response.cookies[ACCESS_COOKIE].value
    assert body["user"] == _user_json(any_user)


def test_login_response_never_contains_refresh_token(api, client_user):
    response = api.post(
        LOGIN, {"email": client_user.email, "password": PASSWORD}, format="json"
    )

    refresh = response.cookies[REFRESH_COOKIE].value
    assert refresh
    assert refresh not in response.content.decode()
    assert "refresh" not in response.json()


def test_login_email_in_other_letter_case_succeeds(api, client_user):
    response = api.post(
        LOGIN, {"email": "Client@Example.COM", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["user"]["email"] == "client@example.com"


def test_login_cookies_are_httponly_lax_and_secure(api, client_user):
    response = api.post(
        LOGIN, {"email": client_user.email, "password": PASSWORD}, format="json"
    )

    for name in (ACCESS_COOKIE, REFRESH_COOKIE, "sessionid"):
        cookie = response.cookies[name]
        assert cookie["httponly"] is True, name
        assert cookie["samesite"] == "Lax", name
        assert cookie["secure"] is True, name
    assert response.cookies[REFRESH_COOKIE]["path"] == "/api/auth/"


def test_login_access_token_works_as_bearer(api, client_user, bearer_api):
    access = api.post(
        LOGIN, {"email": client_user.email, "password": PASSWORD}, format="json"
    ).json()["access"]

    response = bearer_api(access).get(USER)

    assert response.status_code == 200
    assert response.json()["id"] == str(client_user.pk)


def test_login_creates_session_usable_by_pages(api, any_user, log_in):
    log_in(api, any_user)
    api.cookies.pop(ACCESS_COOKIE)
    api.cookies.pop(REFRESH_COOKIE)

    assert api.session["_auth_user_id"] == str(any_user.pk)
    page = api.get("/login/")
    assert any_user.display_name in page.content.decode()
    assert api.get(USER).json()["id"] == str(any_user.pk)


def test_login_as_admin_session_opens_django_admin(api, admin_user, log_in):
    log_in(api, admin_user)

    assert api.get("/admin/").status_code == 200


def test_login_wrong_password_returns_invalid_credentials(api, client_user):
    response = api.post(
        LOGIN, {"email": client_user.email, "password": "not-it"}, format="json"
    )

    assert response.status_code == 400
    assert _error(response)["code"] == "invalid_credentials"
    assert ACCESS_COOKIE not in response.cookies
    assert "sessionid" not in response.cookies


def test_login_unknown_email_answers_like_wrong_password(api, client_user):
    wrong_password = api.post(
        LOGIN, {"email": client_user.email, "password": "not-it"}, format="json"
    )
    unknown_email = api.post(
        LOGIN, {"email": "nobody@example.com", "password": "not-it"}, format="json"
    )

    assert unknown_email.status_code == wrong_password.status_code == 400
    assert unknown_email.json() == wrong_password.json()


def test_login_inactive_user_returns_invalid_credentials(api):
    user = ClientFactory(is_active=False)

    response = api.post(
        LOGIN, {"email": user.email, "password": PASSWORD}, format="json"
    )

    assert response.status_code == 400
    assert _error(response)["code"] == "invalid_credentials"


@pytest.mark.parametrize(
    "payload", [{}, {"email": "client@example.com"}, {"password": PASSWORD}]
)
def test_login_missing_fields_returns_validation_error(api, client_user, payload):
    response = api.post(LOGIN, payload, format="json")

    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "validation_error"
    assert set(error["details"]["fields"]) == {"email", "password"} - set(payload)


def test_login_get_returns_method_not_allowed(api):
    response = api.get(LOGIN)

    assert response.status_code == 405
    assert _error(response)["code"] == "method_not_allowed"


def test_login_with_stale_access_cookie_still_succeeds(api, client_user):
    api.cookies[ACCESS_COOKIE] = "expired.or.garbage"

    response = api.post(
        LOGIN, {"email": client_user.email, "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200


# --- failed-login lockout ------------------------------------------------------


@pytest.fixture
def low_limit(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_LOCKOUT_SECONDS = 300
    return settings


def _fail(client, email, **extra):
    return client.post(
        LOGIN, {"email": email, "password": "wrong-guess"}, format="json", **extra
    )


def test_login_after_limit_failures_returns_429_with_retry_after(
    api, client_user, low_limit
):
    statuses = [_fail(api, client_user.email).status_code for _ in range(3)]

    response = api.post(
        LOGIN, {"email": client_user.email, "password": PASSWORD}, format="json"
    )

    assert statuses == [400, 400, 400]
    assert response.status_code == 429
    error = _error(response)
    assert error["code"] == "rate_limited"
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= 300
    assert error["details"]["retryAfter"] == retry_after
    assert ACCESS_COOKIE not in response.cookies


def test_login_lockout_counts_email_in_any_letter_case(api, client_user, low_limit):
    for email in ("client@example.com", "CLIENT@example.com", "Client@Example.com"):
        _fail(api, email)

    assert _fail(api, "client@EXAMPLE.com").status_code == 429


def test_login_success_resets_email_failures(api, client_user, low_limit, log_in):
    for _ in range(2):
        _fail(api, client_user.email)
    log_in(APIClient(), client_user)

    statuses = [_fail(api, client_user.email).status_code for _ in range(2)]

    assert statuses == [400, 400]


def test_login_lockout_of_one_email_spares_others(api, client_user, low_limit):
    other = ClientFactory()
    for _ in range(3):
        _fail(api, client_user.email)

    response = api.post(
        LOGIN, {"email": other.email, "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200


def test_login_per_address_limit_blocks_many_emails_from_one_address(
    api, client_user, low_limit
):
    # Four times the per-email limit, spread so that no email reaches its own.
    for n in range(12):
        assert _fail(api, f"guess{n}@example.com").status_code == 400

    same_address = api.post(
        LOGIN, {"email": client_user.email, "password": PASSWORD}, format="json"
    )
    other_address = APIClient(REMOTE_ADDR="203.0.113.9").post(
        LOGIN, {"email": client_user.email, "password": PASSWORD}, format="json"
    )

    assert same_address.status_code == 429
    assert other_address.status_code == 200


def test_login_forwarded_for_header_does_not_escape_address_limit(
    api, client_user, low_limit
):
    for n in range(12):
        _fail(api, f"guess{n}@example.com", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")

    response = api.post(
        LOGIN,
        {"email": client_user.email, "password": PASSWORD},
        format="json",
        HTTP_X_FORWARDED_FOR="198.51.100.200",
    )

    assert response.status_code == 429


def test_login_lockout_ends_after_lockout_seconds(api, client_user, settings):
    settings.LOGIN_FAILURE_LIMIT = 1
    settings.LOGIN_LOCKOUT_SECONDS = 1
    _fail(api, client_user.email)
    assert _fail(api, client_user.email).status_code == 429

    time.sleep(1.2)

    response = api.post(
        LOGIN, {"email": client_user.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200


# --- logout --------------------------------------------------------------------


def test_logout_blacklists_refresh_cookie_and_clears_cookies(api, any_user, log_in):
    refresh = log_in(api, any_user).cookies[REFRESH_COOKIE].value

    response = api.post(LOGOUT, HTTP_X_CSRFTOKEN=api.cookies["csrftoken"].value)

    assert response.status_code == 200
    assert response.json() == {"success": True}
    for name in (ACCESS_COOKIE, REFRESH_COOKIE, "sessionid"):
        assert response.cookies[name].value == ""
        assert response.cookies[name]["max-age"] == 0
    assert BlacklistedToken.objects.filter(token__token=refresh).exists()
    again = APIClient().post(REFRESH, {"refresh": refresh}, format="json")
    assert again.status_code == 401
    assert _error(again)["code"] == "token_not_valid"


def test_logout_with_session_only_revokes_the_sessions_refresh_token(
    api, client_user, log_in
):
    refresh = log_in(api, client_user).cookies[REFRESH_COOKIE].value
    api.cookies.pop(REFRESH_COOKIE)
    api.cookies.pop(ACCESS_COOKIE)

    response = api.post(LOGOUT, HTTP_X_CSRFTOKEN=api.cookies["csrftoken"].value)

    assert response.status_code == 200
    assert BlacklistedToken.objects.filter(token__token=refresh).exists()


def test_logout_ends_other_logins_of_the_user_too(api, client_user, log_in):
    """Logout is "log out everywhere" (README, Decisions: token generation)."""
    other_device = log_in(APIClient(), client_user).cookies[REFRESH_COOKIE].value
    log_in(api, client_user)

    api.post(LOGOUT, HTTP_X_CSRFTOKEN=api.cookies["csrftoken"].value)

    response = APIClient().post(REFRESH, {"refresh": other_device}, format="json")
    assert response.status_code == 401


def test_logout_ends_django_session(api, client_user, log_in):
    log_in(api, client_user)

    api.post(LOGOUT, HTTP_X_CSRFTOKEN=api.cookies["csrftoken"].value)

    assert "_auth_user_id" not in api.session
    assert api.get(USER).status_code == 401


def test_logout_bearer_client_revokes_refresh_from_body(
    client_user, log_in, bearer_api
):
    login = log_in(APIClient(), client_user)
    refresh = login.cookies[REFRESH_COOKIE].value

    response = bearer_api(login.json()["access"]).post(
        LOGOUT, {"refresh": refresh}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert (
        APIClient().post(REFRESH, {"refresh": refresh}, format="json").status_code
        == 401
    )


@pytest.mark.parametrize("body", [{}, {"refresh": ""}, {"refresh": "not-a-token"}])
def test_logout_without_valid_token_succeeds(api, body):
    response = api.post(LOGOUT, body, format="json")

    assert response.status_code == 200
    assert response.json() == {"success": True}


def test_logout_twice_succeeds_both_times(api, client_user, log_in):
    log_in(api, client_user)
    refresh = api.cookies[REFRESH_COOKIE].value
    csrf = api.cookies["csrftoken"].value

    first = api.post(LOGOUT, HTTP_X_CSRFTOKEN=csrf)
    second = api.post(LOGOUT, {"refresh": refresh}, format="json")

    assert first.status_code == second.status_code == 200


def test_logout_get_returns_method_not_allowed(api):
    response = api.get(LOGOUT)

    assert response.status_code == 405
    assert _error(response)["code"] == "method_not_allowed"


# --- current user --------------------------------------------------------------


def test_user_get_returns_exactly_id_email_name_role(api, any_user, log_in):
    log_in(api, any_user)

    response = api.get(USER)

    assert response.status_code == 200
    assert response.json() == {"success": True, **_user_json(any_user)}


def test_user_get_anonymous_returns_401(api):
    response = api.get(USER)

    assert response.status_code == 401
    assert _error(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_user_get_invalid_bearer_returns_401(bearer_api, client_user):
    response = bearer_api("not-a-jwt").get(USER)

    assert response.status_code == 401
    assert _error(response)["code"] == "authentication_failed"


def _expired_access(user) -> str:
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(minutes=1))
    return str(token)


def _refresh_as_access(user) -> str:
    from rest_framework_simplejwt.tokens import RefreshToken

    return str(RefreshToken.for_user(user))


def _foreign_signature(user) -> str:
    import jwt

    return jwt.encode(
        {"user_id": str(user.pk)}, "another-key-" + "x" * 40, algorithm="HS256"
    )


@pytest.mark.parametrize(
    "make_token",
    [
        lambda user: "not-a-jwt",
        _expired_access,
        _refresh_as_access,
        _foreign_signature,
    ],
    ids=["garbage", "expired", "refresh", "foreign_signature"],
)
def test_user_get_bad_bearer_message_is_a_sentence(bearer_api, client_user, make_token):
    response = bearer_api(make_token(client_user)).get(USER)

    assert response.status_code == 401
    error = _error(response)
    assert error["code"] == "authentication_failed"
    assert isinstance(error["message"], str)
    assert "ErrorDetail" not in error["message"]
    assert "{" not in error["message"] and "[" not in error["message"]
    assert error["message"].endswith(".")
    assert error["details"] == {"reason": "token_not_valid"}


def test_user_get_django_session_only_is_authenticated(api, coach):
    api.force_login(coach)

    response = api.get(USER)

    assert response.status_code == 200
    assert response.json()["role"] == "coach"


def test_user_patch_name_changes_it(api, any_user, log_in):
    log_in(api, any_user)

    response = api.patch(
        USER,
        {"name": "New Name"},
        format="json",
        HTTP_X_CSRFTOKEN=api.cookies["csrftoken"].value,
    )

    assert response.status_code == 200
    assert response.json()["name"] == "New Name"
    any_user.refresh_from_db()
    assert any_user.name == "New Name"


@pytest.mark.parametrize(
    "payload",
    [
        {"role": "admin"},
        {"name": "X", "role": "admin"},
        {"email": "other@example.com"},
        {"name": "X", "is_staff": True},
    ],
)
def test_user_patch_role_or_email_is_refused(api, client_user, log_in, payload):
    log_in(api, client_user)

    response = api.patch(
        USER, payload, format="json", HTTP_X_CSRFTOKEN=api.cookies["csrftoken"].value
    )

    assert response.status_code == 400
    assert _error(response)["code"] == "validation_error"
    client_user.refresh_from_db()
    assert (client_user.role, client_user.email, client_user.is_staff) == (
        "client",
        "client@example.com",
        False,
    )


def test_user_patch_anonymous_returns_401(api):
    assert api.patch(USER, {"name": "X"}, format="json").status_code == 401


# --- token refresh -------------------------------------------------------------


def test_token_refresh_rotates_refresh_cookie_and_returns_access(api, any_user, log_in):
    log_in(api, any_user)
    old_refresh = api.cookies[REFRESH_COOKIE].value

    response = api.post(REFRESH, HTTP_X_CSRFTOKEN=api.cookies["csrftoken"].value)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"success", "access", "accessExpiration"}
    assert body["success"] is True
    assert body["access"] == response.cookies[ACCESS_COOKIE].value
    new_refresh = response.cookies[REFRESH_COOKIE]
    assert new_refresh.value not in ("", old_refresh)
    assert new_refresh["httponly"] is True
    assert new_refresh["secure"] is True
    assert new_refresh["samesite"] == "Lax"
    assert BlacklistedToken.objects.filter(token__token=old_refresh).exists()


def test_token_refresh_new_access_works_as_bearer(api, client_user, log_in, bearer_api):
    log_in(api, client_user)
    access = api.post(REFRESH, HTTP_X_CSRFTOKEN=api.cookies["csrftoken"].value).json()[
        "access"
    ]

    assert bearer_api(access).get(USER).status_code == 200


def test_token_refresh_old_token_rejected_after_rotation(api, client_user, log_in):
    old_refresh = log_in(api, client_user).cookies[REFRESH_COOKIE].value
    api.post(REFRESH, HTTP_X_CSRFTOKEN=api.cookies["csrftoken"].value)

    response = APIClient().post(REFRESH, {"refresh": old_refresh}, format="json")

    assert response.status_code == 401
    assert _error(response)["code"] == "token_not_valid"
    assert REFRESH_COOKIE not in response.cookies


def test_token_refresh_rotated_token_refreshes_again(api, client_user, log_in):
    log_in(api, client_user)
    csrf = api.cookies["csrftoken"].value

    first = api.post(REFRESH, HTTP_X_CSRFTOKEN=csrf)
    second = api.post(REFRESH, HTTP_X_CSRFTOKEN=csrf)

    assert first.status_code == second.status_code == 200


@pytest.mark.parametrize("body", [{}, {"refresh": ""}, {"refresh": "garbage"}])
def test_token_refresh_without_valid_token_returns_401(api, body):
    response = api.post(REFRESH, body, format="json")

    assert response.status_code == 401
    assert _error(response)["code"] == "token_not_valid"


def test_token_refresh_access_token_in_place_of_refresh_returns_401(
    api, client_user, log_in
):
    access = log_in(APIClient(), client_user).json()["access"]

    response = api.post(REFRESH, {"refresh": access}, format="json")

    assert response.status_code == 401


def test_token_refresh_inactive_user_returns_401(api, client_user, log_in):
    refresh = log_in(APIClient(), client_user).cookies[REFRESH_COOKIE].value
    User.objects.filter(pk=client_user.pk).update(is_active=False)

    response = api.post(REFRESH, {"refresh": refresh}, format="json")

    assert response.status_code == 401


# --- CSRF ----------------------------------------------------------------------


def test_cookie_auth_unsafe_requests_without_csrf_token_are_forbidden(
    csrf_api, client_user, log_in
):
    log_in(csrf_api, client_user)  # no cookies yet: nothing to forge

    for method, url in [("patch", USER), ("post", REFRESH), ("post", LOGOUT)]:
        response = getattr(csrf_api, method)(url, {"name": "X"}, format="json")
        assert response.status_code == 403, url
        error = _error(response)
        assert error["code"] == "forbidden"
        assert "CSRF" in error["message"]
    client_user.refresh_from_db()
    assert client_user.name != "X"


def test_cookie_auth_login_again_without_csrf_token_is_forbidden(
    csrf_api, client_user, log_in
):
    log_in(csrf_api, client_user)

    response = csrf_api.post(
        LOGIN, {"email": client_user.email, "password": PASSWORD}, format="json"
    )

    assert response.status_code == 403


def test_cookie_auth_unsafe_requests_with_csrf_token_succeed(
    csrf_api, client_user, log_in
):
    log_in(csrf_api, client_user)
    csrf = csrf_api.cookies["csrftoken"].value

    patched = csrf_api.patch(USER, {"name": "Y"}, format="json", HTTP_X_CSRFTOKEN=csrf)
    refreshed = csrf_api.post(REFRESH, HTTP_X_CSRFTOKEN=csrf)
    logged_out = csrf_api.post(LOGOUT, HTTP_X_CSRFTOKEN=csrf)

    assert [patched.status_code, refreshed.status_code, logged_out.status_code] == [
        200,
        200,
        200,
    ]


def test_cookie_auth_safe_request_needs_no_csrf_token(csrf_api, client_user, log_in):
    log_in(csrf_api, client_user)

    assert csrf_api.get(USER).status_code == 200


def test_bearer_unsafe_request_needs_no_csrf_token(client_user, log_in, bearer_api):
    access = log_in(APIClient(), client_user).json()["access"]

    response = bearer_api(access).patch(USER, {"name": "Z"}, format="json")

    assert response.status_code == 200


# --- registration --------------------------------------------------------------


def _register(client, **overrides):
    payload = {
        "email": "new@example.com",
        "password": STRONG_PASSWORD,
        "name": "New Person",
        "role": "client",
    }
    payload.update(overrides)
    payload = {key: value for key, value in payload.items() if value is not None}
    return client.post(REGISTER, payload, format="json")


@pytest.mark.parametrize("role", ["client", "coach"])
def test_registration_creates_inactive_user_and_emails_a_link(
    api, role, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _register(
            api, role=role, email="New@Example.com", timeZone="Asia/Tokyo", next="/x/"
        )

    assert response.status_code == 202
    assert response.json() == {
        "success": True,
        "detail": "Check your email: follow the link we sent to continue.",
    }
    user = User.objects.get(email="new@example.com")
    assert (user.role, user.time_zone) == (role, "Asia/Tokyo")
    assert user.check_password(STRONG_PASSWORD)
    assert (user.is_active, user.is_staff) == (False, False)
    # Nobody is logged in until the emailed link is followed.
    assert ACCESS_COOKIE not in response.cookies
    assert "sessionid" not in response.cookies
    assert not OutstandingToken.objects.exists()
    [message] = mail.outbox
    assert "/register/confirm/" in message.body
    assert "?next=%2Fx%2F" in message.body


def test_registration_new_and_known_email_answer_identically(
    api, client_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        new = _register(api, email="new@example.com")
        known = _register(api, email=client_user.email.upper())

    assert (new.status_code, new.json()) == (known.status_code, known.json())
    assert User.objects.count() == 2
    assert [m.to for m in mail.outbox] == [["new@example.com"], [client_user.email]]
    assert mail.outbox[1].subject == "Someone tried to sign up with your email address"


def test_registration_external_next_is_dropped(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _register(api, next="https://evil.example/")

    assert "next=" not in mail.outbox[0].body


def test_registration_coach_gets_empty_coach_profile(api):
    _register(api, role="coach")

    profile = CoachProfile.objects.get(user__email="new@example.com")
    assert not AvailabilityWindow.objects.filter(coach=profile).exists()
    assert not Offering.objects.filter(coach=profile.user).exists()


def test_registration_client_gets_no_coach_profile(api):
    _register(api, role="client")

    assert not CoachProfile.objects.exists()


def test_registration_without_role_makes_a_client(api):
    response = _register(api, role=None)

    assert response.status_code == 202
    assert User.objects.get().role == "client"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"role": "admin"}, "role"),
        ({"role": "superuser"}, "role"),
        ({"email": None}, "email"),
        ({"password": None}, "password"),
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "password123"}, "password"),
        ({"password": "83749261538"}, "password"),
        ({"password": "new@example.com"}, "password"),
    ],
)
def test_registration_invalid_input_returns_400_and_writes_nothing(
    api, overrides, field
):
    response = _register(api, **overrides)

    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "validation_error"
    assert field in error["details"]["fields"]
    assert not User.objects.exists()
    assert not OutstandingToken.objects.exists()
    assert ACCESS_COOKIE not in response.cookies
    assert "sessionid" not in response.cookies


def test_registration_by_logged_in_user_logs_nobody_else_in(api, any_user, log_in):
    log_in(api, any_user)

    response = api.post(
        REGISTER,
        {"email": "new@example.com", "password": STRONG_PASSWORD, "name": "N"},
        format="json",
        HTTP_X_CSRFTOKEN=api.cookies["csrftoken"].value,
    )

    assert response.status_code == 202
    assert api.get(USER).json()["email"] == any_user.email


def test_user_patch_changes_time_zone_and_refuses_unknown_ones(
    api, client_user, log_in
):
    log_in(api, client_user)
    csrf = api.cookies["csrftoken"].value

    ok = api.patch(
        USER, {"timeZone": "Asia/Tokyo"}, format="json", HTTP_X_CSRFTOKEN=csrf
    )
    bad = api.patch(
        USER, {"timeZone": "Mars/Olympus_Mons"}, format="json", HTTP_X_CSRFTOKEN=csrf
    )

    assert ok.status_code == 200
    assert ok.json()["timeZone"] == "Asia/Tokyo"
    assert bad.status_code == 400
    assert "timeZone" in _error(bad)["details"]["fields"]
    client_user.refresh_from_db()
    assert client_user.time_zone == "Asia/Tokyo"


# --- schema --------------------------------------------------------------------


def test_schema_documents_every_auth_endpoint(api):
    response = api.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert set(paths[LOGIN]) >= {"post"}
    assert set(paths[LOGOUT]) >= {"post"}
    assert set(paths[USER]) >= {"get", "patch"}
    assert set(paths[REFRESH]) >= {"post"}
    assert set(paths[REGISTER]) >= {"post"}
    login_200 = paths[LOGIN]["post"]["responses"]["200"]["content"]
    schema_ref = login_200["application/json"]["schema"]["$ref"]
    component = response.json()["components"]["schemas"][schema_ref.split("/")[-1]]
    assert {"success", "access", "user"} <= set(component["properties"])
    assert "refresh" not in component["properties"]
