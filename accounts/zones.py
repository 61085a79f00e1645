"""Time zones of the people who read times: which ones exist, the default,
and the one way a time is written for a person ("Tue 1 Dec 2026, 09:00
(Europe/Zurich)").

Every page, notification and email that shows a time to someone uses
``format_when`` (or the ``when`` template filter over it) in that reader's
zone, so one booking reads the same everywhere for the same person.
"""

import datetime as dt
import functools
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import dateformat, timezone
from django.utils.translation import gettext_lazy as _

# Offered first in the zone picker; every other zone is searchable.
COMMON_ZONES = (
    "Europe/Zurich",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Vienna",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "UTC",
)

# One format for every time a person reads (Django date format characters).
WHEN_FORMAT = "D j M Y, H:i"


@functools.cache
def all_zones() -> tuple[str, ...]:
    """Zones a person may pick: the IANA names people use (``Area/City``, UTC)."""
    return tuple(
        sorted(
            name
            for name in zoneinfo.available_timezones()
            if name == "UTC"
            or ("/" in name and not name.startswith(("Etc/", "SystemV/", "US/")))
        )
    )


@functools.cache
def zone_choices() -> tuple[str, ...]:
    """Every pickable zone, the common ones first (for pickers)."""
    common = set(COMMON_ZONES)
    return (*COMMON_ZONES, *(z for z in all_zones() if z not in common))


def is_zone(value: str | None) -> bool:
    return bool(value) and value in all_zones()


def validate_time_zone(value: str) -> None:
    if not is_zone(value):
        raise ValidationError(
            _("%(value)s is not a known time zone."),
            code="invalid_time_zone",
            params={"value": value},
        )


def default_time_zone() -> str:
    """The site's zone (``TIME_ZONE``) when it is a pickable one, else UTC."""
    return settings.TIME_ZONE if is_zone(settings.TIME_ZONE) else "UTC"


def user_zone_name(user) -> str:
    """The zone a user reads times in; the site's default for visitors."""
    name = getattr(user, "time_zone", "") if user is not None else ""
    return name if is_zone(name) else default_time_zone()


def format_when(
    value: dt.datetime | None, zone: str | None = None, *, with_zone: bool = True
) -> str:
    """``value`` in ``zone`` (the active zone by default), as people read it:
    "Tue 1 Dec 2026, 09:00 (Europe/Zurich)"."""
    if value is None:
        return ""
    name = zone if is_zone(zone) else timezone.get_current_timezone_name()
    local = value.astimezone(zoneinfo.ZoneInfo(name))
    text = dateformat.format(local, WHEN_FORMAT)
    return f"{text} ({name})" if with_zone else text
