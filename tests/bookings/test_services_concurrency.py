"""Double booking under real concurrency: PostgreSQL only.

SQLite serialises every write transaction and ignores ``select_for_update``,
so these run on the PostgreSQL leg (``DATABASE_URL=postgres://...``). Each
thread has its own database connection; the transactional test database lets
them see each other's commits.
"""

import importlib
import threading
from collections.abc import Callable, Iterator

import pytest
from django.db import IntegrityError, close_old_connections, connection, transaction
from rest_framework.test import APIClient

from bookings import services
from bookings.exceptions import SlotTaken, TooManyHolds
from bookings.models import Booking, BookingTransition
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

no_overlap = importlib.import_module(
    "bookings.migrations.0002_booking_no_overlap_postgres"
)


@pytest.fixture
def without_exclusion_constraint() -> Iterator[None]:
    """Drop the database's guarantee, leaving only the service's lock."""
    with connection.cursor() as cursor:
        cursor.execute(no_overlap.DROP)
    try:
        yield
    finally:
        # A failed run may have left overlaps that would block the constraint.
        BookingTransition.objects.all().delete()
        Booking.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(no_overlap.CREATE)


def run_together(*calls: Callable[[], object]) -> list[object]:
    """Run each call in its own thread and connection, released at one barrier."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def worker(index: int, call: Callable[[], object]) -> None:
        close_old_connections()
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_booking_create_racing_overlaps_exactly_one_wins(offering, zurich_at):
    # 10:00-11:00 and 10:30-11:30 overlap each other: any winner blocks the rest.
    clients = [factories.ClientFactory() for _ in range(4)]
    starts = [zurich_at(1, 10), zurich_at(1, 10, 30)] * 2

    def book(client, starts_at):
        return lambda: services.booking_create(
            client=client, offering=offering, starts_at=starts_at, actor=client
        )

    results = run_together(*(book(c, s) for c, s in zip(clients, starts, strict=True)))

    won = [r for r in results if isinstance(r, Booking)]
    lost = [r for r in results if isinstance(r, SlotTaken)]
    assert (len(won), len(lost)) == (1, 3), results
    assert Booking.objects.count() == 1


def test_booking_create_racing_overlaps_lock_alone_lets_one_win(
    offering, zurich_at, without_exclusion_constraint
):
    clients = [factories.ClientFactory() for _ in range(4)]
    results = run_together(
        *(
            lambda c=c: services.booking_create(
                client=c, offering=offering, starts_at=zurich_at(1, 10), actor=c
            )
            for c in clients
        )
    )
    assert sum(isinstance(r, Booking) for r in results) == 1, results
    assert sum(isinstance(r, SlotTaken) for r in results) == 3, results


def test_booking_create_racing_api_posts_one_201_one_409(
    client_user, other_client, offering, zurich_at
):
    def post(user, starts_at):
        def call():
            api = APIClient()
            api.force_authenticate(user=user)
            payload = {
                "offeringId": str(offering.pk),
                "startsAt": starts_at.isoformat(),
            }
            return api.post("/api/bookings/", payload, format="json")

        return call

    first, second = run_together(
        post(client_user, zurich_at(1, 10)), post(other_client, zurich_at(1, 10, 30))
    )

    assert sorted([first.status_code, second.status_code]) == [201, 409]
    loser = first if first.status_code == 409 else second
    assert loser.json()["error"]["code"] == "slot_taken"
    assert Booking.objects.count() == 1


def test_booking_create_racing_different_coaches_both_win(
    client_user, other_client, offering, other_coach, zurich_at
):
    elsewhere = factories.OfferingFactory(coach=other_coach)
    results = run_together(
        lambda: services.booking_create(
            client=client_user,
            offering=offering,
            starts_at=zurich_at(1, 10),
            actor=client_user,
        ),
        lambda: services.booking_create(
            client=other_client,
            offering=elsewhere,
            starts_at=zurich_at(1, 10),
            actor=other_client,
        ),
    )
    assert all(isinstance(r, Booking) for r in results), results


def test_exclusion_constraint_rejects_raw_overlapping_insert(booking):
    clone = {
        f.attname: getattr(booking, f.attname)
        for f in Booking._meta.concrete_fields
        if f.attname not in {"id", "created_at", "updated_at"}
    }
    clone["starts_at"] = booking.starts_at.replace(minute=30)
    clone["ends_at"] = booking.ends_at.replace(minute=30)

    with pytest.raises(IntegrityError) as info, transaction.atomic():
        Booking.objects.create(**clone)

    assert info.value.__cause__.diag.constraint_name == "booking_coach_no_overlap"
    assert Booking.objects.count() == 1


def test_exclusion_constraint_allows_overlap_with_a_final_booking(booking, set_state):
    set_state(booking, Booking.Status.CANCELLED)
    clone = {
        f.attname: getattr(booking, f.attname)
        for f in Booking._meta.concrete_fields
        if f.attname not in {"id", "created_at", "updated_at"}
    }
    clone["status"] = Booking.Status.PENDING_PAYMENT
    Booking.objects.create(**clone)
    assert Booking.objects.count() == 2


def test_booking_create_constraint_violation_becomes_slot_taken(
    booking, other_client, offering, zurich_at, monkeypatch
):
    # Without the service's own check, the database's constraint still holds
    # and surfaces as the same 409, not a 500.
    monkeypatch.setattr(
        "bookings.services.bookings._live_overlapping",
        lambda **kwargs: Booking.objects.none(),
    )
    with pytest.raises(SlotTaken):
        services.booking_create(
            client=other_client,
            offering=offering,
            starts_at=zurich_at(1, 10),
            actor=other_client,
        )
    assert Booking.objects.count() == 1


def test_booking_create_racing_holds_of_one_client_stop_at_the_cap(
    offering, other_coach, zurich_at, settings
):
    """Six holds at once, with two coaches (two coach locks): the client's own
    lock keeps the count at MAX_OPEN_HOLDS."""
    settings.MAX_OPEN_HOLDS = 3
    client = factories.ClientFactory()
    elsewhere = factories.OfferingFactory(coach=other_coach)
    wanted = [
        (off, zurich_at(1, hour))
        for off in (offering, elsewhere)
        for hour in (8, 10, 12)
    ]

    def book(off, starts_at):
        return lambda: services.booking_create(
            client=client, offering=off, starts_at=starts_at, actor=client
        )

    results = run_together(*(book(off, at) for off, at in wanted))

    made = [r for r in results if isinstance(r, Booking)]
    refused = [r for r in results if isinstance(r, TooManyHolds)]
    assert (len(made), len(refused)) == (3, 3), results
    assert Booking.objects.filter(client=client).count() == 3


def test_buffer_holds_under_racing_bookings_without_overlap(coach, offering, zurich_at):
    # 10:00-11:00 and 11:00-12:00 do not overlap, so the exclusion constraint
    # lets both in; a 30-minute buffer must keep one out, under the lock.
    coach.coach_profile.buffer_minutes = 30
    coach.coach_profile.save(update_fields=["buffer_minutes"])
    clients = [factories.ClientFactory() for _ in range(4)]
    starts = [zurich_at(1, 10), zurich_at(1, 11)] * 2

    def book(client, starts_at):
        return lambda: services.booking_create(
            client=client, offering=offering, starts_at=starts_at, actor=client
        )

    results = run_together(*(book(c, s) for c, s in zip(clients, starts, strict=True)))

    won = [r for r in results if isinstance(r, Booking)]
    assert len(won) == 1, results
    assert all(isinstance(r, SlotTaken) for r in results if r not in won)


def test_racing_offerings_with_one_title_exactly_one_is_created(coach):
    from django.core.exceptions import ValidationError

    from bookings.models import Offering

    def add():
        return services.offering_create(
            coach=coach,
            title="Same title",
            duration_minutes=30,
            price="50",
            actor=coach,
        )

    results = run_together(add, add, add)

    assert sum(isinstance(r, Offering) for r in results) == 1, results
    assert sum(isinstance(r, ValidationError) for r in results) == 2
    assert Offering.objects.filter(coach=coach, title="Same title").count() == 1
