"""Booking selectors: who sees what, and what is free, with bounded queries."""

import datetime as dt
import itertools
import uuid
import zoneinfo

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from bookings import selectors, services
from bookings.models import AvailabilityWindow, Booking
from tests import factories

pytestmark = pytest.mark.django_db

UTC = dt.UTC
ZURICH = zoneinfo.ZoneInfo("Europe/Zurich")


# --- coach_list_public ---------------------------------------------------------


def test_coach_list_public_lists_only_bookable_coaches(coach, offering):
    factories.CoachFactory(email="no-offering@example.com")
    idle = factories.CoachFactory(email="inactive-offering@example.com")
    factories.OfferingFactory(coach=idle, active=False)
    gone = factories.CoachFactory(email="gone@example.com", is_active=False)
    factories.OfferingFactory(coach=gone)
    no_profile = factories.UserFactory(email="no-profile@example.com", role="coach")
    factories.OfferingFactory(coach=no_profile)

    assert list(selectors.coach_list_public()) == [coach]


def test_coach_list_public_prefetches_only_active_offerings_shortest_first(coach):
    long = factories.OfferingFactory(coach=coach, duration_minutes=60)
    short = factories.OfferingFactory(coach=coach, duration_minutes=30)
    factories.OfferingFactory(coach=coach, duration_minutes=45, active=False)

    (listed,) = selectors.coach_list_public()

    assert listed.active_offerings == [short, long]


def test_coach_list_public_many_coaches_costs_two_queries(django_assert_num_queries):
    for _ in range(4):
        coach = factories.CoachFactory()
        factories.OfferingFactory.create_batch(2, coach=coach)

    with django_assert_num_queries(2):
        coaches = list(selectors.coach_list_public())
        for coach in coaches:
            assert coach.coach_profile.time_zone
            for offering in coach.active_offerings:
                assert offering.coach.coach_profile.vat_rate_bps == 810

    assert len(coaches) == 4


# --- booking_list_for_user / booking_get_for_user ------------------------------


@pytest.fixture
def bookings(make_booking, other_client, other_coach, zurich_at):
    mine = make_booking()
    theirs = make_booking(client=other_client, starts_at=zurich_at(1, 14))
    elsewhere = make_booking(
        client=other_client,
        offering=factories.OfferingFactory(coach=other_coach),
        starts_at=zurich_at(2, 10),
    )
    return {"mine": mine, "theirs": theirs, "elsewhere": elsewhere}


@pytest.mark.parametrize(
    ("who", "visible"),
    [
        ("client_user", {"mine"}),
        ("other_client", {"theirs", "elsewhere"}),
        ("coach", {"mine", "theirs"}),
        ("other_coach", {"elsewhere"}),
        ("admin_user", {"mine", "theirs", "elsewhere"}),
    ],
)
def test_booking_list_for_user_each_role_sees_its_own(bookings, request, who, visible):
    user = request.getfixturevalue(who)
    listed = set(selectors.booking_list_for_user(user=user))
    assert listed == {bookings[name] for name in visible}


def test_booking_list_for_user_anonymous_sees_none(bookings):
    assert not selectors.booking_list_for_user(user=AnonymousUser()).exists()


def test_booking_list_for_user_joins_people_and_offering(
    bookings, admin_user, django_assert_num_queries
):
    with django_assert_num_queries(1):
        for booking in selectors.booking_list_for_user(user=admin_user):
            assert booking.client.email
            assert booking.coach.email
            assert booking.offering.title


def test_booking_get_for_user_own_booking_is_returned(bookings, client_user):
    mine = bookings["mine"]
    assert selectors.booking_get_for_user(user=client_user, booking_id=mine.pk) == mine
    assert (
        selectors.booking_get_for_user(user=client_user, booking_id=str(mine.pk))
        == mine
    )


@pytest.mark.parametrize("booking_id", ["theirs", "unknown", "malformed"])
def test_booking_get_for_user_invisible_or_bad_id_is_none(
    bookings, client_user, booking_id
):
    ids = {
        "theirs": bookings["theirs"].pk,
        "unknown": uuid.uuid4(),
        "malformed": "not-a-uuid",
    }
    assert (
        selectors.booking_get_for_user(user=client_user, booking_id=ids[booking_id])
        is None
    )


def test_offering_get_known_unknown_and_malformed(offering):
    assert selectors.offering_get(offering_id=str(offering.pk)) == offering
    assert selectors.offering_get(offering_id=uuid.uuid4()) is None
    assert selectors.offering_get(offering_id="nope") is None


# --- free_slots ----------------------------------------------------------------


def _local_times(slots):
    return [slot.astimezone(ZURICH).strftime("%H:%M") for slot in slots]


def test_free_slots_whole_day_lists_every_start_that_fits(offering, freeze):
    freeze(dt.datetime(2026, 12, 1, 12, tzinfo=UTC))
    slots = selectors.free_slots(offering=offering, day=dt.date(2026, 12, 2))

    times = _local_times(slots)
    assert times[0] == "07:00"
    assert times[-1] == "20:00"
    assert len(times) == 27  # 07:00 .. 20:00 every half hour
    assert all(slot.tzinfo == UTC for slot in slots)


