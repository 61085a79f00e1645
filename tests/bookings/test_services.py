"""Booking services: creation rules, the slot lock, and every transition."""

import datetime as dt
import logging
import zoneinfo

import pytest
from django.utils import timezone

from bookings import services
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
)
from bookings.models import AvailabilityWindow, Booking, BookingTransition
from tests import factories

pytestmark = pytest.mark.django_db

UTC = dt.UTC
ZURICH = zoneinfo.ZoneInfo("Europe/Zurich")
S = Booking.Status


# --- booking_create: the happy path --------------------------------------------


def test_booking_create_valid_slot_holds_it_unpaid(
    client_user, coach, offering, zurich_at, settings
):
    settings.PAYMENT_HOLD_MINUTES = 30
    starts_at = zurich_at(1, 10)
    before = timezone.now()

    booking = services.booking_create(
        client=client_user, offering=offering, starts_at=starts_at, actor=client_user
    )

    assert booking.status == S.PENDING_PAYMENT
    assert booking.version == 1
    assert booking.client == client_user
    assert booking.coach == coach
    assert booking.starts_at == starts_at
    assert booking.ends_at == starts_at + dt.timedelta(minutes=60)
    assert booking.starts_at.tzinfo == UTC
    expected_expiry = before + dt.timedelta(minutes=30)
    assert (
        expected_expiry
        <= booking.expires_at
        <= timezone.now() + dt.timedelta(minutes=30)
    )


def test_booking_create_valid_slot_freezes_price_snapshot(
    client_user, offering, zurich_at
):
    booking = services.booking_create(
        client=client_user,
        offering=offering,
        starts_at=zurich_at(1, 10),
        actor=client_user,
    )
    offering.price_amount = 99900
    offering.save()
    booking.refresh_from_db()

    assert booking.currency == "CHF"
    assert booking.price_base == booking.price_gross == 10000
    assert booking.vat_amount == 749  # 10000 * 8.1 / 108.1, rounded half up
    assert booking.price_net == 9251
    assert booking.vat_rate_bps == 810
    assert booking.vat_included is True
    assert booking.platform_fee_amount == 1500
    assert booking.platform_fee_bps == 1500
    assert booking.coach_amount == 8500
    assert booking.cancellation_window_hours == 24


def test_booking_create_vat_on_top_adds_it_to_the_price(client_user, zurich_at):
    coach = factories.CoachFactory(profile__vat_included=False)
    offering = factories.OfferingFactory(coach=coach, price_amount=10000)

    booking = services.booking_create(
        client=client_user,
        offering=offering,
        starts_at=zurich_at(1, 10),
        actor=client_user,
    )

    assert booking.price_base == 10000
    assert booking.vat_amount == 810
    assert booking.price_gross == 10810
    assert booking.platform_fee_amount == 1622  # 15 % of 108.10, rounded half up


def test_booking_create_valid_slot_records_created_transition(booking, client_user):
    (row,) = BookingTransition.objects.filter(booking=booking)
    assert (row.from_status, row.to_status) == ("", S.PENDING_PAYMENT)
    assert row.actor == client_user
    assert row.cause == "created"


def test_booking_create_zoned_start_keeps_duration_across_dst(
    client_user, offering, freeze
):
    # Zurich springs forward at 02:00 on 2027-03-28; the start is given in local
    # time the day after, and the end must be 60 real minutes later.
    freeze(dt.datetime(2027, 3, 20, 12, tzinfo=UTC))
    starts_at = dt.datetime(2027, 3, 29, 10, tzinfo=ZURICH)

    booking = services.booking_create(
        client=client_user, offering=offering, starts_at=starts_at, actor=client_user
    )

    assert booking.starts_at == dt.datetime(2027, 3, 29, 8, tzinfo=UTC)
    assert booking.ends_at - booking.starts_at == dt.timedelta(hours=1)


