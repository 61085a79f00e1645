"""API routes under ``/api/``; a trailing slash is optional, as in the seed."""

from django.urls import re_path

from bookings import api

app_name = "bookings_api"

urlpatterns = [
    re_path(r"^coaches/?$", api.CoachListApi.as_view(), name="coach-list"),
    re_path(r"^bookings/?$", api.BookingCollectionApi.as_view(), name="booking-list"),
    re_path(
        r"^bookings/(?P<booking_id>[^/]+)/?$",
        api.BookingDetailApi.as_view(),
        name="booking-detail",
    ),
    re_path(
        r"^bookings/(?P<booking_id>[^/]+)/cancel/?$",
        api.BookingCancelApi.as_view(),
        name="booking-cancel",
    ),
]
