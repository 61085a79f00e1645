"""The coach's practice pages: profile and terms, weekly hours and dated
exceptions, the new coach's checklist, and the catalogue listing only
bookable coaches. Plain forms: posted without JavaScript here."""

import datetime as dt

import pytest
from django.urls import reverse

from accounts import services as account_services
from accounts.models import User
from bookings import selectors, services
from bookings.models import AvailabilityException, AvailabilityWindow, Booking
from tests import factories

pytestmark = pytest.mark.django_db

PROFILE = {
    "name": "Ada Coach",
    "bio": "I help engineers plan their careers.",
    "time_zone": "America/New_York",
    "cancellation_window_hours": "48",
    "buffer_minutes": "15",
    "booking_horizon_days": "30",
    "min_notice_hours": "12",
}


@pytest.fixture
def new_coach(db):
    """A coach as registration leaves them: a default profile, nothing else."""
    account_services.user_register(
        email="new-coach@example.com",
        password="a-long-enough-password-1",
        name="",
        role="coach",
        site_url="http://testserver",
    )
    user = User.objects.get(email="new-coach@example.com")
    user.is_active = True  # as the emailed link does
    user.save(update_fields=["is_active"])
    return user


@pytest.mark.parametrize("page", ["coach:profile", "coach:hours", "coach:setup"])
def test_practice_pages_are_for_coaches_only(client, client_user, page):
    assert client.get(reverse(page)).status_code == 302  # to the login page
    client.force_login(client_user)
    assert client.get(reverse(page)).status_code == 403


def test_profile_page_saves_terms_that_apply_to_new_bookings_only(
    client, coach, offering, make_booking
):
    old = make_booking()
    client.force_login(coach)
    page = client.get(reverse("coach:profile"))
    assert page.status_code == 200
    assert b'for="id_cancellation_window_hours"' in page.content

    response = client.post(reverse("coach:profile"), PROFILE)

    assert response.status_code == 302
    profile = coach.coach_profile
    profile.refresh_from_db()
    coach.refresh_from_db()
    assert coach.name == "Ada Coach"
    assert profile.time_zone == coach.time_zone == "America/New_York"
    assert (
        profile.cancellation_window_hours,
        profile.buffer_minutes,
        profile.booking_horizon_days,
        profile.min_notice_hours,
    ) == (48, 15, 30, 12)
    # The booking made before keeps the window it was made under.
    old.refresh_from_db()
    assert old.cancellation_window_hours == 24
    new = services.booking_create(
        client=old.client,
        offering=offering,
        starts_at=selectors.free_slots_ahead(offering=offering, days=14)[-1],
        actor=old.client,
    )
    assert new.cancellation_window_hours == 48


def test_profile_page_refuses_an_unknown_zone_and_out_of_range_terms(client, coach):
    client.force_login(coach)
    response = client.post(
        reverse("coach:profile"),
        {**PROFILE, "time_zone": "Mars/Olympus", "buffer_minutes": "100000"},
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"time_zone", "buffer_minutes"}
    coach.coach_profile.refresh_from_db()
    assert coach.coach_profile.time_zone == "Europe/Zurich"


def test_weekly_hours_page_saves_several_ranges_a_day(client, coach):
    client.force_login(coach)
    page = client.get(reverse("coach:hours"))
    assert page.status_code == 200
    assert b'<label for="id_d0-0-start">' in page.content

    response = client.post(
        reverse("coach:hours"),
        {
            "d0-0-start": "09:00",
            "d0-0-end": "12:00",
            "d0-1-start": "14:00",
            "d0-1-end": "17:30",
            "d4-0-start": "08:00",
            "d4-0-end": "10:00",
        },
    )

    assert response.status_code == 302
    hours = [
        (w.weekday, f"{w.start_time:%H:%M}", f"{w.end_time:%H:%M}")
        for w in AvailabilityWindow.objects.filter(coach__user=coach)
    ]
    assert hours == [
        (0, "09:00", "12:00"),
        (0, "14:00", "17:30"),
        (4, "08:00", "10:00"),
    ]


