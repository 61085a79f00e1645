"""Reads of coaches, offerings and bookings, scoped to who asks."""

import datetime as dt
import uuid

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from bookings import availability
from bookings.models import (
    AvailabilityException,
    AvailabilityWindow,
    Booking,
    CoachProfile,
    Offering,
)
from coaching.ids import as_uuid


def _has_hours(user_ref: OuterRef) -> Q:
    """The coach has weekly hours, or extra hours dated today or later."""
    today = timezone.now().date() - dt.timedelta(days=1)  # any zone's today
    return Exists(AvailabilityWindow.objects.filter(coach__user=user_ref)) | Exists(
        AvailabilityException.objects.filter(
            coach__user=user_ref, kind=AvailabilityException.Kind.EXTRA, date__gte=today
        )
    )


def coach_list_public() -> QuerySet[User]:
    """Coaches a client can book: active, with a profile that has a bio, hours
    and an active offering (the onboarding checklist, ``coach_setup_steps``).

    Each coach comes with ``coach_profile`` joined and ``active_offerings`` (a
    list, shortest first) prefetched, so listing them costs two queries.
    """
    active = Offering.objects.filter(active=True).order_by("duration_minutes", "title")
    return (
        User.objects.filter(
            role=User.Role.COACH, is_active=True, coach_profile__isnull=False
        )
        .filter(Exists(active.filter(coach=OuterRef("pk"))))
        .exclude(coach_profile__bio="")
        .filter(_has_hours(OuterRef("pk")))
        .select_related("coach_profile")
        .prefetch_related(
            Prefetch("offerings", queryset=active, to_attr="active_offerings")
        )
        .order_by("name", "email")
    )


def offering_get(*, offering_id: uuid.UUID | str) -> Offering | None:
    """The offering with that id, active or not, or None (also for a malformed id)."""
    pk = as_uuid(offering_id)
    if pk is None:
        return None
    return Offering.objects.select_related("coach").filter(pk=pk).first()


def booking_list_for_user(*, user: User) -> QuerySet[Booking]:
    """Bookings the user may see: a client's own, a coach's with them, all for admins.

    Anyone else (an anonymous or role-less user) sees none.
    """
    bookings = Booking.objects.select_related("client", "coach", "offering")
    if user.is_authenticated and user.is_admin:
        return bookings
    if user.is_authenticated and user.is_coach:
        return bookings.filter(coach=user)
    if user.is_authenticated and user.is_client:
        return bookings.filter(client=user)
    return bookings.none()


def booking_get_for_user(*, user: User, booking_id: uuid.UUID | str) -> Booking | None:
    """The booking if ``user`` may see it, else None: the caller answers 404.

    Someone else's booking and one that does not exist look the same, so the
    API never confirms that an id exists.
    """
    pk = as_uuid(booking_id)
    if pk is None:
        return None
    return booking_list_for_user(user=user).filter(pk=pk).first()


def coach_horizon_days(profile: CoachProfile) -> int:
    """How many days ahead the coach may be booked: their own horizon, never
    past the platform's ``BOOKING_MAX_DAYS_AHEAD``."""
    return min(profile.booking_horizon_days, settings.BOOKING_MAX_DAYS_AHEAD)


def free_slots(*, offering: Offering, day: dt.date) -> list[dt.datetime]:
    """Starts (in UTC) on ``day`` in the coach's zone at which ``offering`` fits.

    A slot is free when it starts after the coach's minimum notice and within
    their booking horizon, fits the hours of that local date (weekly hours
    and dated exceptions) and keeps the coach's buffer clear of live bookings
    and open holds; holds past their expiry do not count, as
    ``booking_create`` would release them.
    """
    return _free_slots(offering=offering, first=day, days=1)


def _free_slots(
    *, offering: Offering, first: dt.date | None, days: int
) -> list[dt.datetime]:
    """``free_slots`` for ``days`` local dates from ``first`` (None: the
    coach's today), in four queries whatever the number of days: the profile
    with its weekly hours, the dated exceptions and the bookings in the span.
    """
    profile = (
        CoachProfile.objects.prefetch_related("availability")
        .filter(user_id=offering.coach_id)
        .first()
    )
    if profile is None or not offering.active:
        return []
    tz = profile.tz
    now = timezone.now()
    if first is None:
        first = now.astimezone(tz).date()
    earliest, latest = availability.bookable_span(
        now,
        min_notice_hours=profile.min_notice_hours,
        horizon_days=coach_horizon_days(profile),
    )
    duration = dt.timedelta(minutes=offering.duration_minutes)
    weekly = profile.availability.all()
    dated = list(
        profile.exceptions.filter(
            date__range=(first, first + dt.timedelta(days=days - 1))
        )
    )
    starts = [
        start
        for day in (first + dt.timedelta(days=offset) for offset in range(days))
        if (ranges := availability.hours_on(day, weekly, dated))
        for start in availability.candidate_starts(day, tz)
        if earliest < start <= latest
        and availability.fits_hours(ranges, start, start + duration, tz)
    ]
    if not starts:
        return []
    buffer = dt.timedelta(minutes=profile.buffer_minutes)
    taken = list(
        Booking.objects.filter(
            coach_id=offering.coach_id,
            status__in=Booking.LIVE,
            starts_at__lt=starts[-1] + duration + buffer,
            ends_at__gt=starts[0] - buffer,
        )
        .exclude(Q(status=Booking.Status.PENDING_PAYMENT) & Q(expires_at__lte=now))
        .values_list("starts_at", "ends_at")
    )
    return [
        start
        for start in starts
        if availability.clear_of(taken, start, start + duration, buffer)
    ]