def test_free_slots_live_booking_blocks_overlapping_starts(
    offering, freeze, client_user
):
    freeze(dt.datetime(2026, 12, 1, 12, tzinfo=UTC))
    factories_booking = dt.datetime(2026, 12, 2, 10, tzinfo=ZURICH)
    services.booking_create(
        client=client_user,
        offering=offering,
        starts_at=factories_booking,
        actor=client_user,
    )
    times = _local_times(
        selectors.free_slots(offering=offering, day=dt.date(2026, 12, 2))
    )

    assert {"09:30", "10:00", "10:30"}.isdisjoint(times)
    assert {"09:00", "11:00"} <= set(times)
    assert len(times) == 24


def test_free_slots_expired_hold_does_not_block(booking, offering, set_state):
    set_state(booking, expires_at=timezone.now() - dt.timedelta(seconds=1))
    day = booking.starts_at.astimezone(ZURICH).date()
    starts = selectors.free_slots(offering=offering, day=day)
    assert booking.starts_at in starts


def test_free_slots_today_skips_past_starts(offering, freeze):
    freeze(dt.datetime(2026, 12, 2, 11, 10, tzinfo=UTC))  # 12:10 in Zurich
    times = _local_times(
        selectors.free_slots(offering=offering, day=dt.date(2026, 12, 2))
    )
    assert times[0] == "12:30"


def test_free_slots_beyond_horizon_or_inactive_is_empty(offering, freeze, settings):
    settings.BOOKING_MAX_DAYS_AHEAD = 90
    freeze(dt.datetime(2026, 12, 1, 12, tzinfo=UTC))
    assert selectors.free_slots(offering=offering, day=dt.date(2027, 3, 5)) == []
    offering.active = False
    assert selectors.free_slots(offering=offering, day=dt.date(2026, 12, 2)) == []


def test_free_slots_ahead_is_each_days_free_slots_in_four_queries(
    offering, freeze, client_user, django_assert_max_num_queries
):
    """The coach page reads 14 days in one go; it must list what asking day
    by day lists: bookings, a day off and extra hours on other days."""
    freeze(dt.datetime(2026, 12, 1, 12, tzinfo=UTC))
    services.booking_create(
        client=client_user,
        offering=offering,
        starts_at=dt.datetime(2026, 12, 3, 10, tzinfo=ZURICH),
        actor=client_user,
    )
    profile = offering.coach.coach_profile
    profile.exceptions.create(date=dt.date(2026, 12, 4), kind="day_off")
    profile.exceptions.create(
        date=dt.date(2026, 12, 6),
        kind="extra",
        start_time=dt.time(9),
        end_time=dt.time(12),
    )
    today = dt.date(2026, 12, 1)
    by_day = [
        start
        for offset in range(14)
        for start in selectors.free_slots(
            offering=offering, day=today + dt.timedelta(days=offset)
        )
    ]

    with django_assert_max_num_queries(4):
        ahead = selectors.free_slots_ahead(offering=offering, days=14)

    assert ahead == by_day
    assert not [s for s in ahead if s.astimezone(ZURICH).date() == dt.date(2026, 12, 4)]
    assert "10:00" not in _local_times(
        s for s in ahead if s.astimezone(ZURICH).date() == dt.date(2026, 12, 3)
    )


def test_free_slots_spring_forward_day_skips_missing_hour(freeze):
    coach = factories.CoachFactory()
    AvailabilityWindow.objects.filter(coach__user=coach).update(
        start_time=dt.time(0), end_time=dt.time(5)
    )
    offering = factories.OfferingFactory(coach=coach)
    freeze(dt.datetime(2027, 3, 20, 12, tzinfo=UTC))

    slots = selectors.free_slots(offering=offering, day=dt.date(2027, 3, 28))

    assert _local_times(slots) == [
        "00:00",
        "00:30",
        "01:00",
        "01:30",
        "03:00",
        "03:30",
        "04:00",
    ]
    assert all(b - a >= dt.timedelta(minutes=30) for a, b in itertools.pairwise(slots))


def test_free_slots_fall_back_day_offers_repeated_hour_twice(freeze):
    coach = factories.CoachFactory()
    AvailabilityWindow.objects.filter(coach__user=coach).update(
        start_time=dt.time(1), end_time=dt.time(4)
    )
    offering = factories.OfferingFactory(coach=coach, duration_minutes=30)
    freeze(dt.datetime(2027, 10, 20, 12, tzinfo=UTC))

    slots = selectors.free_slots(offering=offering, day=dt.date(2027, 10, 31))

    # 02:00-03:00 happens twice (CEST, then CET); each real instant is a slot.
    assert _local_times(slots) == [
        "01:00", "01:30", "02:00", "02:30", "02:00", "02:30", "03:00", "03:30",
    ]  # fmt: skip
    assert len(set(slots)) == len(slots)


def test_free_slots_match_what_booking_create_accepts(
    offering, client_user, freeze, settings
):
    settings.MAX_OPEN_HOLDS = 100  # one client books the whole day here
    freeze(dt.datetime(2027, 3, 20, 12, tzinfo=UTC))
    slots = selectors.free_slots(offering=offering, day=dt.date(2027, 3, 28))
    for start in slots[::4]:  # two hours apart: none overlaps the one before
        services.booking_create(
            client=client_user, offering=offering, starts_at=start, actor=client_user
        )
    assert Booking.objects.count() == len(slots[::4])
