"""ASGI entry point: HTTP to Django, WebSockets to ``coaching.routing``."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coaching.settings")

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from coaching.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {"http": django_asgi_app, "websocket": websocket_application}
)

# Behind a reverse proxy, take the client's address and scheme from its
# X-Forwarded-For / X-Forwarded-Proto, trusted only from these addresses
# (throttles and the login lockout key on the client's address). Works under
# any ASGI server; uvicorn's --proxy-headers does the same for uvicorn alone.
if os.environ.get("FORWARDED_ALLOW_IPS"):
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    application = ProxyHeadersMiddleware(
        application, trusted_hosts=os.environ["FORWARDED_ALLOW_IPS"]
    )
