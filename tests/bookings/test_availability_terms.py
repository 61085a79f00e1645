"""Free times under the coach's own terms: dated exceptions, buffer, notice,
horizon and open holds, in the coach's zone across the Europe/Zurich DST
switches (fixed dates on both sides), also as read from another zone."""

import datetime as dt
import zoneinfo

import pytest

from bookings import availability, selectors, services
from bookings.exceptions import (
    OutsideAvailability,
    SlotTaken,
    StartTooFarAhead,
    StartTooSoon,
)
from bookings.models import AvailabilityException, AvailabilityWindow, CoachProfile
from tests import factories

pytestmark = pytest.mark.django_db

UTC = dt.UTC
ZURICH = zoneinfo.ZoneInfo("Europe/Zurich")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def _local(slots, zone=ZURICH):
    return [slot.astimezone(zone).strftime("%H:%M") for slot in slots]


def _coach_with_hours(*ranges, **profile):
    """A coach working ``ranges`` (pairs of hours) every day, and a 60-min offering."""
    coach = factories.CoachFactory()
    AvailabilityWindow.objects.filter(coach__user=coach).delete()
    profile_row = coach.coach_profile
    for weekday in range(7):
        for low, high in ranges:
            AvailabilityWindow.objects.create(
                coach=profile_row,
                weekday=weekday,
                start_time=dt.time(*low),
                end_time=dt.time(*high),
            )
    if profile:
        CoachProfile.objects.filter(pk=profile_row.pk).update(**profile)
    return factories.OfferingFactory(coach=coach)


# --- several ranges a day, exceptions -----------------------------------------


def test_several_ranges_a_day_leave_the_gap_free_of_starts(freeze):
    offering = _coach_with_hours(((9,), (11,)), ((14,), (16,)))
    freeze(dt.datetime(2026, 12, 1, 12, tzinfo=UTC))
    slots = selectors.free_slots(offering=offering, day=dt.date(2026, 12, 2))
    assert _local(slots) == ["09:00", "09:30", "10:00", "14:00", "14:30", "15:00"]


def test_day_off_empties_the_date_and_booking_it_is_refused(freeze, client_user):
    offering = _coach_with_hours(((9,), (17,)))
    profile = offering.coach.coach_profile
    AvailabilityException.objects.create(
        coach=profile, date=dt.date(2026, 12, 24), kind="day_off", note="Holiday"
    )
    freeze(dt.datetime(2026, 12, 1, 12, tzinfo=UTC))

    assert selectors.free_slots(offering=offering, day=dt.date(2026, 12, 24)) == []
    assert selectors.free_slots(offering=offering, day=dt.date(2026, 12, 23))
    with pytest.raises(OutsideAvailability):
        services.booking_create(
            client=client_user,
            offering=offering,
            starts_at=dt.datetime(2026, 12, 24, 10, tzinfo=ZURICH),
            actor=client_user,
        )


def test_extra_hours_on_a_date_add_starts_and_can_be_booked(freeze, client_user):
    offering = _coach_with_hours(((9,), (11,)))
    profile = offering.coach.coach_profile
    AvailabilityException.objects.create(
        coach=profile,
        date=dt.date(2026, 12, 5),
        kind="extra",
        start_time=dt.time(18),
        end_time=dt.time(20),
    )
    freeze(dt.datetime(2026, 12, 1, 12, tzinfo=UTC))

    slots = selectors.free_slots(offering=offering, day=dt.date(2026, 12, 5))
    assert _local(slots) == ["09:00", "09:30", "10:00", "18:00", "18:30", "19:00"]
    assert "18:00" not in _local(
        selectors.free_slots(offering=offering, day=dt.date(2026, 12, 6))
    )
    booking = services.booking_create(
        client=client_user, offering=offering, starts_at=slots[-1], actor=client_user
    )
    assert booking.starts_at == dt.datetime(2026, 12, 5, 19, tzinfo=ZURICH)


