"""Bookings admin: pages render for staff, bookings are read-only, cancel uses the service."""

import pytest
from django.urls import reverse

from bookings.models import Booking

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "name",
    [
        "admin:bookings_booking_changelist",
        "admin:bookings_coachprofile_changelist",
        "admin:bookings_offering_changelist",
    ],
)
def test_admin_changelists_render_for_staff(staff, booking, name):
    response = staff.get(reverse(name), {"q": "client@example.com"})
    assert response.status_code == 200


def test_admin_booking_change_page_shows_snapshot_and_transitions_read_only(
    staff, booking
):
    response = staff.get(reverse("admin:bookings_booking_change", args=[booking.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Price snapshot" in html
    assert 'name="price_gross"' not in html  # shown, not editable
    assert 'name="status"' not in html
    assert "created" in html  # the creation transition row
    # Amounts read as money, not minor units.
    assert "CHF 100.00" in html and "CHF 85.00" in html
    assert ">10000<" not in html
    listing = staff.get(reverse("admin:bookings_booking_changelist")).content.decode()
    assert "CHF 100.00" in listing


def test_admin_coach_profile_change_page_has_availability_inline(staff, coach):
    url = reverse("admin:bookings_coachprofile_change", args=[coach.coach_profile.pk])
    response = staff.get(url)
    assert response.status_code == 200
    assert "availability-TOTAL_FORMS" in response.content.decode()


def test_admin_booking_add_is_not_offered(staff):
    assert staff.get(reverse("admin:bookings_booking_add")).status_code == 403


def test_admin_cancel_unpaid_action_cancels_through_the_service(
    staff, booking, make_booking, zurich_at, set_state
):
    paid = set_state(make_booking(starts_at=zurich_at(1, 14)), "confirmed")

    response = staff.post(
        reverse("admin:bookings_booking_changelist"),
        {"action": "cancel_unpaid", "_selected_action": [booking.pk, paid.pk]},
        follow=True,
    )

    assert response.status_code == 200
    booking.refresh_from_db()
    paid.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert booking.transitions.filter(to_status="cancelled").get().cause == (
        "cancelled_by_admin"
    )
    assert paid.status == Booking.Status.CONFIRMED
    messages = [str(m) for m in response.context["messages"]]
    assert any("refund" in m for m in messages)


# --- Amounts and rates typed in the admin go through the bounded parser ----------


def _offering_form(coach, price: str) -> dict:
    return {
        "coach": str(coach.pk),
        "title": "Check-in",
        "duration_minutes": "30",
        "currency": "CHF",
        "active": "on",
        "price": price,
    }


def test_admin_offering_price_is_typed_in_major_units(staff, coach):
    from bookings.models import Offering

    response = staff.post(
        reverse("admin:bookings_offering_add"), _offering_form(coach, "49.90")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    offering = Offering.objects.get(title="Check-in")
    assert offering.price_amount == 4990
    page = staff.get(reverse("admin:bookings_offering_change", args=[offering.pk]))
    assert 'value="49.90"' in page.content.decode()


@pytest.mark.parametrize(
    "price",
    ["9e999990", "\u0663", "12.345", "-5", "0", "0.49", "1000000", "1" * 5000],
)
def test_admin_offering_with_a_hostile_price_is_refused(staff, coach, price):
    from bookings.models import Offering

    response = staff.post(
        reverse("admin:bookings_offering_add"), _offering_form(coach, price)
    )
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not Offering.objects.filter(title="Check-in").exists()


def _profile_form(profile, vat: str) -> dict:
    return {
        "user": str(profile.user_id),
        "bio": "",
        "time_zone": profile.time_zone,
        "currency": profile.currency,
        "vat_rate_bps": vat,
        "vat_included": "on",
        "platform_fee_bps": "15",
        "cancellation_window_hours": "24",
        "buffer_minutes": "0",
        "booking_horizon_days": "90",
        "min_notice_hours": "0",
        "stripe_account_id": "",
        "exceptions-TOTAL_FORMS": "0",
        "exceptions-INITIAL_FORMS": "0",
        "exceptions-MIN_NUM_FORMS": "0",
        "exceptions-MAX_NUM_FORMS": "1000",
        "availability-TOTAL_FORMS": "0",
        "availability-INITIAL_FORMS": "0",
        "availability-MIN_NUM_FORMS": "0",
        "availability-MAX_NUM_FORMS": "1000",
    }


def test_admin_coach_rates_are_typed_in_percent(staff, coach):
    profile = coach.coach_profile
    url = reverse("admin:bookings_coachprofile_change", args=[profile.pk])
    assert 'value="8.1"' in staff.get(url).content.decode()
    response = staff.post(url, _profile_form(profile, "7.7"))
    assert response.status_code == 302, response.content.decode()[:2000]
    profile.refresh_from_db()
    assert (profile.vat_rate_bps, profile.platform_fee_bps) == (770, 1500)


@pytest.mark.parametrize("vat", ["\u0663", "9e999990", "100.01", "8.123", "-1"])
def test_admin_coach_rate_hostile_input_is_refused(staff, coach, vat):
    profile = coach.coach_profile
    url = reverse("admin:bookings_coachprofile_change", args=[profile.pk])
    response = staff.post(url, _profile_form(profile, vat))
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    profile.refresh_from_db()
    assert profile.vat_rate_bps == 810
