"""From the front door: a visitor starts at ``/``, finds a coach, chooses a
session and a time, logs in (or signs up) when asked, comes back to the chosen
time and reaches the checkout, by clicking and typing only (a link read from
an email in the outbox counts as clicking it). Also the account basics:
the account page's time zone, password reset by email."""

import re

import pytest
from django.core import mail

from accounts.models import User
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
    return factories.ClientFactory(
        email="visitor@example.com", name="Lena Brunner", time_zone="America/New_York"
    )


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


SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.mark.parametrize("size", SIZES)
def test_visitor_books_from_the_home_page_after_logging_in(
    page, client_user, coach, offering, size
):
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
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


def emailed_link(to: str) -> str:
    [message] = [m for m in mail.outbox if m.to == [to]]
    return re.search(r"https?://\S+", message.body).group(0)


@pytest.fixture
def tokyo_page(new_context):
    """A browser whose own time zone is Asia/Tokyo."""
    return new_context(timezone_id="Asia/Tokyo").new_page()


def test_visitor_signs_up_instead_and_the_emailed_link_brings_them_back(
    tokyo_page, open_email_link, coach, offering
):
    page = tokyo_page
    start = choose_a_time_from_home(page, coach, offering)

    page.get_by_role("link", name="Sign up").last.click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    page.get_by_label("Name").fill("Kenji Sato")
    page.get_by_label("Email address").fill("kenji@example.com")
    page.get_by_label("Password").fill("violet-kettle-harbour-42")
    page.locator("main").get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    user = User.objects.get(email="kenji@example.com")
    # The browser's zone came with the form; nobody is logged in yet.
    assert (user.time_zone, user.is_active) == ("Asia/Tokyo", False)

    open_email_link(page, emailed_link("kenji@example.com"))
    page.get_by_role("button", name="Confirm and continue").click()

    expect(page.get_by_text("Confirm to hold it and pay.")).to_be_visible()
    expect(page.locator(".slot-list input[type=radio]:checked")).to_have_value(start)
    with page.expect_navigation(url=re.compile(r"/bookings/[0-9a-f-]+/checkout/$")):
        page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_text("(Asia/Tokyo)").first).to_be_visible()
    assert Booking.objects.get(client=user).starts_at.isoformat() == start


def test_client_changes_time_zone_on_the_account_page(
    page, login, screenshot, client_user
):
    login(page, client_user)
    page.goto("/")
    page.get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    screenshot(page, "client-account")
    zone = page.get_by_label("Time zone")
    expect(zone).to_have_value("America/New_York")

    zone.fill("Europe/London")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_text("Your account is saved.")).to_be_visible()
    expect(page.get_by_label("Time zone")).to_have_value("Europe/London")
    client_user.refresh_from_db()
    assert client_user.time_zone == "Europe/London"


def test_forgotten_password_is_reset_by_email(page, open_email_link, client_user):
    page.goto("/")
    page.get_by_role("link", name="Log in").click()
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    page.get_by_label("Email address").fill(client_user.email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_text("If an account uses that address")).to_be_visible()

    open_email_link(page, emailed_link(client_user.email))
    page.get_by_label("New password", exact=True).fill("violet-kettle-harbour-42")
    page.get_by_label("New password confirmation").fill("violet-kettle-harbour-42")
    page.get_by_role("button", name="Set the new password").click()
    page.get_by_role("link", name="Log in").last.click()
    page.get_by_label("Email address").fill(client_user.email)
    page.get_by_label("Password").fill("violet-kettle-harbour-42")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("link", name="Account")).to_be_visible()
