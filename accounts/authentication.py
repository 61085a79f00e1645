"""API authentication: a Bearer header, else the access cookie, else the session."""

from dj_rest_auth.jwt_auth import JWTCookieAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken


class JwtCookieOrSessionAuthentication(JWTCookieAuthentication):
    """dj-rest-auth's JWT authentication, letting an expired cookie fall through.

    The access cookie lives five minutes; a page open longer still has its
    Django session. An invalid or expired *cookie* therefore means "not
    authenticated by this class" and the session gets its turn (CSRF is
    enforced either way). An invalid ``Authorization: Bearer`` token is still
    a 401: an API client must hear that its token is wrong.
    """

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except (InvalidToken, AuthenticationFailed):
            if self.get_header(request) is not None:
                raise
            return None
