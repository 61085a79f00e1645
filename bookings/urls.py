"""Pages. ``home`` stays un-namespaced: settings redirect to it after login.
Booking pages are under the ``bookings`` namespace (``bookings:detail``)."""

from django.urls import include, path

from bookings import views

booking_patterns = (
    [
        path("bookings/<uuid:booking_id>/", views.booking_detail, name="detail"),
    ],
    "bookings",
)

urlpatterns = [
    path("", views.coach_list, name="home"),
    path("", include(booking_patterns)),
]
