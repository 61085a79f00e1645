"""Creating bookings and moving them through their states.

Lock order, shared with payments: coach profile (booking creation only), then
booking, then payment. Side effects run after commit, so nothing is announced
that was rolled back.
"""

import datetime as dt
import functools
import logging
from collections.abc import Callable
from typing import Final

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import User
from bookings import availability, selectors
from bookings.exceptions import (
    BookingNotAllowed,
    HoldNotExpired,
    InvalidStartTime,
    InvalidTransition,
    OfferingUnavailable,
    OutsideAvailability,
    RefundRequired,
    SessionNotOver,
    SlotTaken,
    StartInPast,
    StartTooFarAhead,
    StartTooSoon,
    TooManyHolds,
)
from bookings.models import Booking, BookingTransition, CoachProfile, Offering
from money.pricing import breakdown

# The package logs under one name, the one log configuration and tests use.
logger = logging.getLogger("bookings.services")

Status = Booking.Status

# The PostgreSQL exclusion constraint of migration 0002.
NO_OVERLAP_CONSTRAINT: Final = "booking_coach_no_overlap"

# Called with a booking id after commit whenever an unpaid hold ends (expired
# or cancelled, by any path). The payments app registers the one that cancels
# the hold's open intent: bookings never imports payments' services, and the
# hold's lock is released before anyone calls Stripe.
_HOLD_ENDED_HOOKS: list[Callable[[str], None]] = []


# Called with a booking id inside the transaction of every state change. The
# payments app registers the live push (subscribers see booking and payment
# status in one message, which payments composes and sends once per
# transaction after commit): bookings never imports it.
_CHANGED_HOOKS: list[Callable[[object], None]] = []


def on_booking_changed(hook: Callable[[object], None]) -> None:
    """Call ``hook(booking_id)`` inside the transaction of each state change.

    The hook defers its own side effects to the commit (nothing is announced
    for a rolled-back change). Registering the same hook twice registers it
    once.
    """
    if hook not in _CHANGED_HOOKS:
        _CHANGED_HOOKS.append(hook)


def on_hold_ended(hook: Callable[[str], None]) -> None:
    """Call ``hook(booking_id)`` after commit each time an unpaid hold ends.

    Registering the same hook twice registers it once. A hook must not raise
    (it runs after the commit; its failures are logged and swallowed).
    """
    if hook not in _HOLD_ENDED_HOOKS:
        _HOLD_ENDED_HOOKS.append(hook)


# --- Creating -----------------------------------------------------------------