def test_day_off_wins_over_extra_hours_the_same_date():
    weekly = [
        AvailabilityWindow(weekday=5, start_time=dt.time(9), end_time=dt.time(12))
    ]
    day = dt.date(2026, 12, 5)  # a Saturday
    exceptions = [
        AvailabilityException(
            date=day, kind="extra", start_time=dt.time(14), end_time=dt.time(16)
        ),
        AvailabilityException(date=day, kind="day_off"),
    ]
    assert availability.hours_on(day, weekly, exceptions) == []
    assert availability.hours_on(day, weekly, exceptions[:1]) == [
        (dt.time(9), dt.time(12)),
        (dt.time(14), dt.time(16)),
    ]


# --- buffer, notice, horizon, holds -------------------------------------------


def test_buffer_keeps_free_minutes_around_a_booking_and_an_open_hold(
    freeze, client_user
):
    offering = _coach_with_hours(((9,), (17,)), buffer_minutes=30)
    freeze(dt.datetime(2026, 12, 1, 12, tzinfo=UTC))
    hold = services.booking_create(
        client=client_user,
        offering=offering,
        starts_at=dt.datetime(2026, 12, 2, 12, tzinfo=ZURICH),
        actor=client_user,
    )
    assert hold.status == "pending_payment"  # an open hold counts as taken

    times = _local(selectors.free_slots(offering=offering, day=dt.date(2026, 12, 2)))
    # 60-min sessions: 11:00 would end at 12:00 with no buffer; 13:00 starts
    # right after. 10:30 ends 11:30 and 13:30 starts 30 min after: both free.
    assert {"10:30", "13:30"} <= set(times)
    assert {"11:00", "11:30", "12:00", "12:30", "13:00"}.isdisjoint(times)
    other = factories.ClientFactory()
    with pytest.raises(SlotTaken):
        services.booking_create(
            client=other,
            offering=offering,
            starts_at=dt.datetime(2026, 12, 2, 13, tzinfo=ZURICH),
            actor=other,
        )


def test_minimum_notice_hides_and_refuses_near_starts(freeze, client_user):
    offering = _coach_with_hours(((7,), (21,)), min_notice_hours=24)
    freeze(dt.datetime(2026, 12, 1, 12, tzinfo=UTC))  # 13:00 in Zurich
    tomorrow = _local(selectors.free_slots(offering=offering, day=dt.date(2026, 12, 2)))
    assert tomorrow[0] == "13:30"  # after 13:00 tomorrow, 24 h from now
    with pytest.raises(StartTooSoon) as refused:
        services.booking_create(
            client=client_user,
            offering=offering,
            starts_at=dt.datetime(2026, 12, 2, 12, tzinfo=ZURICH),
            actor=client_user,
        )
    assert refused.value.details == {"minNoticeHours": 24}


def test_coach_horizon_hides_and_refuses_far_starts(freeze, client_user, settings):
    settings.BOOKING_MAX_DAYS_AHEAD = 90
    offering = _coach_with_hours(((9,), (17,)), booking_horizon_days=7)
    freeze(dt.datetime(2026, 12, 1, 12, tzinfo=UTC))
    assert selectors.free_slots(offering=offering, day=dt.date(2026, 12, 7))
    assert selectors.free_slots(offering=offering, day=dt.date(2026, 12, 9)) == []
    with pytest.raises(StartTooFarAhead) as refused:
        services.booking_create(
            client=client_user,
            offering=offering,
            starts_at=dt.datetime(2026, 12, 9, 10, tzinfo=ZURICH),
            actor=client_user,
        )
    assert refused.value.details == {"maxDaysAhead": 7}


def test_platform_limit_caps_a_longer_coach_horizon(freeze, settings):
    settings.BOOKING_MAX_DAYS_AHEAD = 10
    offering = _coach_with_hours(((9,), (17,)), booking_horizon_days=365)
    freeze(dt.datetime(2026, 12, 1, 12, tzinfo=UTC))
    assert selectors.free_slots(offering=offering, day=dt.date(2026, 12, 20)) == []


# --- DST: both sides of the March and October switches -------------------------