def test_booking_create_announces_after_commit(
    client_user, offering, zurich_at, django_capture_on_commit_callbacks, caplog
):
    caplog.set_level(logging.INFO, logger="bookings.services")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        booking = services.booking_create(
            client=client_user,
            offering=offering,
            starts_at=zurich_at(1, 10),
            actor=client_user,
        )
    # The log line and the live push (one per booking and transaction).
    assert len(callbacks) == 2
    assert "booking.transition" not in caplog.text

    callbacks[0]()

    assert f"booking_id={booking.pk}" in caplog.text
    assert "to=pending_payment" in caplog.text


# --- booking_create: who may book ----------------------------------------------


def test_booking_create_coach_for_themselves_is_forbidden(coach, offering, zurich_at):
    with pytest.raises(BookingNotAllowed) as info:
        services.booking_create(
            client=coach, offering=offering, starts_at=zurich_at(1, 10), actor=coach
        )
    assert info.value.http_status == 403
    assert not Booking.objects.exists()


def test_booking_create_admin_for_themselves_is_forbidden(
    admin_user, offering, zurich_at
):
    with pytest.raises(BookingNotAllowed):
        services.booking_create(
            client=admin_user,
            offering=offering,
            starts_at=zurich_at(1, 10),
            actor=admin_user,
        )
    assert not Booking.objects.exists()


def test_booking_create_client_for_another_client_is_forbidden(
    client_user, other_client, offering, zurich_at
):
    with pytest.raises(BookingNotAllowed):
        services.booking_create(
            client=client_user,
            offering=offering,
            starts_at=zurich_at(1, 10),
            actor=other_client,
        )
    assert not Booking.objects.exists()


def test_booking_create_admin_for_a_client_books_and_records_admin(
    client_user, admin_user, offering, zurich_at
):
    booking = services.booking_create(
        client=client_user,
        offering=offering,
        starts_at=zurich_at(1, 10),
        actor=admin_user,
    )
    assert booking.client == client_user
    assert booking.transitions.get().actor == admin_user


# --- booking_create: what may be booked ----------------------------------------


def test_booking_create_inactive_offering_is_unavailable(
    client_user, offering, zurich_at
):
    offering.active = False
    offering.save()
    with pytest.raises(OfferingUnavailable):
        services.booking_create(
            client=client_user,
            offering=offering,
            starts_at=zurich_at(1, 10),
            actor=client_user,
        )
    assert not Booking.objects.exists()


def test_booking_create_coach_without_profile_is_unavailable(client_user, zurich_at):
    coach = factories.UserFactory(role="coach")
    offering = factories.OfferingFactory(coach=coach)
    with pytest.raises(OfferingUnavailable):
        services.booking_create(
            client=client_user,
            offering=offering,
            starts_at=zurich_at(1, 10),
            actor=client_user,
        )
    assert not Booking.objects.exists()


def test_booking_create_naive_start_is_invalid(client_user, offering, zurich_at):
    naive = zurich_at(1, 10).replace(tzinfo=None)
    with pytest.raises(InvalidStartTime):
        services.booking_create(
            client=client_user, offering=offering, starts_at=naive, actor=client_user
        )
    assert not Booking.objects.exists()


@pytest.mark.parametrize(
    "shift",
    [
        dt.timedelta(minutes=15),
        dt.timedelta(minutes=29),
        dt.timedelta(seconds=30),
        dt.timedelta(microseconds=1),
    ],
    ids=["quarter", "minute", "second", "microsecond"],
)
def test_booking_create_off_the_half_hour_is_invalid(
    client_user, offering, zurich_at, shift
):
    with pytest.raises(InvalidStartTime) as info:
        services.booking_create(
            client=client_user,
            offering=offering,
            starts_at=zurich_at(1, 10) + shift,
            actor=client_user,
        )
    assert info.value.code == "invalid_start_time"
    assert not Booking.objects.exists()


