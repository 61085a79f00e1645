"""Offering services: a coach creates, edits and deactivates what they sell.

Prices come in major units and are stored in minor units; changing an
offering never touches the price snapshot of bookings already made.
"""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from bookings import services
from bookings.exceptions import BookingNotAllowed, InvalidPrice, OfferingUnavailable
from bookings.models import Booking, Offering
from tests import factories

pytestmark = pytest.mark.django_db


def test_offering_create_converts_the_price_and_takes_the_coach_currency(coach):
    offering = services.offering_create(
        coach=coach,
        title="  Career deep dive ",
        duration_minutes=90,
        price=Decimal("150.50"),
        actor=coach,
    )

    offering.refresh_from_db()
    assert offering.title == "Career deep dive"
    assert offering.price_amount == 15050
    assert offering.currency == "CHF"
    assert offering.duration_minutes == 90
    assert offering.active is True


def test_offering_create_in_a_zero_decimal_currency_keeps_whole_units():
    coach = factories.CoachFactory(profile__currency="JPY")
    offering = services.offering_create(
        coach=coach, title="Session", duration_minutes=60, price="12000", actor=coach
    )
    assert (offering.price_amount, offering.currency) == (12000, "JPY")


@pytest.mark.parametrize(
    "price",
    ["100.005", "0", "-5", "abc", "0.00", "9e999990", "\u0663", "1000000", "1E2"],
)
def test_offering_create_with_a_bad_price_is_refused(coach, price):
    with pytest.raises(InvalidPrice) as caught:
        services.offering_create(
            coach=coach, title="Session", duration_minutes=60, price=price, actor=coach
        )
    assert caught.value.details == {"field": "price"}
    assert not Offering.objects.exists()


@pytest.mark.parametrize(
    ("title", "duration", "field"),
    [("", 60, "title"), ("Session", 10, "duration_minutes"), ("x" * 201, 60, "title")],
)
def test_offering_create_with_bad_values_raises_validation_errors_by_field(
    coach, title, duration, field
):
    with pytest.raises(ValidationError) as caught:
        services.offering_create(
            coach=coach,
            title=title,
            duration_minutes=duration,
            price="100",
            actor=coach,
        )
    assert field in caught.value.error_dict
    assert not Offering.objects.exists()


def test_offering_create_for_another_coach_is_refused(coach, other_coach):
    with pytest.raises(BookingNotAllowed):
        services.offering_create(
            coach=coach, title="S", duration_minutes=60, price="1", actor=other_coach
        )


def test_offering_create_by_an_admin_for_a_coach_is_allowed(coach, admin_user):
    offering = services.offering_create(
        coach=coach, title="S", duration_minutes=60, price="1", actor=admin_user
    )
    assert offering.coach == coach


def test_offering_create_for_a_client_is_refused(client_user):
    with pytest.raises(BookingNotAllowed):
        services.offering_create(
            coach=client_user,
            title="S",
            duration_minutes=60,
            price="1",
            actor=client_user,
        )


def test_offering_update_changes_only_what_is_given(offering, coach):
    updated = services.offering_update(
        offering=offering, price=Decimal("120"), actor=coach
    )

    offering.refresh_from_db()
    assert updated.price_amount == offering.price_amount == 12000
    assert offering.title == "Coaching session"
    assert offering.duration_minutes == 60


def test_offering_update_never_touches_existing_bookings_snapshots(
    offering, coach, make_booking, zurich_at
):
    booking = make_booking()
    before = Booking.objects.filter(pk=booking.pk).values().get()

    services.offering_update(
        offering=offering,
        title="Renamed",
        duration_minutes=90,
        price="250.00",
        actor=coach,
    )

    assert Booking.objects.filter(pk=booking.pk).values().get() == before
    assert before["price_gross"] == 10000
    # New bookings take the new terms.
    later = make_booking(starts_at=zurich_at(2, 10))
    assert later.price_gross == 25000
    assert (later.ends_at - later.starts_at).total_seconds() == 90 * 60


def test_offering_update_with_nothing_new_writes_nothing(offering, coach):
    stamp = offering.updated_at
    same = services.offering_update(
        offering=offering, title="Coaching session", price="100.00", actor=coach
    )
    same.refresh_from_db()
    assert same.updated_at == stamp


def test_offering_update_with_bad_values_changes_nothing(offering, coach):
    with pytest.raises(ValidationError):
        services.offering_update(
            offering=offering, title="Fine", duration_minutes=5, actor=coach
        )
    with pytest.raises(InvalidPrice):
        services.offering_update(offering=offering, price="1.234", actor=coach)
    offering.refresh_from_db()
    assert (offering.title, offering.duration_minutes, offering.price_amount) == (
        "Coaching session",
        60,
        10000,
    )


def test_offering_update_by_another_coach_is_refused(offering, other_coach):
    with pytest.raises(BookingNotAllowed):
        services.offering_update(offering=offering, title="Mine", actor=other_coach)
    offering.refresh_from_db()
    assert offering.title == "Coaching session"


def test_offering_deactivate_stops_new_bookings_and_keeps_old_ones(
    offering, coach, make_booking, zurich_at
):
    booking = make_booking()

    services.offering_deactivate(offering=offering, actor=coach)

    offering.refresh_from_db()
    assert offering.active is False
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PENDING_PAYMENT
    with pytest.raises(OfferingUnavailable):
        make_booking(starts_at=zurich_at(2, 10))


def test_offering_deactivate_twice_is_a_noop(offering, coach):
    services.offering_deactivate(offering=offering, actor=coach)
    stamp = Offering.objects.get(pk=offering.pk).updated_at
    again = services.offering_deactivate(offering=offering, actor=coach)
    assert again.active is False
    assert again.updated_at == stamp


def test_offering_deactivate_by_a_client_is_refused(offering, client_user):
    with pytest.raises(BookingNotAllowed):
        services.offering_deactivate(offering=offering, actor=client_user)
    offering.refresh_from_db()
    assert offering.active is True
