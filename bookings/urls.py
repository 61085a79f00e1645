"""Pages of the bookings app. ``home`` stays un-namespaced: settings redirect
to it after login.

``booking_patterns`` (the public coach pages and booking a time) and
``coach_patterns`` (the coach's bookings and offerings) are lists, not
includes: ``coaching.urls`` mounts them in the ``bookings`` and ``coach``
namespaces together with the payments app's pages of the same namespaces
(``bookings:checkout``, ``coach:earnings``…), because bookings never imports
payments.
"""

from django.urls import path

from bookings import views

booking_patterns = [
    path("coaches/<uuid:coach_id>/", views.coach_detail, name="coach_detail"),
    path("coaches/<uuid:coach_id>/book/", views.coach_book, name="coach_book"),
]

urlpatterns = [
    path("", views.coach_list, name="home"),
]


# The coach's pages (namespace ``coach``, mounted under /coach/).
coach_patterns = [
    path("bookings/", views.coach_bookings, name="bookings"),
    path("offerings/", views.coach_offerings, name="offerings"),
    path(
        "offerings/<uuid:offering_id>/edit/",
        views.coach_offering_edit,
        name="offering_edit",
    ),
    path(
        "offerings/<uuid:offering_id>/deactivate/",
        views.coach_offering_deactivate,
        name="offering_deactivate",
    ),
]
