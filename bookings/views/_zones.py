"""The viewer's time zone, shared by the pages that show times.

Times are computed on the coach's calendar and shown in the zone the viewer
picks (``?tz=``, remembered in the session for logged-in users), the coach's
by default.
"""

import functools
import zoneinfo

from django.http import HttpRequest

from bookings.models import Booking

VIEWER_TZ_KEY = "viewer_tz"


@functools.cache
def time_zones() -> tuple[str, ...]:
    """Zones a viewer may pick: the IANA names people use (``Area/City``, UTC)."""
    return tuple(
        sorted(
            name
            for name in zoneinfo.available_timezones()
            if name == "UTC"
            or ("/" in name and not name.startswith(("Etc/", "SystemV/", "US/")))
        )
    )


def viewer_zone(request: HttpRequest, default: str) -> str:
    """The zone the viewer asked for (``tz``), else the one they picked last,
    else ``default`` (the coach's)."""
    for candidate in (
        request.POST.get("tz"),
        request.GET.get("tz"),
        request.session.get(VIEWER_TZ_KEY),
    ):
        if candidate and candidate in time_zones():
            return candidate
    return default


def remember_zone(request: HttpRequest, zone: str) -> None:
    if request.user.is_authenticated and request.session.get(VIEWER_TZ_KEY) != zone:
        request.session[VIEWER_TZ_KEY] = zone


def display_zone(request: HttpRequest, booking: Booking) -> str:
    profile = getattr(booking.coach, "coach_profile", None)
    return viewer_zone(request, profile.time_zone if profile else "UTC")