def test_weekly_hours_refuses_overlaps_and_half_ranges_and_keeps_the_old(client, coach):
    client.force_login(coach)
    before = AvailabilityWindow.objects.filter(coach__user=coach).count()
    response = client.post(
        reverse("coach:hours"),
        {
            "d1-0-start": "09:00",
            "d1-0-end": "12:00",
            "d1-1-start": "11:00",
            "d1-1-end": "13:00",
        },
    )
    assert response.status_code == 200
    assert "Ranges of one day must not overlap." in response.content.decode()
    response = client.post(reverse("coach:hours"), {"d2-0-start": "09:00"})
    assert "Give both times, or leave both empty." in response.content.decode()
    assert AvailabilityWindow.objects.filter(coach__user=coach).count() == before


def test_dated_exceptions_are_added_listed_and_removed(client, coach):
    client.force_login(coach)
    day = dt.date.today() + dt.timedelta(days=10)
    response = client.post(
        reverse("coach:exception_add"),
        {"date": day.isoformat(), "kind": "day_off", "note": "Holiday"},
    )
    assert response.status_code == 302
    response = client.post(
        reverse("coach:exception_add"),
        {"date": day.isoformat(), "kind": "extra", "start_time": "18:00"},
    )
    assert response.status_code == 400
    assert "Give extra hours a start and an end after it." in response.content.decode()

    page = client.get(reverse("coach:hours"))
    assert "Holiday" in page.content.decode()
    exception = AvailabilityException.objects.get(coach__user=coach)
    other = factories.CoachFactory()
    client.force_login(other)
    assert (
        client.post(reverse("coach:exception_delete", args=[exception.pk])).status_code
        == 404
    )
    client.force_login(coach)
    client.post(reverse("coach:exception_delete", args=[exception.pk]))
    assert not AvailabilityException.objects.exists()


def test_new_coach_follows_the_checklist_until_listed(client, new_coach):
    client.force_login(new_coach)
    assert new_coach not in selectors.coach_list_public()
    page = client.get(reverse("coach:setup"))
    assert page.context["steps"] == {
        "profile": False,
        "hours": False,
        "offering": False,
    }
    assert "Get started" in client.get(reverse("coach:bookings")).content.decode()
    # Where sign-up lands them: the checklist is on the home page too.
    assert client.get("/").context["setup_steps"] == page.context["steps"]

    response = client.post(reverse("coach:profile"), PROFILE)
    assert response.url == reverse("coach:setup")
    client.post(reverse("coach:hours"), {"d0-0-start": "09:00", "d0-0-end": "17:00"})
    assert new_coach not in selectors.coach_list_public()  # no offering yet
    assert client.get("/api/coaches/").json()["count"] == 0
    client.post(
        reverse("coach:offerings"),
        {"title": "Career chat", "duration_minutes": "60", "price": "90"},
    )

    steps = client.get(reverse("coach:setup")).context["steps"]
    assert steps == {"profile": True, "hours": True, "offering": True}
    assert list(selectors.coach_list_public()) == [new_coach]
    assert client.get("/api/coaches/").json()["count"] == 1
    assert "Get started" not in client.get(reverse("coach:bookings")).content.decode()
    assert "setup_steps" not in client.get("/").context


def test_a_coach_without_a_bio_or_hours_is_not_listed(coach, offering):
    assert list(selectors.coach_list_public()) == [coach]
    AvailabilityWindow.objects.filter(coach__user=coach).delete()
    assert list(selectors.coach_list_public()) == []
    AvailabilityException.objects.create(
        coach=coach.coach_profile,
        date=dt.date.today() + dt.timedelta(days=3),
        kind="extra",
        start_time=dt.time(9),
        end_time=dt.time(12),
    )
    assert list(selectors.coach_list_public()) == [coach]
    coach.coach_profile.bio = ""
    coach.coach_profile.save()
    assert list(selectors.coach_list_public()) == []
    assert Booking.objects.count() == 0
