"""WebSocket authentication: the session, else a JWT from the access cookie or
an ``Authorization: Bearer`` header on the handshake."""

from http.cookies import SimpleCookie

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken


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
    user_id = token.get(settings.SIMPLE_JWT.get("USER_ID_CLAIM", "user_id"))
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


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
