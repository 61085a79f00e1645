"""When sessions may start: pure functions on aware datetimes, no I/O.

Weekly windows are wall-clock times in the coach's time zone, so every check
converts the instant to that zone first: 06:30 UTC is 07:30 in Zurich in
winter and 08:30 in summer. Arithmetic on instants happens in UTC, because
adding a timedelta to a datetime in a zone with DST moves its wall clock, not
the instant.
"""

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Iterator
from typing import Protocol

GRID_MINUTES = 30
_OFFSET_QUANTUM_MINUTES = 15


class Window(Protocol):
    """What an ``AvailabilityWindow`` offers these functions."""

    weekday: int
    start_time: dt.time
    end_time: dt.time


def is_on_grid(starts_at: dt.datetime, tz: zoneinfo.ZoneInfo) -> bool:
    """Whether ``starts_at`` falls on a full or half hour of the zone's clock."""
    local = starts_at.astimezone(tz)
    return (
        local.minute % GRID_MINUTES == 0 and local.second == 0 and not local.microsecond
    )


def fits_windows(
    windows: Iterable[Window],
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    tz: zoneinfo.ZoneInfo,
) -> bool:
    """Whether ``[starts_at, ends_at)`` lies inside one window on one local day."""
    local_start = starts_at.astimezone(tz)
    local_end = ends_at.astimezone(tz)
    if local_end.date() != local_start.date():
        return False
    weekday = local_start.weekday()
    start, end = local_start.time(), local_end.time()
    return any(
        window.weekday == weekday
        and window.start_time <= start
        and end <= window.end_time
        for window in windows
    )


def candidate_starts(day: dt.date, tz: zoneinfo.ZoneInfo) -> Iterator[dt.datetime]:
    """Every grid instant (in UTC) whose local date in ``tz`` is ``day``.

    Walks the day in UTC, so a 23- or 25-hour DST day yields each real instant
    once: no start in the skipped hour, both starts in the repeated one. The
    walk moves in quarter hours because UTC offsets are multiples of 15 minutes
    (Nepal is +05:45), so every local half hour is met.
    """
    first = dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)
    first -= dt.timedelta(hours=1)  # a skipped local midnight maps an hour late
    step = dt.timedelta(minutes=_OFFSET_QUANTUM_MINUTES)
    current = first.replace(
        minute=first.minute - first.minute % _OFFSET_QUANTUM_MINUTES
    )
    while current.astimezone(tz).date() <= day:
        if current.astimezone(tz).date() == day and is_on_grid(current, tz):
            yield current
        current += step
