"""OpenAPI description of our authentication (imported by AccountsConfig.ready)."""

from drf_spectacular.contrib.rest_auth import SimpleJWTCookieScheme


class JwtCookieOrSessionScheme(SimpleJWTCookieScheme):
    """Bearer header or access cookie, as dj-rest-auth's (the session fallback
    is for our own pages and not part of the public API)."""

    target_class = "accounts.authentication.JwtCookieOrSessionAuthentication"