def test_booking_create_half_hour_of_coach_clock_is_valid_in_a_quarter_hour_zone(
    client_user, freeze
):
    # Kathmandu is UTC+05:45: its half hours are quarter past in UTC.
    coach = factories.CoachFactory(profile__time_zone="Asia/Kathmandu")
    offering = factories.OfferingFactory(coach=coach)
    freeze(dt.datetime(2026, 12, 1, tzinfo=UTC))
    starts_at = dt.datetime(
        2026, 12, 2, 10, 30, tzinfo=zoneinfo.ZoneInfo("Asia/Kathmandu")
    )

    booking = services.booking_create(
        client=client_user, offering=offering, starts_at=starts_at, actor=client_user
    )

    assert booking.starts_at == dt.datetime(2026, 12, 2, 4, 45, tzinfo=UTC)


def test_booking_create_in_the_past_is_refused(client_user, offering, freeze):
    now = dt.datetime(2026, 12, 1, 9, tzinfo=UTC)
    freeze(now)
    for starts_at in (now - dt.timedelta(minutes=30), now):
        with pytest.raises(StartInPast):
            services.booking_create(
                client=client_user,
                offering=offering,
                starts_at=starts_at,
                actor=client_user,
            )
    assert not Booking.objects.exists()


def test_booking_create_beyond_max_days_ahead_is_refused(
    client_user, offering, freeze, settings
):
    settings.BOOKING_MAX_DAYS_AHEAD = 90
    now = dt.datetime(2026, 12, 1, 9, tzinfo=UTC)
    freeze(now)
    with pytest.raises(StartTooFarAhead) as info:
        services.booking_create(
            client=client_user,
            offering=offering,
            starts_at=now + dt.timedelta(days=90, minutes=30),
            actor=client_user,
        )
    assert info.value.details == {"maxDaysAhead": 90}
    assert not Booking.objects.exists()


def test_booking_create_exactly_max_days_ahead_is_allowed(
    client_user, offering, freeze, settings
):
    settings.BOOKING_MAX_DAYS_AHEAD = 90
    now = dt.datetime(2026, 12, 1, 9, tzinfo=UTC)  # 10:00 in Zurich
    freeze(now)
    booking = services.booking_create(
        client=client_user,
        offering=offering,
        starts_at=now + dt.timedelta(days=90),
        actor=client_user,
    )
    assert booking.status == S.PENDING_PAYMENT


@pytest.mark.parametrize(
    ("hour", "minute"),
    [(6, 30), (0, 0), (20, 30), (21, 0), (23, 30)],
    ids=[
        "before-opening",
        "midnight",
        "runs-past-closing",
        "at-closing",
        "crosses-midnight",
    ],
)
def test_booking_create_outside_availability_is_refused(
    client_user, offering, zurich_at, hour, minute
):
    with pytest.raises(OutsideAvailability) as info:
        services.booking_create(
            client=client_user,
            offering=offering,
            starts_at=zurich_at(1, hour, minute),
            actor=client_user,
        )
    assert info.value.http_status == 400
    assert not Booking.objects.exists()


@pytest.mark.parametrize(("hour", "minute"), [(7, 0), (20, 0)], ids=["opening", "last"])
def test_booking_create_at_window_edges_is_allowed(
    client_user, offering, zurich_at, hour, minute
):
    booking = services.booking_create(
        client=client_user,
        offering=offering,
        starts_at=zurich_at(1, hour, minute),
        actor=client_user,
    )
    assert booking.status == S.PENDING_PAYMENT


def test_booking_create_window_on_other_weekday_only_is_refused(
    client_user, coach, offering, zurich_at
):
    starts_at = zurich_at(1, 10)
    AvailabilityWindow.objects.filter(
        coach__user=coach, weekday=starts_at.weekday()
    ).delete()
    with pytest.raises(OutsideAvailability):
        services.booking_create(
            client=client_user,
            offering=offering,
            starts_at=starts_at,
            actor=client_user,
        )


