"""Bookings admin: pages render for staff, bookings are read-only, cancel uses the service."""

import pytest
from django.urls import reverse

from bookings.models import Booking

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


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