@pytest.mark.parametrize(
    ("day", "first_utc"),
    [
        # Saturday before the spring switch: CET, UTC+1.
        (dt.date(2027, 3, 27), dt.datetime(2027, 3, 27, 8, tzinfo=UTC)),
        # Monday after it: CEST, UTC+2.
        (dt.date(2027, 3, 29), dt.datetime(2027, 3, 29, 7, tzinfo=UTC)),
        # Saturday before the autumn switch: CEST.
        (dt.date(2027, 10, 30), dt.datetime(2027, 10, 30, 7, tzinfo=UTC)),
        # Monday after it: CET.
        (dt.date(2027, 11, 1), dt.datetime(2027, 11, 1, 8, tzinfo=UTC)),
    ],
)
def test_hours_stay_on_the_coachs_wall_clock_both_sides_of_dst(freeze, day, first_utc):
    offering = _coach_with_hours(((9,), (12,)))
    freeze(dt.datetime.combine(day - dt.timedelta(days=7), dt.time(12), tzinfo=UTC))
    slots = selectors.free_slots(offering=offering, day=day)
    assert slots[0] == first_utc
    assert _local(slots) == ["09:00", "09:30", "10:00", "10:30", "11:00"]


@pytest.mark.parametrize(
    ("day", "new_york_times"),
    [
        # 27 March 2027: New York is already on EDT (since 14 March), Zurich
        # still on CET: 6 hours apart instead of 5.
        (dt.date(2027, 3, 27), ["04:00", "04:30", "05:00"]),
        # 29 March: both on summer time, 6 hours apart.
        (dt.date(2027, 3, 29), ["03:00", "03:30", "04:00"]),
        # 30 October: Zurich CEST, New York EDT: 6 hours.
        (dt.date(2027, 10, 30), ["03:00", "03:30", "04:00"]),
        # 1 November: Zurich back on CET, New York still EDT (until 7 Nov): 5 hours.
        (dt.date(2027, 11, 1), ["04:00", "04:30", "05:00"]),
    ],
)
def test_a_viewer_in_new_york_sees_the_coachs_hours_shift_across_both_switches(
    freeze, day, new_york_times
):
    offering = _coach_with_hours(((9,), (11,)))
    freeze(dt.datetime.combine(day - dt.timedelta(days=7), dt.time(12), tzinfo=UTC))
    slots = selectors.free_slots(offering=offering, day=day)
    assert _local(slots, NEW_YORK) == new_york_times
    assert _local(slots) == ["09:00", "09:30", "10:00"]


def test_a_session_running_into_the_skipped_hour_ends_on_the_wall_clock(freeze):
    # 28 March 2027, 02:00 CET jumps to 03:00 CEST. Hours 00:00-03:00: a 60-min
    # session at 01:30 would end at 03:30 on the wall clock: it does not fit.
    offering = _coach_with_hours(((0,), (3,)))
    freeze(dt.datetime(2027, 3, 20, 12, tzinfo=UTC))
    slots = selectors.free_slots(offering=offering, day=dt.date(2027, 3, 28))
    assert _local(slots) == ["00:00", "00:30", "01:00"]
    # 01:00 + 60 real minutes is 03:00 CEST: it fits exactly.
    assert slots[-1] + dt.timedelta(hours=1) == dt.datetime(
        2027, 3, 28, 3, tzinfo=ZURICH
    )


def test_buffer_counts_real_minutes_across_the_autumn_switch(freeze, client_user):
    # 31 October 2027: 03:00 CEST falls back to 02:00 CET. A booking 01:00-02:00
    # CEST (23:00-00:00 UTC) and a 60-min buffer: the next start is 01:00 UTC,
    # which is 02:00 CET on the wall clock (the second 02:00).
    offering = _coach_with_hours(((1,), (5,)), buffer_minutes=60)
    freeze(dt.datetime(2027, 10, 20, 12, tzinfo=UTC))
    services.booking_create(
        client=client_user,
        offering=offering,
        starts_at=dt.datetime(2027, 10, 30, 23, tzinfo=UTC),
        actor=client_user,
    )
    slots = selectors.free_slots(offering=offering, day=dt.date(2027, 10, 31))
    assert slots[0] == dt.datetime(2027, 10, 31, 1, tzinfo=UTC)
    assert _local(slots)[0] == "02:00"
