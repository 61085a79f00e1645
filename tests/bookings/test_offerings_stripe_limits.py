"""Offerings Stripe can charge: per-currency minimum and maximum of the gross,
one active title per coach, a description on the coach's page, and archived
offerings that keep old bookings readable."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from bookings import services
from bookings.exceptions import InvalidPrice
from bookings.models import CoachProfile
from money.amounts import CHARGE_LIMITS, charge_limits
from tests import factories

pytestmark = pytest.mark.django_db


def test_limits_table_has_stripes_chf_minimum_and_maximum():
    assert charge_limits("CHF") == (50, 99_999_999)
    assert charge_limits("chf") == CHARGE_LIMITS["CHF"]
    assert charge_limits("JPY") == (50, 99_999_999)
    assert charge_limits("XYZ") == (50, 99_999_999)  # unlisted: the usual 0.50


@pytest.mark.parametrize("price", ["0.49", "0.01", "1000000", "999999.999"])
def test_offering_outside_stripes_range_is_refused(coach, price):
    with pytest.raises(InvalidPrice) as refused:
        services.offering_create(
            coach=coach, title="Quick", duration_minutes=30, price=price, actor=coach
        )
    assert refused.value.details["field"] == "price"


@pytest.mark.parametrize("price", ["0.50", "999999.99"])
def test_offering_at_stripes_limits_is_accepted(coach, price):
    offering = services.offering_create(
        coach=coach, title="Edge", duration_minutes=30, price=price, actor=coach
    )
    assert offering.price_amount in (50, 99_999_999)


def test_vat_on_top_counts_towards_the_maximum(coach):
    CoachProfile.objects.filter(user=coach).update(vat_included=False)
    # 999,999.00 + 8.1 % VAT is over Stripe's maximum charge.
    with pytest.raises(InvalidPrice):
        services.offering_create(
            coach=coach, title="Big", duration_minutes=60, price="999999", actor=coach
        )


def test_raising_a_price_past_the_maximum_is_refused_on_update(offering, coach):
    with pytest.raises(InvalidPrice):
        services.offering_update(offering=offering, price="1000000", actor=coach)
    offering.refresh_from_db()
    assert offering.price_amount == 10000


def test_two_active_offerings_of_a_coach_cannot_share_a_title(coach, offering):
    with pytest.raises(ValidationError) as refused:
        services.offering_create(
            coach=coach,
            title="coaching SESSION",
            duration_minutes=30,
            price="50",
            actor=coach,
        )
    assert "title" in refused.value.message_dict
    other = services.offering_create(
        coach=coach, title="Intro", duration_minutes=30, price="50", actor=coach
    )
    with pytest.raises(ValidationError):
        services.offering_update(offering=other, title="Coaching session", actor=coach)
    # An archived offering frees its title.
    services.offering_deactivate(offering=offering, actor=coach)
    services.offering_create(
        coach=coach,
        title="Coaching session",
        duration_minutes=60,
        price="120",
        actor=coach,
    )


def test_another_coach_may_use_the_same_title(offering):
    other = factories.CoachFactory()
    services.offering_create(
        coach=other,
        title=offering.title,
        duration_minutes=30,
        price="50",
        actor=other,
    )


def test_offerings_form_shows_the_limits_error_next_to_the_price(client, coach):
    client.force_login(coach)
    response = client.post(
        reverse("coach:offerings"),
        {"title": "Tiny", "duration_minutes": "30", "price": "0.20"},
    )
    assert response.status_code == 200
    assert "between CHF 0.50 and CHF 999,999.99" in str(
        response.context["form"].errors["price"]
    )


def test_description_is_saved_from_the_form_and_shown_on_the_coach_page(client, coach):
    client.force_login(coach)
    client.post(
        reverse("coach:offerings"),
        {
            "title": "Career chat",
            "description": "We look at your next step together.",
            "duration_minutes": "30",
            "price": "55",
        },
    )
    client.logout()
    page = client.get(reverse("bookings:coach_detail", args=[coach.pk]))
    assert "We look at your next step together." in page.content.decode()


def test_archived_offering_keeps_old_bookings_readable(
    client, coach, offering, booking
):
    services.offering_deactivate(offering=offering, actor=coach)
    client.force_login(booking.client)
    detail = client.get(reverse("bookings:detail", args=[booking.pk]))
    assert detail.status_code == 200
    assert offering.title in detail.content.decode()
    client.force_login(coach)
    page = client.get(reverse("coach:bookings"))
    assert offering.title in page.content.decode()
