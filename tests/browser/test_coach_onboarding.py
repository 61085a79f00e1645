"""Done-when of issue 12: a coach who signs up from the UI sets a profile,
hours and an offering by clicking and typing only, and is then bookable by a
client who starts at ``/`` (a link read from an email in the outbox counts as
clicking it)."""

import re

import pytest
from django.core import mail

from accounts.models import User
from bookings.models import AvailabilityWindow, Booking, Offering
from tests import factories

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.django_db(transaction=True)

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.fixture(autouse=True)
def stripe_js(settings, localstripe_url):
    """The checkout loads localstripe's Stripe.js stand-in (the CSP allows it)."""
    settings.STRIPE_JS_URL = f"{localstripe_url}/js.stripe.com/v3/"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_localstripe"


def emailed_link(to: str) -> str:
    [message] = [m for m in mail.outbox if m.to == [to]]
    return re.search(r"https?://\S+", message.body).group(0)


def sign_up_as_coach(page, open_email_link) -> User:
    page.goto("/")
    page.get_by_role("button", name="Sign up").first.click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    page.get_by_label("Name").fill("Mara Steiner")
    page.get_by_label("Email address").fill("mara@example.com")
    page.get_by_label("Password").fill("copper-lantern-meadow-77")
    page.get_by_label("Coach: I offer coaching sessions").check()
    page.locator("main").get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    open_email_link(page, emailed_link("mara@example.com"))
    page.get_by_role("button", name="Confirm and continue").click()
    # Signed up and in: the checklist greets the new coach.
    expect(page.get_by_role("heading", name="Get ready to be booked")).to_be_visible()
    return User.objects.get(email="mara@example.com")


def set_up_practice(page, screenshot) -> None:
    """Profile, weekly hours, first offering: from the checklist, by clicking."""
    page.get_by_role("link", name="Get started").first.click()
    checklist = page.locator(".setup-checklist")
    expect(page.get_by_role("heading", name="Get ready to be booked")).to_be_visible()

    checklist.get_by_role("link", name="Write your profile").click()
    page.get_by_label("About you").fill("I help new managers find their feet.")
    page.get_by_label("Your time zone").fill("Europe/Zurich")
    page.get_by_label("Break between sessions (minutes)").fill("15")
    screenshot(page, "coach-profile")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Your profile is saved.")).to_be_visible()

    checklist.get_by_role("link", name="Set your hours").click()
    for day in (
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ):
        page.get_by_label(f"{day}, range 1, from").fill("08:00")
        page.get_by_label(f"{day}, range 1, until").fill("20:00")
    screenshot(page, "coach-hours")
    page.get_by_role("button", name="Save weekly hours").click()
    expect(page.get_by_text("Your weekly hours are saved.")).to_be_visible()

    checklist.get_by_role("link", name="Add your first offering").click()
    page.get_by_label("Title").fill("First-100-days session")
    page.get_by_label("Description").fill("We plan your first three months.")
    page.get_by_label("Duration (minutes)").fill("60")
    page.get_by_label("Price (CHF)").fill("120")
    page.get_by_role("button", name="Add offering").click()
    expect(
        page.get_by_text("“First-100-days session” is on offer now.")
    ).to_be_visible()
    # Bookable now: the checklist link has left the navigation.
    page.reload()
    expect(page.get_by_role("link", name="Get started")).to_have_count(0)


@pytest.mark.parametrize("size", SIZES)
def test_coach_signs_up_sets_up_and_is_booked_from_the_home_page(
    new_context, open_email_link, screenshot, size
):
    width, height = SIZES[size]
    client_user = factories.ClientFactory(email="lena@example.com", name="Lena Brunner")

    coach_context = new_context(
        viewport={"width": width, "height": height}, timezone_id="Europe/Zurich"
    )
    coach_page = coach_context.new_page()
    # Before setting up, a new coach is not in the catalogue.
    coach = sign_up_as_coach(coach_page, open_email_link)
    assert coach.is_coach and coach.is_active
    coach_page.get_by_role("link", name="Coaching", exact=True).click()
    expect(coach_page.get_by_role("link", name="Mara Steiner")).to_have_count(0)
    set_up_practice(coach_page, screenshot)
    assert AvailabilityWindow.objects.filter(coach__user=coach).count() == 7
    offering = Offering.objects.get(coach=coach)
    assert offering.price_amount == 12000

    client_context = new_context(
        viewport={"width": width, "height": height}, timezone_id="Europe/Zurich"
    )
    page = client_context.new_page()
    page.goto("/")
    page.get_by_role("link", name="Mara Steiner", exact=True).click()
    expect(page.get_by_role("heading", name="Mara Steiner")).to_be_visible()
    expect(page.get_by_text("I help new managers find their feet.")).to_be_visible()
    expect(page.get_by_text("We plan your first three months.")).to_be_visible()
    second_day = page.locator(".day-nav a").nth(1)
    second_day.click()
    expect(second_day).to_have_attribute("aria-current", "date")
    slot = page.locator(".slot-list a.slot").first
    start = slot.locator("time").get_attribute("datetime")
    slot.click()

    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Email address").fill(client_user.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Confirm to hold it and pay.")).to_be_visible()
    with page.expect_navigation(url=re.compile(r"/bookings/[0-9a-f-]+/checkout/$")):
        page.get_by_role("button", name="Book this time").click()
    expect(
        page.get_by_role("button", name=re.compile(r"^Pay CHF 120\.00"))
    ).to_be_visible()

    booking = Booking.objects.get(client=client_user)
    assert (booking.coach, booking.offering) == (coach, offering)
    assert booking.starts_at.isoformat() == start