def test_booking_create_dst_boundary_uses_coach_local_time(
    client_user, offering, freeze
):
    # 05:30 UTC is 06:30 in Zurich on Saturday 2027-03-27 (CET, closed) and
    # 07:30 on Sunday 2027-03-28, after the switch to CEST (open from 07:00).
    freeze(dt.datetime(2027, 3, 20, 12, tzinfo=UTC))

    with pytest.raises(OutsideAvailability):
        services.booking_create(
            client=client_user,
            offering=offering,
            starts_at=dt.datetime(2027, 3, 27, 5, 30, tzinfo=UTC),
            actor=client_user,
        )
    booking = services.booking_create(
        client=client_user,
        offering=offering,
        starts_at=dt.datetime(2027, 3, 28, 5, 30, tzinfo=UTC),
        actor=client_user,
    )

    assert booking.starts_at.astimezone(ZURICH).time() == dt.time(7, 30)
    assert Booking.objects.count() == 1


def test_booking_create_through_skipped_dst_hour_fits_wall_clock_window(
    client_user, freeze
):
    # Night window 00:00-05:00; 01:30 CET plus one real hour is 03:30 CEST.
    coach = factories.CoachFactory()
    AvailabilityWindow.objects.filter(coach__user=coach).update(
        start_time=dt.time(0), end_time=dt.time(5)
    )
    offering = factories.OfferingFactory(coach=coach)
    freeze(dt.datetime(2027, 3, 20, 12, tzinfo=UTC))

    booking = services.booking_create(
        client=client_user,
        offering=offering,
        starts_at=dt.datetime(2027, 3, 28, 1, 30, tzinfo=ZURICH),
        actor=client_user,
    )

    assert booking.ends_at.astimezone(ZURICH).time() == dt.time(3, 30)


# --- booking_create: overlaps --------------------------------------------------


@pytest.mark.parametrize("status", [S.PENDING_PAYMENT, S.CONFIRMED, S.COMPLETED])
@pytest.mark.parametrize(
    ("hour", "minute"), [(10, 0), (9, 30), (10, 30)], ids=["same", "before", "after"]
)
def test_booking_create_overlapping_live_booking_is_slot_taken(
    booking, other_client, offering, zurich_at, set_state, status, hour, minute
):
    set_state(booking, status)
    with pytest.raises(SlotTaken) as info:
        services.booking_create(
            client=other_client,
            offering=offering,
            starts_at=zurich_at(1, hour, minute),
            actor=other_client,
        )
    assert info.value.http_status == 409
    assert Booking.objects.count() == 1


@pytest.mark.parametrize(
    "hour", [9, 11], ids=["ends-at-its-start", "starts-at-its-end"]
)
def test_booking_create_adjacent_slot_is_allowed(
    booking, other_client, offering, zurich_at, hour
):
    services.booking_create(
        client=other_client,
        offering=offering,
        starts_at=zurich_at(1, hour),
        actor=other_client,
    )
    assert Booking.objects.count() == 2


@pytest.mark.parametrize("status", [S.EXPIRED, S.CANCELLED, S.REFUNDED])
def test_booking_create_over_a_final_booking_is_allowed(
    booking, other_client, offering, zurich_at, set_state, status
):
    set_state(booking, status)
    services.booking_create(
        client=other_client,
        offering=offering,
        starts_at=zurich_at(1, 10),
        actor=other_client,
    )
    assert Booking.objects.filter(status=S.PENDING_PAYMENT).count() == 1


def test_booking_create_same_time_with_another_coach_is_allowed(
    booking, other_client, other_coach, zurich_at
):
    offering = factories.OfferingFactory(coach=other_coach)
    services.booking_create(
        client=other_client,
        offering=offering,
        starts_at=zurich_at(1, 10),
        actor=other_client,
    )
    assert Booking.objects.count() == 2


def test_booking_create_over_expired_hold_releases_it(
    booking, other_client, offering, zurich_at, set_state
):
    set_state(booking, expires_at=timezone.now() - dt.timedelta(seconds=1))

    new = services.booking_create(
        client=other_client,
        offering=offering,
        starts_at=zurich_at(1, 10),
        actor=other_client,
    )

    booking.refresh_from_db()
    assert booking.status == S.EXPIRED
    assert booking.version == 2
    released = booking.transitions.get(to_status=S.EXPIRED)
    assert (released.actor, released.cause) == (None, "hold_expired")
    assert new.status == S.PENDING_PAYMENT


