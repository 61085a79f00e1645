"""Pages. ``home`` stays un-namespaced: settings redirect to it after login.
Booking pages are under the ``bookings`` namespace (``bookings:detail``); the
client's account pages of the payments app (``account:payment_methods``,
``account:notifications``) are mounted at the site root here too, as are the
coach's pages (``coach:bookings``, ``coach:earnings``, ``coach:offerings``)
and the staff dashboard (``staff:dashboard``)."""

from django.urls import include, path

from bookings import views
from payments import views as payment_views
from payments.urls import account_patterns

booking_patterns = (
    [
        path("bookings/<uuid:booking_id>/", views.booking_detail, name="detail"),
        path("coaches/<uuid:coach_id>/", views.coach_detail, name="coach_detail"),
        path("coaches/<uuid:coach_id>/book/", views.coach_book, name="coach_book"),
        path("bookings/", views.booking_list, name="list"),
        path(
            "bookings/<uuid:booking_id>/checkout/",
            views.booking_checkout,
            name="checkout",
        ),
        path(
            "bookings/<uuid:booking_id>/receipt/",
            views.booking_receipt,
            name="receipt",
        ),
        path("bookings/<uuid:booking_id>/cancel/", views.booking_cancel, name="cancel"),
        path(
            "bookings/<uuid:booking_id>/calendar.ics",
            views.booking_calendar,
            name="calendar",
        ),
    ],
    "bookings",
)

urlpatterns = [
    path("", views.coach_list, name="home"),
    path("", include(booking_patterns)),
    path("", include(account_patterns)),
]


# The coach's pages (namespace ``coach``); earnings are the payments app's.
coach_patterns = (
    [
        path("bookings/", views.coach_bookings, name="bookings"),
        path(
            "bookings/<uuid:booking_id>/cancel/",
            views.coach_booking_cancel,
            name="booking_cancel",
        ),
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
        path("earnings/", payment_views.coach_earnings, name="earnings"),
        path("earnings.csv", payment_views.coach_earnings_csv, name="earnings_csv"),
        path(
            "statements/<int:year>/<int:month>/",
            payment_views.coach_statement,
            name="statement",
        ),
        path(
            "statements/<int:year>/<int:month>.csv",
            payment_views.coach_statement_csv,
            name="statement_csv",
        ),
        path(
            "statements/<int:year>/<int:month>.pdf",
            payment_views.coach_statement_pdf,
            name="statement_pdf",
        ),
        path(
            "invoices/<str:number>.pdf",
            payment_views.coach_invoice_pdf,
            name="invoice_pdf",
        ),
    ],
    "coach",
)

# Staff pages (namespace ``staff``), next to the Django admin they link into.
staff_patterns = (
    [
        path("dashboard/", payment_views.staff_dashboard, name="dashboard"),
        path("payouts/", payment_views.staff_payouts, name="payouts"),
    ],
    "staff",
)

urlpatterns += [
    path("coach/", include(coach_patterns)),
    path("staff/", include(staff_patterns)),
]
