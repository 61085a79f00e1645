"""``manage.py seed_demo``: the documented demo data, idempotently."""

import datetime as dt
import io

import pytest
from django.core.management import call_command

from accounts.models import User
from bookings.models import AvailabilityWindow, CoachProfile, Offering

pytestmark = pytest.mark.django_db

PASSWORD = "coaching-demo"
EMAILS = {
    "client@example.com": "client",
    "client2@example.com": "client",
    "coach@example.com": "coach",
    "coach2@example.com": "coach",
    "admin@example.com": "admin",
}


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def snapshot() -> dict:
    """Every column of every demo row, so any write shows up as a difference."""
    return {
        model.__name__: sorted(
            map(repr, model.objects.order_by("pk").values()), key=str
        )
        for model in (User, CoachProfile, AvailabilityWindow, Offering)
    }


def test_seed_demo_creates_documented_accounts_with_the_demo_password():
    seed()

    users = {u.email: u for u in User.objects.all()}
    assert {email: u.role for email, u in users.items()} == EMAILS
    assert all(u.check_password(PASSWORD) and u.name for u in users.values())
    admin = users["admin@example.com"]
    assert (admin.is_staff, admin.is_superuser, admin.is_admin) == (True, True, True)
    assert not any(u.is_staff for e, u in users.items() if e != "admin@example.com")


@pytest.mark.parametrize("email", ["coach@example.com", "coach2@example.com"])
def test_seed_demo_coaches_have_documented_terms_hours_and_offerings(email):
    seed()

    profile = CoachProfile.objects.get(user__email=email)
    assert profile.bio
    assert (profile.time_zone, profile.currency) == ("Europe/Zurich", "CHF")
    assert (profile.vat_rate_bps, profile.vat_included) == (810, True)
    assert profile.platform_fee_bps == 1500
    windows = set(profile.availability.values_list("weekday", "start_time", "end_time"))
    assert windows == {(day, dt.time(7), dt.time(21)) for day in range(7)}
    offerings = set(
        Offering.objects.filter(coach=profile.user).values_list(
            "duration_minutes", "price_amount", "currency", "active"
        )
    )
    assert offerings == {(60, 10000, "CHF", True), (30, 5500, "CHF", True)}


def test_seed_demo_second_run_writes_nothing():
    seed()
    before = snapshot()

    output = seed()

    assert snapshot() == before
    assert "0 rows written" in output


def test_seed_demo_repairs_drifted_rows_and_password():
    seed()
    coach = User.objects.get(email="coach@example.com")
    coach.set_password("changed-by-someone")
    coach.save()
    CoachProfile.objects.filter(user=coach).update(vat_rate_bps=770)
    Offering.objects.filter(coach=coach, duration_minutes=60).update(
        price_amount=1, active=False
    )
    User.objects.filter(email="client@example.com").update(role="coach")

    seed()

    coach.refresh_from_db()
    assert coach.check_password(PASSWORD)
    assert CoachProfile.objects.get(user=coach).vat_rate_bps == 810
    assert Offering.objects.get(coach=coach, duration_minutes=60).price_amount == 10000
    assert User.objects.get(email="client@example.com").role == "client"


def test_seed_demo_keeps_other_data_alone(client_user, coach, offering):
    # The shared fixtures use the demo e-mails: their extra offering stays.
    seed()
    offering.refresh_from_db()
    assert offering.active
    assert Offering.objects.filter(coach=coach).count() == 3
