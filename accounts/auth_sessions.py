"""A browser login: a Django session plus the JWT pair in httpOnly cookies.

Pages and the API log in and out through these functions, so a browser is
logged in to both or to neither. The refresh cookie is sent only to
``/api/auth/`` (``JWT_AUTH_REFRESH_COOKIE_PATH``), so a page never sees it: the
session remembers the id of the refresh token it was issued with, and logging
out revokes that token even from a page.
"""

from dj_rest_auth.app_settings import api_settings as rest_auth_settings
from dj_rest_auth.jwt_auth import unset_jwt_cookies
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import services
from accounts.models import User

SESSION_REFRESH_JTI = "accounts.refresh_jti"


def session_start(request: HttpRequest, user: User) -> RefreshToken:
    """Log the user in to the Django session and issue the JWT pair for it.

    The caller sets the cookies on its response (``set_jwt_cookies``).
    """
    login(request, user)
    refresh = services.refresh_token_issue(user=user)
    request.session[SESSION_REFRESH_JTI] = refresh[jwt_settings.JTI_CLAIM]
    return refresh


def session_refresh_rotated(request: HttpRequest, refresh: RefreshToken) -> None:
    """Point the session at the refresh token that replaced its own."""
    session = request.session
    if SESSION_REFRESH_JTI in session and session.get("_auth_user_id") == str(
        refresh[jwt_settings.USER_ID_CLAIM]
    ):
        session[SESSION_REFRESH_JTI] = refresh[jwt_settings.JTI_CLAIM]


def session_end(
    request: HttpRequest, response: HttpResponse, *, refresh: str | None = None
) -> None:
    """Log the user out everywhere, end the session, clear the cookies.

    Whoever the session, the access token (``Authorization: Bearer`` or the
    cookie) or a refresh token (the cookie, sent only to ``/api/auth/``, or
    ``refresh`` from a client) proves is logged out on every device
    (``services.user_logout``): their JWTs, sessions and sockets end now, not
    when the access token expires. The refresh tokens at hand and the one the
    session remembers are blacklisted too. Idempotent.
    """
    services.user_logout(
        session_user=getattr(request, "user", None),
        access_tokens=[
            _bearer_token(request),
            request.COOKIES.get(rest_auth_settings.JWT_AUTH_COOKIE),
        ],
        refresh_tokens=[
            request.COOKIES.get(rest_auth_settings.JWT_AUTH_REFRESH_COOKIE),
            refresh,
        ],
    )
    services.refresh_token_revoke_by_jti(jti=request.session.get(SESSION_REFRESH_JTI))
    logout(request)
    unset_jwt_cookies(response)


def _bearer_token(request: HttpRequest) -> str | None:
    kind, _, raw = request.headers.get("Authorization", "").partition(" ")
    if kind.lower() != "bearer":
        return None
    return raw.strip() or None