def booking_create(
    *, client: User, offering: Offering, starts_at: dt.datetime, actor: User
) -> Booking:
    """Book ``offering`` for ``client`` at ``starts_at`` and hold the slot unpaid.

    The booking starts as ``pending_payment`` with the price frozen from the
    offering and the coach's terms, and ``expires_at`` set
    ``PAYMENT_HOLD_MINUTES`` ahead. Only a client may be booked, by themselves
    or by an admin. The start must be aware, on a full or half hour of the
    coach's clock, after the coach's minimum notice and within their booking
    horizon (at most ``BOOKING_MAX_DAYS_AHEAD`` days ahead); the whole session
    must fit the coach's hours of that local date (weekly hours and dated
    exceptions) and keep their buffer from every other live booking. The
    cancellation window is snapshotted with the price: later changes of the
    coach's terms apply to new bookings only.

    Bookings of one coach are serialised by a lock on the coach's profile row:
    holds past their expiry that overlap the slot are expired first, then any
    other live overlap is refused. On PostgreSQL an exclusion constraint backs
    the check up.

    A client holds at most ``MAX_OPEN_HOLDS`` unpaid bookings (whose hold
    has not run out) at once, with all coaches together: counted under a lock
    on the client's row, taken after the coach's, so concurrent bookings of
    one client with several coaches cannot exceed it either.

    Raises BookingNotAllowed (403), OfferingUnavailable, InvalidStartTime and
    its subclasses (400), SlotTaken and TooManyHolds (409).
    """
    _check_may_book(client=client, actor=actor)
    if timezone.is_naive(starts_at):
        raise InvalidStartTime(_("Give the start time with its UTC offset."))
    starts_at = starts_at.astimezone(dt.UTC)
    now = timezone.now()
    if starts_at <= now:
        raise StartInPast(_("Sessions can only be booked in the future."))

    with transaction.atomic():
        profile = _lock_coach_profile(offering)
        _check_open_holds(client=client, now=now)
        offering = Offering.objects.get(pk=offering.pk)
        if not offering.active:
            raise OfferingUnavailable(_("This offering is no longer available."))
        _check_span(profile, starts_at=starts_at, now=now)
        ends_at = starts_at + dt.timedelta(minutes=offering.duration_minutes)
        tz = profile.tz
        if not availability.is_on_grid(starts_at, tz):
            raise InvalidStartTime(_("Sessions start on a full or half hour."))
        local_day = starts_at.astimezone(tz).date()
        ranges = availability.hours_on(
            local_day,
            profile.availability.all(),
            profile.exceptions.filter(date=local_day),
        )
        if not availability.fits_hours(ranges, starts_at, ends_at, tz):
            raise OutsideAvailability(_("The coach is not available at that time."))

        # The buffer widens the overlap check: a session must keep the
        # coach's current buffer from every other live one.
        buffer = dt.timedelta(minutes=profile.buffer_minutes)
        _expire_stale_holds(
            coach_id=offering.coach_id,
            starts_at=starts_at - buffer,
            ends_at=ends_at + buffer,
            now=now,
        )
        if _live_overlapping(
            coach_id=offering.coach_id,
            starts_at=starts_at - buffer,
            ends_at=ends_at + buffer,
        ).exists():
            raise SlotTaken(_("This time is already booked. Choose another one."))

        price = breakdown(offering.price_terms(profile))
        try:
            with transaction.atomic():
                booking = Booking.objects.create(
                    client=client,
                    coach_id=offering.coach_id,
                    offering=offering,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    status=Status.PENDING_PAYMENT,
                    # Never held past the start: paying for a session
                    # that has begun makes no sense.
                    expires_at=min(
                        now + dt.timedelta(minutes=settings.PAYMENT_HOLD_MINUTES),
                        starts_at,
                    ),
                    currency=price.currency,
                    price_base=price.base,
                    price_gross=price.gross,
                    price_net=price.net,
                    vat_amount=price.vat,
                    vat_rate_bps=price.vat_rate_bps,
                    vat_included=price.vat_included,
                    platform_fee_amount=price.platform_fee,
                    platform_fee_bps=price.platform_fee_bps,
                    coach_amount=price.coach_amount,
                    cancellation_window_hours=profile.cancellation_window_hours,
                    refund_fee_rule=profile.refund_fee_rule,
                )
        except IntegrityError as exc:
            if _violated_constraint(exc) == NO_OVERLAP_CONSTRAINT:
                raise SlotTaken(
                    _("This time is already booked. Choose another one.")
                ) from exc
            raise
        _record(booking, from_status="", actor=actor, cause="created")
    return booking


def _check_span(profile: CoachProfile, *, starts_at: dt.datetime, now) -> None:
    """Refuse a start inside the coach's minimum notice or past their horizon
    (never past the platform's ``BOOKING_MAX_DAYS_AHEAD``)."""
    max_days = selectors.coach_horizon_days(profile)
    earliest, latest = availability.bookable_span(
        now, min_notice_hours=profile.min_notice_hours, horizon_days=max_days
    )
    if starts_at <= earliest:
        raise StartTooSoon(
            ngettext(
                "This coach takes bookings at least %(hours)d hour ahead.",
                "This coach takes bookings at least %(hours)d hours ahead.",
                profile.min_notice_hours,
            )
            % {"hours": profile.min_notice_hours},
            minNoticeHours=profile.min_notice_hours,
        )
    if starts_at > latest:
        raise StartTooFarAhead(
            _("Sessions can be booked at most %(days)d days ahead.")
            % {"days": max_days},
            maxDaysAhead=max_days,
        )


