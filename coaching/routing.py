"""WebSocket routes. Origins are checked against ALLOWED_HOSTS."""

from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import re_path

from accounts.ws_auth import WebsocketAuthStack
from payments.consumers import PaymentStatusConsumer

websocket_urlpatterns = [
    re_path(r"^ws/payments/?$", PaymentStatusConsumer.as_asgi()),
]

websocket_application = AllowedHostsOriginValidator(
    WebsocketAuthStack(URLRouter(websocket_urlpatterns))
)
