"""Security headers that Django does not set by itself."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _own_socket_origin(request) -> str:
    """`` wss://host`` of this very site, or ``""``.

    CSP3 lets ``'self'`` match ``ws:``/``wss:`` of our own host (Chromium and
    Firefox do); naming it as well costs nothing and keeps older Safari
    connected. No other host may receive a socket (``ws: wss:`` allowed any).
    """
    if request is None:
        return ""
    try:
        host = request.get_host()
    except DisallowedHost:
        return ""
    return f" {'wss' if request.is_secure() else 'ws'}://{host}"


class ContentSecurityPolicyMiddleware:
    """Send a Content-Security-Policy allowing scripts only from us and Stripe.

    Card entry happens in Stripe.js (PCI SAQ A), so Stripe's origin may run
    scripts, frame its card fields and receive XHRs; nothing else may. Sockets
    may connect only to our own origin.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy(request)
        return response

    @staticmethod
    def policy(request=None) -> str:
        stripe = _origin(settings.STRIPE_JS_URL)
        stripe_api = _origin(settings.STRIPE_API_BASE or "https://api.stripe.com")
        return "; ".join(
            [
                "default-src 'self'",
                f"script-src 'self' {stripe}",
                f"frame-src 'self' {stripe} https://hooks.stripe.com",
                f"connect-src 'self'{_own_socket_origin(request)} {stripe} {stripe_api}",
                "img-src 'self' data:",
                "style-src 'self' 'unsafe-inline'",
                "object-src 'none'",
                "base-uri 'self'",
                "form-action 'self'",
                "frame-ancestors 'none'",
            ]
        )
