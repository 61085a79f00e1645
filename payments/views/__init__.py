"""Payment pages: the client's booking pages that show or move money
(``bookings``: a booking, checkout, the list, receipt, calendar, cancel), the
payment-status fragment that live pages refresh (``status``), the client's saved cards and notifications (``account``), the
coach's earnings (``earnings``) and the staff dashboard (``staff``).

Every view, and the contexts booking pages share, are re-exported here.
"""

from payments.views.account import (
    notification_list,
    notification_read,
    notification_read_all,
    payment_method_default,
    payment_method_delete,
    payment_method_list,
    stripe_js_context,
)
from payments.views.bookings import (
    booking_calendar,
    booking_cancel,
    booking_checkout,
    booking_detail,
    booking_list,
    booking_receipt,
)
from payments.views.coach_bookings import coach_booking_cancel, coach_bookings
from payments.views.earnings import coach_earnings, coach_earnings_csv
from payments.views.payouts import staff_payouts
from payments.views.staff import staff_dashboard
from payments.views.statements import (
    coach_invoice_pdf,
    coach_statement,
    coach_statement_csv,
    coach_statement_pdf,
)
from payments.views.status import (
    payment_status_context,
    payment_status_contexts,
    payment_status_fragment,
)

__all__ = [
    "booking_calendar",
    "booking_cancel",
    "booking_checkout",
    "booking_detail",
    "booking_list",
    "booking_receipt",
    "coach_booking_cancel",
    "coach_bookings",
    "coach_earnings",
    "coach_earnings_csv",
    "coach_invoice_pdf",
    "coach_statement",
    "coach_statement_csv",
    "coach_statement_pdf",
    "notification_list",
    "notification_read",
    "notification_read_all",
    "payment_method_default",
    "payment_method_delete",
    "payment_method_list",
    "payment_status_context",
    "payment_status_contexts",
    "payment_status_fragment",
    "staff_dashboard",
    "staff_payouts",
    "stripe_js_context",
]