def _check_may_book(*, client: User, actor: User) -> None:
    if not client.is_client:
        raise BookingNotAllowed(_("Only clients can book sessions."))
    if actor.pk != client.pk and not actor.is_admin:
        raise BookingNotAllowed(_("You can only book sessions for yourself."))


def _check_open_holds(*, client: User, now: dt.datetime) -> None:
    """Refuse a hold beyond ``MAX_OPEN_HOLDS``; the caller is in a transaction.

    The client's row lock serialises their bookings with every coach (the
    coach's lock only those with one coach). Lock order: coach profile, then
    client; nothing takes them the other way round.
    """
    User.objects.select_for_update().filter(pk=client.pk).values_list("pk").get()
    limit = settings.MAX_OPEN_HOLDS
    held = Booking.objects.filter(
        client=client, status=Status.PENDING_PAYMENT, expires_at__gt=now
    ).count()
    if held >= limit:
        raise TooManyHolds(
            ngettext(
                "You already hold %(count)d unpaid booking, the most at once. "
                "Pay for it or cancel it first.",
                "You already hold %(count)d unpaid bookings, the most at once. "
                "Pay for one or cancel one first.",
                limit,
            )
            % {"count": limit},
            maxOpenHolds=limit,
        )


def _lock_coach_profile(offering: Offering) -> CoachProfile:
    """Lock the coach's profile row: the one lock that orders their bookings."""
    try:
        return CoachProfile.objects.select_for_update().get(user_id=offering.coach_id)
    except CoachProfile.DoesNotExist:
        raise OfferingUnavailable(_("This coach does not take bookings.")) from None


def _live_overlapping(
    *, coach_id, starts_at: dt.datetime, ends_at: dt.datetime
) -> QuerySet[Booking]:
    return Booking.objects.filter(
        coach_id=coach_id,
        status__in=Booking.LIVE,
        starts_at__lt=ends_at,
        ends_at__gt=starts_at,
    )


def _expire_stale_holds(
    *, coach_id, starts_at: dt.datetime, ends_at: dt.datetime, now: dt.datetime
) -> None:
    stale = _live_overlapping(coach_id=coach_id, starts_at=starts_at, ends_at=ends_at)
    stale = stale.filter(status=Status.PENDING_PAYMENT, expires_at__lte=now)
    for booking in stale:
        _transition(booking, Status.EXPIRED, actor=None, cause="hold_expired")


def _violated_constraint(exc: IntegrityError) -> str | None:
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


# --- Moving between states ----------------------------------------------------


@transaction.atomic
def booking_cancel(*, booking: Booking, actor: User, reason: str = "") -> Booking:
    """Cancel a booking on behalf of its client, its coach or an admin.

    An unpaid hold (``pending_payment``) is cancelled at once and its slot is
    free again. A ``confirmed`` booking has been paid, so cancelling it means
    refunding per the cancellation policy, which the payment core does
    (``payments.services.booking_cancel_with_refund``, through
    ``booking_cancel_paid``); here it raises RefundRequired. Cancelling a
    cancelled booking returns it unchanged. ``reason`` (what the canceller
    tells the other party) is kept on the booking.

    Raises BookingNotAllowed (403) for anyone else, RefundRequired and
    InvalidTransition (409) for other states.
    """
    locked = _lock(booking)
    if not _is_party(actor, locked):
        raise BookingNotAllowed(_("You may not cancel this booking."))
    if locked.status == Status.CONFIRMED:
        # The refund is the payment core's: payments.services.
        # booking_cancel_with_refund refunds per policy via booking_cancel_paid.
        raise RefundRequired(
            _("This booking is paid; cancelling it needs a refund."),
            bookingStatus=locked.status,
        )
    return _transition(
        locked,
        Status.CANCELLED,
        actor=actor,
        cause=f"cancelled_by_{actor.role}",
        reason=reason,
    )


