"""API routes under ``/api/``; a trailing slash is optional, as in the seed.

A list, not an include: ``coaching.urls`` mounts it in the ``bookings_api``
namespace with the payments app's ``booking_api_patterns`` (cancelling).
"""

from django.urls import re_path

from bookings import api

urlpatterns = [
    re_path(r"^coaches/?$", api.CoachListApi.as_view(), name="coach-list"),
    re_path(r"^bookings/?$", api.BookingCollectionApi.as_view(), name="booking-list"),
    re_path(
        r"^bookings/(?P<booking_id>[^/]+)/?$",
        api.BookingDetailApi.as_view(),
        name="booking-detail",
    ),
]
