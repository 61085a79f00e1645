"""The seed's paths; a trailing slash is optional on every one of them."""

from django.urls import re_path

from payments import api, webhooks
from payments.api.cancel import BookingCancelApi

app_name = "payments_api"

urlpatterns = [
    re_path(r"^webhook/?$", webhooks.stripe_webhook, name="webhook"),
    re_path(
        r"^create-intent/?$", api.PaymentCreateIntentApi.as_view(), name="create-intent"
    ),
    re_path(r"^confirm/?$", api.PaymentConfirmApi.as_view(), name="confirm"),
    re_path(
        r"^status/(?P<booking_id>[^/]+)/?$",
        api.PaymentStatusApi.as_view(),
        name="status",
    ),
    re_path(r"^refund/?$", api.PaymentRefundApi.as_view(), name="refund"),
    re_path(
        r"^setup-intent/?$", api.SetupIntentCreateApi.as_view(), name="setup-intent"
    ),
    re_path(r"^methods/?$", api.PaymentMethodCreateApi.as_view(), name="methods"),
    re_path(
        r"^methods/default/?$",
        api.PaymentMethodDefaultApi.as_view(),
        name="methods-default",
    ),
    re_path(
        r"^methods/(?P<item_id>[^/]+)/?$",
        api.PaymentMethodItemApi.as_view(),
        name="method",
    ),
]


# In the ``bookings_api`` namespace under /api/ (``coaching.urls``): cancelling
# a booking settles its money.
booking_api_patterns = [
    re_path(
        r"^bookings/(?P<booking_id>[^/]+)/cancel/?$",
        BookingCancelApi.as_view(),
        name="booking-cancel",
    ),
]
