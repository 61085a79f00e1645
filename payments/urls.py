"""Payment pages (the API's paths are in ``payments.api_urls``).

``urlpatterns`` live under ``/payments/``. ``coaching.urls`` mounts the rest
at the site root: ``account_patterns`` (the client's cards and notifications,
namespace ``account``), ``staff_patterns`` (namespace ``staff``, under
/staff/), and two lists that share a namespace with the bookings app's pages:
``booking_patterns`` (a booking, checkout, the client's bookings, receipt,
cancel, calendar: namespace ``bookings``) and ``coach_patterns`` (the coach's
bookings and cancelling one, earnings, statements, invoices: namespace
``coach``, under /coach/).
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


# The client's booking pages that show or move money (namespace ``bookings``).
booking_patterns = [
    path("bookings/<uuid:booking_id>/", views.booking_detail, name="detail"),
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
]

# The coach's money pages (namespace ``coach``, under /coach/).
coach_patterns = [
    path("bookings/", views.coach_bookings, name="bookings"),
    path(
        "bookings/<uuid:booking_id>/cancel/",
        views.coach_booking_cancel,
        name="booking_cancel",
    ),
    path("earnings/", views.coach_earnings, name="earnings"),
    path("earnings.csv", views.coach_earnings_csv, name="earnings_csv"),
    path(
        "statements/<int:year>/<int:month>/",
        views.coach_statement,
        name="statement",
    ),
    path(
        "statements/<int:year>/<int:month>.csv",
        views.coach_statement_csv,
        name="statement_csv",
    ),
    path(
        "statements/<int:year>/<int:month>.pdf",
        views.coach_statement_pdf,
        name="statement_pdf",
    ),
    path(
        "invoices/<str:number>.pdf",
        views.coach_invoice_pdf,
        name="invoice_pdf",
    ),
]

# Staff pages (namespace ``staff``), next to the Django admin they link into.
staff_patterns = (
    [
        path("dashboard/", views.staff_dashboard, name="dashboard"),
        path("payouts/", views.staff_payouts, name="payouts"),
    ],
    "staff",
)
