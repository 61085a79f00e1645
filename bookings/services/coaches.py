"""A coach's own practice: their profile and terms, and their hours.

Terms apply to bookings made from now on: a booking snapshots its price and
cancellation window when it is made (``booking_create``), and buffer, notice
and horizon only decide which new bookings are accepted.
"""

import datetime as dt
import itertools
import logging
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from bookings.exceptions import BookingNotAllowed
from bookings.models import (
    AvailabilityException,
    AvailabilityWindow,
    CoachProfile,
)

# The package logs under one name, the one log configuration and tests use.
logger = logging.getLogger("bookings.services")

# The fields of the profile a coach edits on their profile page.
PROFILE_TERMS = (
    "bio",
    "time_zone",
    "cancellation_window_hours",
    "buffer_minutes",
    "booking_horizon_days",
    "min_notice_hours",
)


def coach_profile_create(*, user: User, time_zone: str) -> CoachProfile:
    """Give a new coach their profile, with the platform's default terms.

    Registered as the accounts hook ``on_coach_created``: it runs in the
    transaction that creates the coach's account.
    """
    return CoachProfile.objects.create(user=user, time_zone=time_zone)


@transaction.atomic
def coach_profile_update(
    *,
    coach: User,
    actor: User,
    name: str,
    bio: str,
    time_zone: str,
    cancellation_window_hours: int,
    buffer_minutes: int,
    booking_horizon_days: int,
    min_notice_hours: int,
) -> CoachProfile:
    """Save the coach's display name, bio, zone and booking terms.

    The profile row is locked (the same lock ``booking_create`` takes), so a
    booking is made either under the old terms or the new ones, never a mix.
    Existing bookings keep the cancellation window they were made under.
    Only the coach or an admin may do it.

    Raises BookingNotAllowed (403) for anyone else, ValidationError (keyed
    by field) for values out of range or an unknown zone.
    """
    _check_may_manage(coach=coach, actor=actor)
    profile = CoachProfile.objects.select_for_update().get(user=coach)
    values = {
        "bio": (bio or "").strip(),
        "time_zone": time_zone,
        "cancellation_window_hours": cancellation_window_hours,
        "buffer_minutes": buffer_minutes,
        "booking_horizon_days": booking_horizon_days,
        "min_notice_hours": min_notice_hours,
    }
    changed = [
        field for field, value in values.items() if getattr(profile, field) != value
    ]
    for field in changed:
        setattr(profile, field, values[field])
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("Enter the name clients see.")]})
    profile.full_clean(exclude=["user"])
    if changed:
        profile.save(update_fields=changed)
    # The coach reads times in the zone their hours are defined in.
    user_fields = [
        field
        for field, value in (("name", name), ("time_zone", time_zone))
        if getattr(coach, field) != value
    ]
    if user_fields:
        coach.name, coach.time_zone = name, time_zone
        coach.full_clean(exclude=["password"])
        coach.save(update_fields=user_fields)
        changed += user_fields
    logger.info(
        "coach.profile_updated coach_id=%s fields=%s actor_id=%s",
        coach.pk,
        ",".join(changed),
        actor.pk,
    )
    return profile


@transaction.atomic
def availability_set_weekly(
    *,
    coach: User,
    actor: User,
    ranges: Iterable[tuple[int, dt.time, dt.time]],
) -> list[AvailabilityWindow]:
    """Replace the coach's weekly hours with ``ranges`` (weekday, start, end),
    wall-clock times in the coach's zone; several ranges a day are fine.

    Existing bookings stay as they are; new ones must fit the new hours.
    Raises BookingNotAllowed (403) for anyone but the coach or an admin, and
    ValidationError keyed ``"weekday-<n>"`` for a range that ends before it
    starts or overlaps another one of the same day.
    """
    _check_may_manage(coach=coach, actor=actor)
    profile = CoachProfile.objects.select_for_update().get(user=coach)
    by_day: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for weekday, start, end in ranges:
        by_day.setdefault(weekday, []).append((start, end))
    errors: dict[str, list[str]] = {}
    for weekday, day_ranges in by_day.items():
        problem = _ranges_problem(day_ranges)
        if problem:
            errors[f"weekday-{weekday}"] = [problem]
    if errors:
        raise ValidationError(errors)
    profile.availability.all().delete()
    windows = AvailabilityWindow.objects.bulk_create(
        AvailabilityWindow(
            coach=profile, weekday=weekday, start_time=start, end_time=end
        )
        for weekday, day_ranges in sorted(by_day.items())
        for start, end in sorted(day_ranges)
    )
    logger.info(
        "coach.hours_updated coach_id=%s ranges=%d actor_id=%s",
        coach.pk,
        len(windows),
        actor.pk,
    )
    return windows


def _ranges_problem(ranges: list[tuple[dt.time, dt.time]]) -> str:
    ordered = sorted(ranges)
    for start, end in ordered:
        if not start < end:
            return _("Each range must end after it starts.")
    for (_start, end), (next_start, _end) in itertools.pairwise(ordered):
        if next_start < end:
            return _("Ranges of one day must not overlap.")
    return ""


@transaction.atomic
def availability_exception_add(
    *,
    coach: User,
    actor: User,
    date: dt.date,
    kind: str,
    start_time: dt.time | None = None,
    end_time: dt.time | None = None,
    note: str = "",
) -> AvailabilityException:
    """Add a dated exception: a day off, or extra hours on ``date`` (coach's zone).

    A day off ignores any times given. Raises BookingNotAllowed (403) for
    anyone but the coach or an admin, ValidationError (keyed by field) for
    extra hours without a valid range.
    """
    _check_may_manage(coach=coach, actor=actor)
    profile = CoachProfile.objects.select_for_update().get(user=coach)
    if kind == AvailabilityException.Kind.DAY_OFF:
        start_time = end_time = None
    elif start_time is None or end_time is None or not start_time < end_time:
        raise ValidationError(
            {"end_time": [_("Give extra hours a start and an end after it.")]}
        )
    exception = AvailabilityException(
        coach=profile,
        date=date,
        kind=kind,
        start_time=start_time,
        end_time=end_time,
        note=(note or "").strip(),
    )
    exception.full_clean()
    exception.save()
    logger.info(
        "coach.exception_added coach_id=%s date=%s kind=%s actor_id=%s",
        coach.pk,
        date,
        kind,
        actor.pk,
    )
    return exception


@transaction.atomic
def availability_exception_delete(
    *, exception: AvailabilityException, actor: User
) -> None:
    """Remove a dated exception; the weekly hours apply to that date again."""
    coach = exception.coach.user
    _check_may_manage(coach=coach, actor=actor)
    CoachProfile.objects.select_for_update().get(pk=exception.coach_id)
    AvailabilityException.objects.filter(pk=exception.pk).delete()
    logger.info(
        "coach.exception_deleted coach_id=%s date=%s actor_id=%s",
        coach.pk,
        exception.date,
        actor.pk,
    )


def _check_may_manage(*, coach: User, actor: User) -> None:
    if not coach.is_coach or not hasattr(coach, "coach_profile"):
        raise BookingNotAllowed(_("Only coaches have a practice to set up."))
    if actor.pk != coach.pk and not actor.is_admin:
        raise BookingNotAllowed(_("You can only change your own practice."))
