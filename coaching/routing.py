"""WebSocket routes. Origins are checked in full (``coaching.ws_origin``)."""

from channels.routing import URLRouter
from django.urls import re_path

from accounts.ws_auth import WebsocketAuthStack
from coaching.ws_origin import OriginValidator
from payments.consumers import PaymentStatusConsumer

websocket_urlpatterns = [
    re_path(r"^ws/payments/?$", PaymentStatusConsumer.as_asgi()),
]

websocket_application = OriginValidator(
    WebsocketAuthStack(URLRouter(websocket_urlpatterns))
)
