"""A booking as an iCalendar event (RFC 5545): the ``.ics`` file behind "Add
to calendar" and attached to the payment confirmation email.

Pure: a booking in, text out (no I/O). Times are written in UTC (``...Z``),
so every calendar shows the session in its owner's own zone; the UID is
derived from the booking, so downloading it again updates the same event.
"""

import datetime as dt

from bookings.models import Booking

PRODUCT_ID = "-//Coaching payments//Booking calendar//EN"
CONTENT_TYPE = "text/calendar; charset=utf-8"
# The booking's UUID already makes the UID unique; the right-hand side names
# the issuer, as RFC 5545 suggests, and is the same for every copy (the page's
# download and the email's attachment), so calendars see one event.
UID_DOMAIN = "coaching-payments"
_LINE_OCTETS = 75


def booking_ics(*, booking: Booking, platform_name: str) -> str:
    """The booking as a VCALENDAR with one VEVENT, CRLF line endings.

    The UID is ``booking-<id>@coaching-payments``; the coach's and the
    offering's names are in the summary, the client's in the description. A
    cancelled booking is ``STATUS:CANCELLED``, with the booking's version as
    ``SEQUENCE`` so calendars apply the later copy.
    """
    coach = booking.coach.display_name
    title = booking.offering.title
    status = (
        "CANCELLED"
        if booking.status in (Booking.Status.CANCELLED, Booking.Status.REFUNDED)
        else "CONFIRMED"
    )
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODUCT_ID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:booking-{booking.pk}@{UID_DOMAIN}",
        f"DTSTAMP:{_utc(booking.updated_at or booking.created_at)}",
        f"DTSTART:{_utc(booking.starts_at)}",
        f"DTEND:{_utc(booking.ends_at)}",
        f"SUMMARY:{escape_text(f'{title} with {coach}')}",
        "DESCRIPTION:"
        + escape_text(
            f"{title} with {coach} for {booking.client.display_name}, "
            f"booked on {platform_name}."
        ),
        f"ORGANIZER;CN={_param(coach)}:mailto:{booking.coach.email}",
        f"STATUS:{status}",
        f"SEQUENCE:{booking.version}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(fold(line) + "\r\n" for line in lines)


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma, newline."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _param(value: str) -> str:
    """A parameter value: quoted, since names may hold ``,;:``; quotes dropped."""
    return '"' + value.replace('"', "").replace("\r", " ").replace("\n", " ") + '"'


def fold(line: str) -> str:
    """Fold a content line at 75 octets (RFC 5545 3.1), never inside a UTF-8
    character: continuation lines start with one space."""
    parts: list[str] = []
    current, size = "", 0
    limit = _LINE_OCTETS
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            parts.append(current)
            # The leading space of a continuation line counts too.
            current, size, limit = char, width, _LINE_OCTETS - 1
        else:
            current += char
            size += width
    parts.append(current)
    return "\r\n ".join(parts)


def ics_filename(booking: Booking) -> str:
    return f"session-{booking.starts_at.astimezone(dt.UTC):%Y-%m-%d}.ics"
