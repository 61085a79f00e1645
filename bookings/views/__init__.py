"""Pages of the bookings app. Thin: a selector or a service, a template.

``catalog``: the public pages and booking a time; ``coach``: the coach's
bookings and offerings. The client's pages that show or move money (a
booking, checkout, receipt, cancelling) are ``payments.views.bookings``.
Every view is re-exported here for ``bookings.urls``.
"""

from bookings.views.catalog import coach_book, coach_detail, coach_list
from bookings.views.coach import (
    coach_bookings,
    coach_offering_deactivate,
    coach_offering_edit,
    coach_offerings,
)

__all__ = [
    "coach_book",
    "coach_bookings",
    "coach_detail",
    "coach_list",
    "coach_offering_deactivate",
    "coach_offering_edit",
    "coach_offerings",
]
