"""API authentication: a Bearer header, else the access cookie, else the session."""

from dj_rest_auth.jwt_auth import JWTCookieAuthentication
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts.tokens import token_is_current


class JwtCookieOrSessionAuthentication(JWTCookieAuthentication):
    """dj-rest-auth's JWT authentication, letting an expired cookie fall through.

    The access cookie lives five minutes; a page open longer still has its
    Django session. An invalid or expired *cookie* therefore means "not
    authenticated by this class" and the session gets its turn (CSRF is
    enforced either way). An invalid ``Authorization: Bearer`` token is still
    a 401: an API client must hear that its token is wrong.

    A token of an older generation than its user's (issued before a logout or
    a detected refresh-token replay) is refused like an invalid one. The check
    reads the user row simplejwt loads anyway: no extra query.
    """

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except (InvalidToken, AuthenticationFailed):
            if self.get_header(request) is not None:
                raise
            return None

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        if not token_is_current(validated_token, user):
            raise AuthenticationFailed(
                _("Your session has ended. Log in again."), code="token_revoked"
            )
        return user
