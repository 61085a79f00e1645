"""Pages of the bookings app. Thin: a selector or a service, a template.

``catalog``: the public pages and booking a time; ``coach``: the coach's
offerings; ``practice``: the coach's setup, profile and hours. The pages that
show or move money (a booking, checkout, receipt, cancelling, the coach's
bookings) are the payments app's (``payments.views.bookings`` and
``payments.views.coach_bookings``). Every view is re-exported here for
``bookings.urls``.
"""

from bookings.views.catalog import coach_book, coach_detail, coach_list
from bookings.views.coach import (
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
    "coach_book",
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
