"""From the front door: a visitor starts at ``/``, finds a coach, chooses a
session and a time, logs in (or signs up) when asked, comes back to the chosen
time and reaches the checkout, by clicking and typing only."""

import re

import pytest

from bookings.models import Booking
from tests import factories

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def stripe_js(settings, localstripe_url):
    """The checkout loads localstripe's Stripe.js stand-in (the CSP allows it)."""
    settings.STRIPE_JS_URL = f"{localstripe_url}/js.stripe.com/v3/"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_localstripe"


@pytest.fixture
def client_user(db):
    return factories.ClientFactory(email="visitor@example.com", name="Lena Brunner")


@pytest.fixture
def coach(db):
    return factories.CoachFactory(email="coach@example.com", name="Anna Keller")


@pytest.fixture
def offering(coach):
    factories.OfferingFactory(coach=coach, title="Deep-dive session")
    return factories.OfferingFactory(
        coach=coach, title="Quick check-in", duration_minutes=30, price_amount=5500
    )


def choose_a_time_from_home(page, coach, offering) -> str:
    """From ``/``: the coach's name, then "Book" of the session, then a time.
    Returns the chosen time's ISO start (UTC)."""
    page.goto("/")
    page.get_by_role("link", name=coach.display_name, exact=True).click()
    expect(page.get_by_role("heading", name=coach.display_name)).to_be_visible()
    page.get_by_role("link", name="Coaching", exact=True).click()
    expect(page.get_by_role("heading", name="Find a coach")).to_be_visible()
    page.get_by_role(
        "link", name=f"Book {offering.title} with {coach.display_name}"
    ).click()
    expect(
        page.get_by_role("heading", name=f"Free times: {offering.title}")
    ).to_be_visible()
    second_day = page.locator(".day-nav a").nth(1)
    second_day.click()
    expect(second_day).to_have_attribute("aria-current", "date")
    slot = page.locator(".slot-list a.slot").nth(2)
    start = slot.locator("time").get_attribute("datetime")
    slot.click()
    return start


def test_visitor_books_from_the_home_page_after_logging_in(
    page, client_user, coach, offering
):
    start = choose_a_time_from_home(page, coach, offering)

    # Sent to log in, with a visible way to sign up instead.
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_role("link", name="Sign up").last).to_be_visible()
    page.get_by_label("Email address").fill(client_user.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # Back on the coach's page with the chosen time selected, ready to confirm.
    expect(page.get_by_text("Confirm to hold it and pay.")).to_be_visible()
    chosen = page.locator(".slot-list input[type=radio]:checked")
    expect(chosen).to_have_value(start)
    with page.expect_navigation(url=re.compile(r"/bookings/[0-9a-f-]+/checkout/$")):
        page.get_by_role("button", name="Book this time").click()

    booking = Booking.objects.get(client=client_user)
    assert booking.offering == offering
    assert booking.starts_at.isoformat() == start
    expect(
        page.get_by_role("button", name=re.compile(r"^Pay CHF 55\.00"))
    ).to_be_visible()


def test_visitor_who_leaves_the_home_page_lands_on_coach_page_links(
    page, coach, offering
):
    page.goto("/")
    expect(
        page.get_by_role(
            "link", name=f"Book {offering.title} with {coach.display_name}"
        )
    ).to_have_text("Book")
