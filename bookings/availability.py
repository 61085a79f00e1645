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


class Exception_(Protocol):
    """What an ``AvailabilityException`` offers these functions."""

    date: dt.date
    kind: str  # "day_off" | "extra"
    start_time: dt.time | None
    end_time: dt.time | None


TimeRange = tuple[dt.time, dt.time]


def hours_on(
    day: dt.date, windows: Iterable[Window], exceptions: Iterable[Exception_]
) -> list[TimeRange]:
    """The wall-clock ranges the coach works on local date ``day``.

    The weekly hours of its weekday plus the extra hours dated that day; a
    day off dated that day empties it (a holiday wins over extra hours).
    """
    dated = [exception for exception in exceptions if exception.date == day]
    if any(exception.kind == "day_off" for exception in dated):
        return []
    ranges = [
        (window.start_time, window.end_time)
        for window in windows
        if window.weekday == day.weekday()
    ]
    ranges += [
        (exception.start_time, exception.end_time)
        for exception in dated
        if exception.kind == "extra"
        and exception.start_time is not None
        and exception.end_time is not None
    ]
    return sorted(ranges)


def fits_hours(
    ranges: Iterable[TimeRange],
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    tz: zoneinfo.ZoneInfo,
) -> bool:
    """Whether ``[starts_at, ends_at)`` lies inside one of ``ranges`` (the hours
    of the start's local date, from ``hours_on``) on that one local day.

    Compared on the wall clock, so across a DST switch a session that would
    run past the range's end in wall-clock time (01:30 + 1 h on the spring
    night is 03:30) does not fit a range ending at 03:00.
    """
    local_start = starts_at.astimezone(tz)
    local_end = ends_at.astimezone(tz)
    if local_end.date() != local_start.date():
        return False
    start, end = local_start.time(), local_end.time()
    return any(low <= start and end <= high for low, high in ranges)


def clear_of(
    busy: Iterable[tuple[dt.datetime, dt.datetime]],
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    buffer: dt.timedelta,
) -> bool:
    """Whether the session keeps ``buffer`` away from every busy interval.

    Instants, not wall clocks: a buffer is real minutes, also across DST.
    """
    return not any(
        busy_start - buffer < ends_at and starts_at < busy_end + buffer
        for busy_start, busy_end in busy
    )


def is_on_grid(starts_at: dt.datetime, tz: zoneinfo.ZoneInfo) -> bool:
    """Whether ``starts_at`` falls on a full or half hour of the zone's clock."""
    local = starts_at.astimezone(tz)
    return (
        local.minute % GRID_MINUTES == 0 and local.second == 0 and not local.microsecond
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


def bookable_span(
    now: dt.datetime, *, min_notice_hours: int, horizon_days: int
) -> tuple[dt.datetime, dt.datetime]:
    """The earliest start after which (exclusive) and the latest start up to
    which (inclusive) a session may be booked ``now``."""
    return (
        now + dt.timedelta(hours=min_notice_hours),
        now + dt.timedelta(days=horizon_days),
    )
