"""Payment pages (the API's paths are in ``payments.api_urls``).

``urlpatterns`` live under ``/payments/``; ``account_patterns`` (the
client's cards and notifications, namespace ``account``) are mounted at the
site root by ``bookings.urls``.
"""

from django.urls import path

from payments import views

app_name = "payments"

urlpatterns = [
    path(
        "status/<uuid:booking_id>/",
        views.payment_status_fragment,
        name="status_fragment",
    ),
]

account_patterns = (
    [
        path(
            "account/payment-methods/",
            views.payment_method_list,
            name="payment_methods",
        ),
        path(
            "account/payment-methods/<str:method_id>/default/",
            views.payment_method_default,
            name="payment_method_default",
        ),
        path(
            "account/payment-methods/<str:method_id>/delete/",
            views.payment_method_delete,
            name="payment_method_delete",
        ),
        path("notifications/", views.notification_list, name="notifications"),
        path(
            "notifications/read-all/",
            views.notification_read_all,
            name="notifications_read_all",
        ),
        path(
            "notifications/<uuid:notification_id>/read/",
            views.notification_read,
            name="notification_read",
        ),
    ],
    "account",
)
