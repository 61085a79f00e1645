"""WebSocket authentication: the session, else a JWT from the access cookie or
an ``Authorization: Bearer`` header on the handshake."""

from http.cookies import SimpleCookie

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from accounts import realtime
from accounts.tokens import token_is_current, token_user_id


def _token_from_scope(scope) -> str | None:
    headers = dict(scope.get("headers") or [])
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    cookies = SimpleCookie()
    cookies.load(headers.get(b"cookie", b"").decode("latin-1"))
    morsel = cookies.get(settings.REST_AUTH["JWT_AUTH_COOKIE"])
    return morsel.value if morsel else None


@database_sync_to_async
def _user_for_token(raw: str):
    try:
        token = AccessToken(raw)
    except TokenError:
        return None
    user = (
        get_user_model().objects.filter(pk=token_user_id(token), is_active=True).first()
    )
    if user is None or not token_is_current(token, user):
        return None  # e.g. issued before a logout: anonymous, closed with 4401
    return user


class JwtAuthMiddleware:
    """Fill ``scope["user"]`` from a JWT when the session did not."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if user is None or not user.is_authenticated:
            raw = _token_from_scope(scope)
            if raw:
                found = await _user_for_token(raw)
                if found is not None:
                    scope = {**scope, "user": found}
        return await self.inner(scope, receive, send)


def WebsocketAuthStack(inner):
    return AuthMiddlewareStack(JwtAuthMiddleware(inner))


@database_sync_to_async
def _current_generation(user_id) -> int | None:
    return (
        get_user_model()
        .objects.filter(pk=user_id, is_active=True)
        .values_list("token_generation", flat=True)
        .first()
    )


class RevocableSocketMixin:
    """Close a consumer's socket with 4401 when its user's tokens are revoked.

    ``scope["user"]`` was loaded at the handshake, so its ``token_generation``
    is the generation this socket was authenticated in (session and JWT
    alike). The consumer calls ``revocation_watch`` after accepting and
    ``revocation_unwatch`` on disconnect.
    """

    close_code_revoked = 4401

    async def revocation_watch(self) -> bool:
        """Join the user's group; False (and closed) if revoked meanwhile."""
        user = self.scope["user"]
        self._auth_generation = user.token_generation
        await self.channel_layer.group_add(
            realtime.user_group(user.pk), self.channel_name
        )
        # A logout between the handshake's check and joining the group would
        # have been missed: look once more, now that we are listening.
        if await _current_generation(user.pk) != self._auth_generation:
            await self.close(code=self.close_code_revoked)
            return False
        return True

    async def revocation_unwatch(self) -> None:
        user = self.scope.get("user")
        if getattr(self, "_auth_generation", None) is not None:
            await self.channel_layer.group_discard(
                realtime.user_group(user.pk), self.channel_name
            )

    async def auth_revoked(self, event) -> None:
        """A ``realtime.TOKENS_REVOKED`` message for this socket's user."""
        if event["generation"] > self._auth_generation:
            await self.close(code=self.close_code_revoked)
