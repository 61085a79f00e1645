"""JWTs that end with their user's token generation.

Every token issued here carries the user's ``token_generation`` as the claim
``gen``; the access token made from a refresh token copies it. A token whose
generation is not the user's current one is refused everywhere (API, refresh,
WebSocket), so bumping the generation (``services.user_tokens_revoke``) ends
every token of the user at once, without a denylist to look up.
"""

from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import BlacklistMixin, RefreshToken, Token
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts.models import User

GENERATION_CLAIM = "gen"


class UserRefreshToken(RefreshToken):
    """A refresh token (and its access token) stamped with the user's generation."""

    @classmethod
    def for_user(cls, user: User) -> "UserRefreshToken":
        # simplejwt's BlacklistMixin.for_user records the outstanding token
        # before a subclass could add a claim; skip it (Token.for_user sets the
        # user claims), add ours, then record the token as it is handed out.
        token = super(BlacklistMixin, cls).for_user(user)
        token[GENERATION_CLAIM] = user.token_generation
        OutstandingToken.objects.create(
            user=user,
            jti=token[jwt_settings.JTI_CLAIM],
            token=str(token),
            created_at=token.current_time,
            expires_at=datetime_from_epoch(token["exp"]),
        )
        return token


def token_generation(token: Token) -> int:
    """The generation a token was issued in (0 for tokens from before the claim)."""
    value = token.get(GENERATION_CLAIM, 0)
    return value if isinstance(value, int) else -1


def token_is_current(token: Token, user: User) -> bool:
    """Whether the token was issued in the user's current generation."""
    return token_generation(token) == user.token_generation


def token_user_id(token: Token):
    return token.get(jwt_settings.USER_ID_CLAIM)
