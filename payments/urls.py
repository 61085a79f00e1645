"""Payment pages (the API's paths are in ``payments.api_urls``)."""

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
