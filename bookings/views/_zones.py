"""The viewer's time zone, shared by the pages that show times.

A logged-in person reads every time in their account's zone
(``User.time_zone``, activated for the whole request by
``accounts.middleware.TimeZoneMiddleware``). The coach page may show its free
times in another zone for one look (``?tz=``); a visitor's pick is remembered
in their session, and a visitor who picked nothing sees the coach's zone.
"""

from django.http import HttpRequest

from accounts.middleware import VISITOR_TZ_KEY
from accounts.zones import all_zones, is_zone, user_zone_name
from bookings.models import Booking

VIEWER_TZ_KEY = VISITOR_TZ_KEY


def time_zones() -> tuple[str, ...]:
    """Zones a viewer may pick: the IANA names people use (``Area/City``, UTC)."""
    return all_zones()


def viewer_zone(request: HttpRequest, default: str) -> str:
    """The zone the viewer asked for on this page (``tz``), else their
    account's zone, else the one a visitor picked last, else ``default``
    (the coach's)."""
    for candidate in (request.POST.get("tz"), request.GET.get("tz")):
        if is_zone(candidate):
            return candidate
    if request.user.is_authenticated:
        return user_zone_name(request.user)
    picked = request.session.get(VIEWER_TZ_KEY)
    return picked if is_zone(picked) else default


def remember_zone(request: HttpRequest, zone: str) -> None:
    """Keep a visitor's pick for their next pages; a logged-in person's zone
    is their account's, changed on the account page."""
    if not request.user.is_authenticated and request.session.get(VIEWER_TZ_KEY) != zone:
        request.session[VIEWER_TZ_KEY] = zone


def display_zone(request: HttpRequest, booking: Booking) -> str:
    """The zone a booking's times are shown in to this viewer: their own."""
    if request.user.is_authenticated:
        return user_zone_name(request.user)
    profile = getattr(booking.coach, "coach_profile", None)
    return viewer_zone(request, profile.time_zone if profile else "UTC")
