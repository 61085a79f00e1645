"""Refusals of the booking services, rendered by ``coaching.api_errors``.

Each class fixes a stable ``code`` and HTTP status; messages are user-facing.
"""

from coaching.errors import DomainError


class BookingError(DomainError):
    """Base of every booking refusal: a request that cannot be carried out."""

    code = "booking_error"
    http_status = 400


class BookingNotAllowed(BookingError):
    """The actor may not do this (a coach or admin booking for themselves)."""

    code = "forbidden"
    http_status = 403


class BookingNotFound(BookingError):
    """No booking with that id is visible to the user."""

    code = "booking_not_found"
    http_status = 404


class OfferingNotFound(BookingError):
    """No offering has that id."""

    code = "offering_not_found"
    http_status = 404


class OfferingUnavailable(BookingError):
    """The offering exists but cannot be booked (inactive, coach not bookable)."""

    code = "offering_unavailable"


class InvalidStartTime(BookingError):
    """A start that is not on a full or half hour of the coach's clock."""

    code = "invalid_start_time"


class StartInPast(InvalidStartTime):
    code = "start_in_past"


class StartTooFarAhead(InvalidStartTime):
    code = "start_too_far_ahead"


class StartTooSoon(InvalidStartTime):
    """Inside the coach's minimum notice."""

    code = "start_too_soon"


class OutsideAvailability(InvalidStartTime):
    """The session does not fit in one of the coach's weekly windows."""

    code = "outside_availability"


class SlotTaken(BookingError):
    """Another live booking of the coach overlaps the requested time."""

    code = "slot_taken"
    http_status = 409


class TooManyHolds(BookingError):
    """The client already holds ``MAX_OPEN_HOLDS`` unpaid bookings."""

    code = "too_many_holds"
    http_status = 409


class InvalidTransition(BookingError):
    """The booking's state machine does not allow this move."""

    code = "invalid_transition"
    http_status = 409


class RefundRequired(InvalidTransition):
    """Cancelling a paid booking needs a refund, which the payment core does."""

    code = "refund_required"


class HoldNotExpired(InvalidTransition):
    """An unpaid hold cannot be released before its ``expires_at``."""

    code = "hold_not_expired"


class SessionNotOver(InvalidTransition):
    """A session cannot be completed before it ends."""

    code = "session_not_over"


class InvalidPrice(BookingError):
    """A price that is not a positive amount in the currency's decimals."""

    code = "invalid_price"