def coach_get_public(*, coach_id: uuid.UUID | str) -> User | None:
    """A bookable coach (as in ``coach_list_public``), or None: the page is a 404."""
    pk = as_uuid(coach_id)
    if pk is None:
        return None
    return coach_list_public().filter(pk=pk).first()


def free_slots_ahead(*, offering: Offering, days: int) -> list[dt.datetime]:
    """Free starts (UTC, in order) on the next ``days`` days of the coach's
    calendar, today included: ``free_slots`` for each of those local dates,
    read in one go."""
    return _free_slots(offering=offering, first=None, days=days)


def booking_list_for_client(*, user: User, upcoming: bool) -> QuerySet[Booking]:
    """The user's own bookings as a client: sessions not yet over (soonest
    first) or past ones (latest first)."""
    bookings = Booking.objects.select_related(
        "coach", "coach__coach_profile", "offering"
    ).filter(client=user)
    now = timezone.now()
    if upcoming:
        return bookings.filter(ends_at__gt=now).order_by("starts_at")
    return bookings.filter(ends_at__lte=now).order_by("-starts_at")


def booking_list_for_coach(*, coach: User, upcoming: bool) -> QuerySet[Booking]:
    """Sessions booked with ``coach``: not yet over (soonest first, unpaid holds
    that ran out left out) or over (latest first, all of them)."""
    bookings = Booking.objects.select_related(
        "client", "coach", "coach__coach_profile", "offering"
    ).filter(coach=coach)
    now = timezone.now()
    if upcoming:
        return (
            bookings.filter(ends_at__gt=now)
            .exclude(status=Booking.Status.EXPIRED)
            .order_by("starts_at")
        )
    return bookings.filter(ends_at__lte=now).order_by("-starts_at")


def offering_list_for_coach(*, coach: User) -> QuerySet[Offering]:
    """All of the coach's offerings, active ones first, each with ``bookings_count``."""
    return (
        Offering.objects.filter(coach=coach)
        .annotate(bookings_count=Count("bookings"))
        .order_by("-active", "duration_minutes", "title")
    )


def offering_get_for_coach(
    *, coach: User, offering_id: uuid.UUID | str
) -> Offering | None:
    """The coach's own offering with that id, else None: the page is a 404."""
    pk = as_uuid(offering_id)
    if pk is None:
        return None
    return Offering.objects.filter(coach=coach, pk=pk).first()


def coach_setup_steps(*, coach: User) -> dict[str, bool]:
    """The new coach's checklist: which of profile (a bio), hours (weekly or
    extra) and a first active offering are done. All three: bookable, listed
    in the catalogue."""
    profile = CoachProfile.objects.filter(user=coach).first()
    if profile is None:
        return {"profile": False, "hours": False, "offering": False}
    return {
        "profile": bool(profile.bio.strip()),
        "hours": User.objects.filter(pk=coach.pk)
        .filter(_has_hours(OuterRef("pk")))
        .exists(),
        "offering": Offering.objects.filter(coach=coach, active=True).exists(),
    }


def exception_list_for_coach(
    *, profile: CoachProfile
) -> QuerySet[AvailabilityException]:
    """The coach's dated exceptions from yesterday on (any zone's today), soonest first."""
    since = timezone.now().date() - dt.timedelta(days=1)
    return profile.exceptions.filter(date__gte=since).order_by("date", "start_time")


# The filters of the coach's bookings page.
COACH_BOOKING_FILTERS = ("upcoming", "holds", "past", "cancelled")


def booking_list_for_coach_filtered(*, coach: User, show: str) -> QuerySet[Booking]:
    """The coach's bookings for one filter of their bookings page.

    ``upcoming``: paid sessions not yet over, soonest first. ``holds``:
    unpaid holds still running, soonest first. ``past``: sessions that are
    over and were not cancelled (refunded ones included), latest first.
    ``cancelled``: cancelled (refunded or not) and released holds, latest
    first.
    """
    S = Booking.Status
    bookings = Booking.objects.select_related(
        "client", "coach", "coach__coach_profile", "offering"
    ).filter(coach=coach)
    now = timezone.now()
    ended = Q(status__in=(S.CANCELLED, S.EXPIRED)) | Q(
        status=S.REFUNDED, cancelled_at__isnull=False
    )
    if show == "upcoming":
        return bookings.filter(
            status__in=(S.CONFIRMED, S.COMPLETED), ends_at__gt=now
        ).order_by("starts_at")
    if show == "holds":
        return bookings.filter(status=S.PENDING_PAYMENT, expires_at__gt=now).order_by(
            "starts_at"
        )
    if show == "past":
        return (
            bookings.filter(ends_at__lte=now)
            .exclude(status=S.PENDING_PAYMENT)
            .exclude(ended)
            .order_by("-starts_at")
        )
    if show == "cancelled":
        return bookings.filter(ended).order_by("-starts_at")
    raise ValueError(f"unknown filter {show!r}")