@transaction.atomic
def booking_cancel_paid(*, booking: Booking, actor: User, reason: str = "") -> Booking:
    """Cancel a paid (``confirmed``) booking; the caller settles the refund.

    For the payment core only (``payments.services.booking_cancel_with_refund``),
    which decides the refund per policy and issues it after this commits. The
    same parties as ``booking_cancel`` may do it. Idempotent: a cancelled
    booking is returned unchanged.

    Raises BookingNotAllowed (403) for anyone else; InvalidTransition (409)
    for an unpaid hold (use ``booking_cancel``) and for states that cannot be
    cancelled.
    """
    locked = _lock(booking)
    if not _is_party(actor, locked):
        raise BookingNotAllowed(_("You may not cancel this booking."))
    if locked.status == Status.PENDING_PAYMENT:
        raise InvalidTransition(
            _("This booking is not paid; cancel it without a refund."),
            fromStatus=locked.status,
            toStatus=Status.CANCELLED,
        )
    return _transition(
        locked,
        Status.CANCELLED,
        actor=actor,
        cause=f"cancelled_by_{actor.role}",
        reason=reason,
    )


@transaction.atomic
def booking_expire(*, booking: Booking, actor: User | None = None) -> Booking:
    """Release an unpaid hold whose ``expires_at`` has passed.

    Idempotent: an expired booking is returned unchanged. Raises
    HoldNotExpired (409) while the hold runs, InvalidTransition (409) for a
    booking that is no longer awaiting payment.
    """
    locked = _lock(booking)
    if (
        locked.status == Status.PENDING_PAYMENT
        and locked.expires_at is not None
        and locked.expires_at > timezone.now()
    ):
        raise HoldNotExpired(
            _("The payment hold has not run out yet."),
            expiresAt=locked.expires_at.isoformat(),
        )
    return _transition(locked, Status.EXPIRED, actor=actor, cause="hold_expired")


def booking_confirm(
    *, booking: Booking, actor: User | None, cause: str, locked: bool = False
) -> Booking:
    """Mark an unpaid booking as paid (``pending_payment`` -> ``confirmed``).

    Called by the payment core when a payment succeeds. A hold past its expiry
    that has not been released yet is still confirmed: its slot was never given
    to anyone else, since a new booking expires overlapping stale holds first.
    ``locked``: the caller holds the booking's row lock in this transaction
    and ``booking`` is the row it read under it (the payment core does), so
    it is not read again. Idempotent: a confirmed booking is returned
    unchanged. Raises InvalidTransition (409) for an expired or cancelled
    booking.
    """
    return _transition(
        booking, Status.CONFIRMED, actor=actor, cause=cause, locked=locked
    )


def booking_mark_refunded(
    *, booking: Booking, actor: User | None, cause: str
) -> Booking:
    """Mark a paid booking as fully refunded.

    Allowed from ``confirmed``, ``completed`` and ``cancelled``. Idempotent:
    a refunded booking is returned unchanged. Raises InvalidTransition (409)
    for a booking that was never paid.
    """
    return _transition(booking, Status.REFUNDED, actor=actor, cause=cause)


@transaction.atomic
def booking_complete(*, booking: Booking, actor: User | None, cause: str) -> Booking:
    """Mark a confirmed session as held, once it has ended.

    Idempotent: a completed booking is returned unchanged. Raises
    SessionNotOver (409) before ``ends_at``, InvalidTransition (409) from any
    state but ``confirmed``.
    """
    locked = _lock(booking)
    if locked.status == Status.CONFIRMED and locked.ends_at > timezone.now():
        raise SessionNotOver(_("The session has not ended yet."))
    return _transition(locked, Status.COMPLETED, actor=actor, cause=cause)


