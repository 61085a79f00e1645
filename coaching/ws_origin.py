"""The WebSocket handshake's ``Origin`` check: scheme, host and port.

Browsers send cookies with a WebSocket handshake from any page, so the
``Origin`` header is what stops another site (or another port of ours, such as
a development server) from opening a socket with our visitor's session. The
check is the one Django's CSRF protection makes for unsafe requests:

- the page's own origin: the handshake's scheme (``wss`` -> ``https``, also
  through ``SECURE_PROXY_SSL_HEADER`` behind a TLS proxy) and its ``Host``
  header, which must be in ``ALLOWED_HOSTS``; or
- an origin in ``CSRF_TRUSTED_ORIGINS`` (``https://pay.example.com``, or
  ``https://*.example.com`` for its subdomains), scheme and port included.

A handshake without ``Host`` (only test clients omit it) compares with the
``ALLOWED_HOSTS`` names on the default port of the handshake's scheme.
Everything else is refused before authentication, with a plain close.
Channels' ``AllowedHostsOriginValidator`` compared host names only, so
``http://localhost:9999`` passed for a site on port 8000.
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]  # scheme, host (lowercase, no brackets), port


def parse_origin(value: str) -> Origin | None:
    """``scheme://host[:port]`` as a tuple with the port made explicit, or None."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if (
        scheme not in DEFAULT_PORTS
        or not parts.hostname
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def _headers(scope) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope.get("headers") or []}


def _scheme(scope, headers: dict[bytes, bytes]) -> str:
    """The page's scheme as Django's ``request.is_secure()`` would see it."""
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy:
        name, secure_value = proxy
        header = name.removeprefix("HTTP_").replace("_", "-").lower().encode()
        if header in headers:
            value = headers[header].decode("latin-1").split(",")[0].strip()
            return "https" if value == secure_value else "http"
    return "https" if scope.get("scheme") in ("wss", "https") else "http"


def _allowed_hosts() -> list[str]:
    hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not hosts:
        hosts = [".localhost", "127.0.0.1", "[::1]"]  # as Django's get_host()
    return hosts


def _own_origins(scope) -> list[Origin]:
    headers = _headers(scope)
    scheme = _scheme(scope, headers)
    allowed_hosts = _allowed_hosts()
    host = headers.get(b"host")
    if host is None:
        return [
            (scheme, name.strip("[]"), DEFAULT_PORTS[scheme])
            for name in allowed_hosts
            if not name.startswith(".") and name != "*"
        ]
    domain, port = split_domain_port(host.decode("latin-1"))
    if not domain or not validate_host(domain, allowed_hosts):
        return []
    return [(scheme, domain.strip("[]"), int(port) if port else DEFAULT_PORTS[scheme])]


def _trusted(origin: Origin) -> bool:
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        if "://*." in entry:
            # "https://*.example.com": that domain and its subdomains, on that
            # scheme and port, as Django's CSRF check reads the entry.
            pattern = parse_origin(entry.replace("://*.", "://", 1))
            if (
                pattern is not None
                and pattern[0] == origin[0]
                and pattern[2] == origin[2]
                and is_same_domain(origin[1], "." + pattern[1])
            ):
                return True
        elif parse_origin(entry) == origin:
            return True
    return False


def origin_allowed(scope) -> bool:
    """Whether the handshake's ``Origin`` is ours or trusted (see module doc)."""
    values = [value for name, value in scope.get("headers") or [] if name == b"origin"]
    if len(values) != 1:
        return False
    origin = parse_origin(values[0].decode("latin-1"))
    if origin is None:
        return False
    return origin in _own_origins(scope) or _trusted(origin)


class OriginValidator:
    """ASGI middleware: refuse WebSocket handshakes from other origins."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
