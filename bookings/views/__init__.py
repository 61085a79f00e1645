"""Pages of the bookings app. Thin: a selector or a service, a template.

``catalog``: the public pages and booking a time; ``client``: a booking,
checkout, the client's bookings, receipt and cancelling; ``coach``: the
coach's bookings and offerings. Every view is re-exported here for
``bookings.urls``.
"""

from bookings.views.catalog import coach_book, coach_detail, coach_list
from bookings.views.client import (
    booking_calendar,
    booking_cancel,
    booking_checkout,
    booking_detail,
    booking_list,
    booking_receipt,
)
from bookings.views.coach import (
    coach_booking_cancel,
    coach_bookings,
    coach_offering_deactivate,
    coach_offering_edit,
    coach_offerings,
)
from bookings.views.practice import (
    coach_exception_add,
    coach_exception_delete,
    coach_hours,
    coach_profile,
    coach_setup,
)

__all__ = [
    "booking_calendar",
    "booking_cancel",
    "booking_checkout",
    "booking_detail",
    "booking_list",
    "booking_receipt",
    "coach_book",
    "coach_booking_cancel",
    "coach_bookings",
    "coach_detail",
    "coach_exception_add",
    "coach_exception_delete",
    "coach_hours",
    "coach_list",
    "coach_offering_deactivate",
    "coach_offering_edit",
    "coach_offerings",
    "coach_profile",
    "coach_setup",
]
