"""Every write to bookings: creating them and moving them through their states
(``bookings``), and the coaches' offerings (``offerings``). Re-exports the
public services of the package.
"""

from bookings.services.bookings import (
    booking_cancel,
    booking_cancel_paid,
    booking_complete,
    booking_confirm,
    booking_create,
    booking_expire,
    booking_expire_overdue,
    booking_mark_refunded,
    on_hold_ended,
)
from bookings.services.offerings import (
    offering_create,
    offering_deactivate,
    offering_update,
)

__all__ = [
    "booking_cancel",
    "booking_cancel_paid",
    "booking_complete",
    "booking_confirm",
    "booking_create",
    "booking_expire",
    "booking_expire_overdue",
    "booking_mark_refunded",
    "offering_create",
    "offering_deactivate",
    "offering_update",
    "on_hold_ended",
]