def test_booking_create_over_running_hold_is_slot_taken(
    booking, other_client, offering, zurich_at, set_state
):
    set_state(booking, expires_at=timezone.now() + dt.timedelta(minutes=1))
    with pytest.raises(SlotTaken):
        services.booking_create(
            client=other_client,
            offering=offering,
            starts_at=zurich_at(1, 10),
            actor=other_client,
        )
    booking.refresh_from_db()
    assert booking.status == S.PENDING_PAYMENT


def test_booking_create_slot_taken_leaves_expired_holds_of_other_slots_alone(
    booking, make_booking, other_client, zurich_at, set_state
):
    other = make_booking(client=other_client, starts_at=zurich_at(1, 14))
    set_state(other, expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(SlotTaken):
        make_booking(client=other_client, starts_at=zurich_at(1, 10))
    other.refresh_from_db()
    assert other.status == S.PENDING_PAYMENT  # the sweep, not this request, frees it


# --- the transition table ------------------------------------------------------

MOVES = {
    S.CONFIRMED: services.booking_confirm,
    S.REFUNDED: services.booking_mark_refunded,
}


@pytest.mark.parametrize("target", list(MOVES))
@pytest.mark.parametrize("start", list(S))
def test_transition_each_pair_moves_repeats_or_refuses_per_table(
    booking, admin_user, set_state, start, target
):
    set_state(booking, start)
    move = MOVES[target]

    if start == target:
        result = move(booking=booking, actor=admin_user, cause="test")
        assert (result.status, result.version) == (target, 1)
        assert not booking.transitions.filter(to_status=target).exists()
    elif target in Booking.ALLOWED[start]:
        result = move(booking=booking, actor=admin_user, cause="test")
        assert (result.status, result.version) == (target, 2)
        row = booking.transitions.get(to_status=target)
        assert (row.from_status, row.actor, row.cause) == (start, admin_user, "test")
    else:
        with pytest.raises(InvalidTransition) as info:
            move(booking=booking, actor=admin_user, cause="test")
        assert info.value.details == {"fromStatus": start, "toStatus": target}
        booking.refresh_from_db()
        assert (booking.status, booking.version) == (start, 1)


def test_transition_registers_announcement_on_commit(
    booking, django_capture_on_commit_callbacks, caplog
):
    caplog.set_level(logging.INFO, logger="bookings.services")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.booking_confirm(booking=booking, actor=None, cause="payment_succeeded")
    assert len(callbacks) == 2  # the log line and the live push
    assert "from=pending_payment to=confirmed version=2 cause=payment_succeeded" in (
        caplog.text
    )


# --- booking_cancel ------------------------------------------------------------


@pytest.mark.parametrize("who", ["client_user", "coach", "admin_user"])
def test_booking_cancel_pending_by_a_party_cancels_it(booking, request, who):
    actor = request.getfixturevalue(who)

    result = services.booking_cancel(booking=booking, actor=actor)

    assert result.status == S.CANCELLED
    assert result.version == 2
    assert result.cancelled_at is not None
    row = result.transitions.get(to_status=S.CANCELLED)
    assert (row.from_status, row.actor, row.cause) == (
        S.PENDING_PAYMENT,
        actor,
        f"cancelled_by_{actor.role}",
    )


@pytest.mark.parametrize("who", ["other_client", "other_coach"])
def test_booking_cancel_by_a_stranger_is_forbidden(booking, request, who):
    with pytest.raises(BookingNotAllowed):
        services.booking_cancel(booking=booking, actor=request.getfixturevalue(who))
    booking.refresh_from_db()
    assert booking.status == S.PENDING_PAYMENT


def test_booking_cancel_twice_is_noop(booking, client_user):
    first = services.booking_cancel(booking=booking, actor=client_user)
    second = services.booking_cancel(booking=booking, actor=client_user)
    assert second.version == first.version == 2
    assert second.cancelled_at == first.cancelled_at
    assert booking.transitions.filter(to_status=S.CANCELLED).count() == 1


def test_booking_cancel_confirmed_needs_refund(booking, client_user, set_state):
    set_state(booking, S.CONFIRMED)
    with pytest.raises(RefundRequired) as info:
        services.booking_cancel(booking=booking, actor=client_user)
    assert (info.value.code, info.value.http_status) == ("refund_required", 409)
    booking.refresh_from_db()
    assert booking.status == S.CONFIRMED


@pytest.mark.parametrize("status", [S.EXPIRED, S.COMPLETED, S.REFUNDED])
def test_booking_cancel_final_or_completed_is_invalid(
    booking, client_user, set_state, status
):
    set_state(booking, status)
    with pytest.raises(InvalidTransition) as info:
        services.booking_cancel(booking=booking, actor=client_user)
    assert info.value.code == "invalid_transition"


def test_booking_cancel_frees_the_slot(
    booking, client_user, make_booking, other_client
):
    services.booking_cancel(booking=booking, actor=client_user)
    assert make_booking(client=other_client).status == S.PENDING_PAYMENT


# --- booking_expire ------------------------------------------------------------


def test_booking_expire_after_hold_expires_it(booking, set_state):
    set_state(booking, expires_at=timezone.now() - dt.timedelta(seconds=1))

    result = services.booking_expire(booking=booking)

    assert (result.status, result.version) == (S.EXPIRED, 2)
    row = result.transitions.get(to_status=S.EXPIRED)
    assert (row.actor, row.cause) == (None, "hold_expired")


def test_booking_expire_while_hold_runs_is_refused(booking):
    with pytest.raises(HoldNotExpired) as info:
        services.booking_expire(booking=booking)
    assert info.value.http_status == 409
    booking.refresh_from_db()
    assert booking.status == S.PENDING_PAYMENT


def test_booking_expire_twice_is_noop(booking, set_state):
    set_state(booking, expires_at=timezone.now() - dt.timedelta(seconds=1))
    services.booking_expire(booking=booking)
    again = services.booking_expire(booking=booking)
    assert again.version == 2
    assert booking.transitions.filter(to_status=S.EXPIRED).count() == 1


@pytest.mark.parametrize("status", [S.CONFIRMED, S.CANCELLED, S.COMPLETED, S.REFUNDED])
def test_booking_expire_not_pending_is_invalid(booking, set_state, status):
    set_state(booking, status, expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(InvalidTransition):
        services.booking_expire(booking=booking)


# --- booking_confirm -----------------------------------------------------------


def test_booking_confirm_pending_confirms_it(booking):
    result = services.booking_confirm(
        booking=booking, actor=None, cause="payment_succeeded"
    )
    assert (result.status, result.version) == (S.CONFIRMED, 2)


def test_booking_confirm_past_unreleased_hold_still_confirms(booking, set_state):
    set_state(booking, expires_at=timezone.now() - dt.timedelta(minutes=5))
    result = services.booking_confirm(
        booking=booking, actor=None, cause="payment_succeeded"
    )
    assert result.status == S.CONFIRMED


def test_booking_confirm_twice_is_noop(booking):
    services.booking_confirm(booking=booking, actor=None, cause="payment_succeeded")
    again = services.booking_confirm(
        booking=booking, actor=None, cause="payment_succeeded"
    )
    assert again.version == 2


@pytest.mark.parametrize("status", [S.EXPIRED, S.CANCELLED, S.REFUNDED, S.COMPLETED])
def test_booking_confirm_from_other_states_is_invalid(booking, set_state, status):
    set_state(booking, status)
    with pytest.raises(InvalidTransition):
        services.booking_confirm(booking=booking, actor=None, cause="payment_succeeded")


# --- booking_complete ----------------------------------------------------------


def _ended(booking, set_state, status=S.CONFIRMED):
    end = timezone.now() - dt.timedelta(minutes=1)
    return set_state(
        booking, status, starts_at=end - dt.timedelta(hours=1), ends_at=end
    )


def test_booking_complete_confirmed_after_end_completes_it(booking, set_state, coach):
    _ended(booking, set_state)
    result = services.booking_complete(
        booking=booking, actor=coach, cause="session_held"
    )
    assert (result.status, result.version) == (S.COMPLETED, 2)


def test_booking_complete_before_end_is_refused(booking, set_state, coach):
    set_state(booking, S.CONFIRMED)
    with pytest.raises(SessionNotOver):
        services.booking_complete(booking=booking, actor=coach, cause="session_held")
    booking.refresh_from_db()
    assert booking.status == S.CONFIRMED


def test_booking_complete_twice_is_noop(booking, set_state, coach):
    _ended(booking, set_state)
    services.booking_complete(booking=booking, actor=coach, cause="session_held")
    again = services.booking_complete(
        booking=booking, actor=coach, cause="session_held"
    )
    assert again.version == 2


@pytest.mark.parametrize(
    "status", [S.PENDING_PAYMENT, S.EXPIRED, S.CANCELLED, S.REFUNDED]
)
def test_booking_complete_from_other_states_is_invalid(
    booking, set_state, coach, status
):
    _ended(booking, set_state, status)
    with pytest.raises(InvalidTransition):
        services.booking_complete(booking=booking, actor=coach, cause="session_held")


# --- booking_mark_refunded -----------------------------------------------------


@pytest.mark.parametrize("status", [S.CONFIRMED, S.COMPLETED, S.CANCELLED])
def test_booking_mark_refunded_paid_booking_refunds_it(booking, set_state, status):
    set_state(booking, status)
    result = services.booking_mark_refunded(booking=booking, actor=None, cause="refund")
    assert result.status == S.REFUNDED


def test_booking_mark_refunded_twice_is_noop(booking, set_state):
    set_state(booking, S.CONFIRMED)
    services.booking_mark_refunded(booking=booking, actor=None, cause="refund")
    again = services.booking_mark_refunded(booking=booking, actor=None, cause="refund")
    assert again.version == 2


@pytest.mark.parametrize("status", [S.PENDING_PAYMENT, S.EXPIRED])
def test_booking_mark_refunded_unpaid_is_invalid(booking, set_state, status):
    set_state(booking, status)
    with pytest.raises(InvalidTransition):
        services.booking_mark_refunded(booking=booking, actor=None, cause="refund")


# --- booking_cancel_paid -------------------------------------------------------


@pytest.mark.parametrize("who", ["client_user", "coach", "admin_user"])
def test_booking_cancel_paid_confirmed_by_a_party_cancels_it(
    booking, set_state, request, who
):
    set_state(booking, S.CONFIRMED)
    actor = request.getfixturevalue(who)

    result = services.booking_cancel_paid(booking=booking, actor=actor)

    assert (result.status, result.version) == (S.CANCELLED, 2)
    assert result.cancelled_at is not None
    row = result.transitions.get(to_status=S.CANCELLED)
    assert (row.from_status, row.actor) == (S.CONFIRMED, actor)


def test_booking_cancel_paid_twice_is_noop(booking, set_state, client_user):
    set_state(booking, S.CONFIRMED)
    services.booking_cancel_paid(booking=booking, actor=client_user)
    again = services.booking_cancel_paid(booking=booking, actor=client_user)
    assert again.version == 2


@pytest.mark.parametrize("who", ["other_client", "other_coach"])
def test_booking_cancel_paid_by_a_stranger_is_forbidden(
    booking, set_state, request, who
):
    set_state(booking, S.CONFIRMED)
    with pytest.raises(BookingNotAllowed):
        services.booking_cancel_paid(
            booking=booking, actor=request.getfixturevalue(who)
        )
    booking.refresh_from_db()
    assert booking.status == S.CONFIRMED


@pytest.mark.parametrize(
    "status", [S.PENDING_PAYMENT, S.EXPIRED, S.COMPLETED, S.REFUNDED]
)
def test_booking_cancel_paid_unpaid_or_final_is_invalid(
    booking, set_state, client_user, status
):
    set_state(booking, status)
    with pytest.raises(InvalidTransition) as info:
        services.booking_cancel_paid(booking=booking, actor=client_user)
    assert info.value.code == "invalid_transition"
    booking.refresh_from_db()
    assert booking.status == status
