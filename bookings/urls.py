"""Pages of the bookings app. ``home`` stays un-namespaced: settings redirect
to it after login.

``booking_patterns`` (the public coach pages and booking a time) and
``coach_patterns`` (the coach's setup, profile, hours and offerings) are lists, not
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


# The coach's pages (namespace ``coach``, mounted under /coach/); their
# bookings, earnings and statements are the payments app's (payments.urls).
coach_patterns = [
    path("setup/", views.coach_setup, name="setup"),
    path("profile/", views.coach_profile, name="profile"),
    path("hours/", views.coach_hours, name="hours"),
    path("hours/dates/", views.coach_exception_add, name="exception_add"),
    path(
        "hours/dates/<int:exception_id>/delete/",
        views.coach_exception_delete,
        name="exception_delete",
    ),
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