def booking_complete_ended(*, now: dt.datetime | None = None) -> int:
    """Complete every confirmed session that has ended; return how many moved.

    Meant for the periodic job (payments' earnings mature from completion).
    Each booking goes through ``booking_complete`` in its own transaction,
    so the move is locked, recorded (cause ``session_ended``) and announced
    like any other; a re-run or a concurrent run finds nothing left to move.
    """
    now = now or timezone.now()
    ended = Booking.objects.filter(
        status=Status.CONFIRMED, ends_at__lte=now
    ).values_list("pk", flat=True)
    moved = 0
    for pk in ended:
        try:
            booking = booking_complete(
                booking=Booking(pk=pk), actor=None, cause="session_ended"
            )
        except (InvalidTransition, SessionNotOver):
            continue  # cancelled or refunded since the query
        moved += booking.status == Status.COMPLETED
    return moved


def _is_party(user: User, booking: Booking) -> bool:
    return user.is_admin or user.pk in (booking.client_id, booking.coach_id)


def _lock(booking: Booking) -> Booking:
    return Booking.objects.select_for_update().get(pk=booking.pk)


@transaction.atomic
def _transition(
    booking: Booking,
    to: str,
    *,
    actor: User | None,
    cause: str,
    reason: str = "",
    locked: bool = False,
) -> Booking:
    """Move ``booking`` to ``to`` under a row lock; the one writer of ``status``.

    Already in ``to``: the fresh row is returned unchanged (webhooks and
    retries repeat). A move ``Booking.ALLOWED`` does not list raises
    InvalidTransition. Otherwise bumps ``version``, appends a
    BookingTransition and announces the change after commit.
    """
    locked = booking if locked else _lock(booking)
    if locked.status == to:
        return locked
    if not locked.can_move_to(to):
        raise InvalidTransition(
            _("A booking that is %(status)s cannot become %(to)s.")
            % {
                "status": locked.get_status_display().lower(),
                "to": Status(to).label.lower(),
            },
            fromStatus=locked.status,
            toStatus=to,
        )
    from_status = locked.status
    locked.status = to
    locked.version += 1
    fields = ["status", "version", "updated_at"]
    if to == Status.CANCELLED:
        locked.cancelled_at = timezone.now()
        locked.cancel_reason = (reason or "").strip()[:1000]
        fields += ["cancelled_at", "cancel_reason"]
    locked.save(update_fields=fields)
    _record(locked, from_status=from_status, actor=actor, cause=cause)
    return locked


def booking_touch(*, booking_id) -> None:
    """Bump the booking's version without a status move: live clients order
    messages by it.

    For a change of something shown with the booking (its payment moved, a
    refund was reserved): a booking's payments come and go (a declined card
    ends one, the next try starts another), so only the booking has a version
    that always grows. The caller already holds the booking's lock.
    """
    Booking.objects.filter(pk=booking_id).update(
        version=F("version") + 1, updated_at=timezone.now()
    )


def _record(
    booking: Booking, *, from_status: str, actor: User | None, cause: str
) -> None:
    """Append the audit row and announce the change once the transaction commits."""
    BookingTransition.objects.create(
        booking=booking,
        from_status=from_status,
        to_status=booking.status,
        actor=actor,
        cause=cause,
    )
    event = {
        "booking_id": str(booking.pk),
        "from_status": from_status,
        "to_status": booking.status,
        "version": booking.version,
        "cause": cause,
        "actor_id": str(actor.pk) if actor else None,
    }
    transaction.on_commit(lambda: _announce(event), robust=True)
    # Subscribers see booking and payment status in one message, which the
    # payments app composes (through its hook): one per transaction, also
    # when the payment that caused this change announced itself.
    for hook in _CHANGED_HOOKS:
        hook(booking.pk)
    if from_status == Status.PENDING_PAYMENT and booking.status in (
        Status.EXPIRED,
        Status.CANCELLED,
    ):
        for hook in _HOLD_ENDED_HOOKS:
            transaction.on_commit(functools.partial(hook, str(booking.pk)), robust=True)


def _announce(event: dict) -> None:
    """The log line of a committed transition (the push is registered apart)."""
    logger.info(
        "booking.transition booking_id=%(booking_id)s from=%(from_status)s "
        "to=%(to_status)s version=%(version)s cause=%(cause)s actor_id=%(actor_id)s",
        event,
        extra={"event": "booking.transition", **event},
    )
