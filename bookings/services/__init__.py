"""Every write to bookings: creating them and moving them through their states
(``bookings``), the coaches' offerings (``offerings``), and their profile
and hours (``coaches``). Re-exports the
public services of the package.
"""

from bookings.services.bookings import (
    booking_cancel,
    booking_cancel_paid,
    booking_complete,
    booking_complete_ended,
    booking_confirm,
    booking_create,
    booking_expire,
    booking_mark_refunded,
    booking_touch,
    on_booking_changed,
    on_hold_ended,
)
from bookings.services.coaches import (
    availability_exception_add,
    availability_exception_delete,
    availability_set_weekly,
    coach_profile_create,
    coach_profile_update,
)
from bookings.services.offerings import (
    offering_create,
    offering_deactivate,
    offering_update,
)

__all__ = [
    "availability_exception_add",
    "availability_exception_delete",
    "availability_set_weekly",
    "booking_cancel",
    "booking_cancel_paid",
    "booking_complete",
    "booking_complete_ended",
    "booking_confirm",
    "booking_create",
    "booking_expire",
    "booking_mark_refunded",
    "booking_touch",
    "coach_profile_create",
    "coach_profile_update",
    "offering_create",
    "offering_deactivate",
    "offering_update",
    "on_booking_changed",
    "on_hold_ended",
]
