"""A client's journeys in Chromium, against the live ASGI app and localstripe's
Stripe.js stand-in: find a time, book it, pay (new card, declined card, 3-D
Secure, saved card, no JavaScript), manage saved cards, cancel with a refund.

Card numbers are typed into the stand-in's card element, as a person would;
they go from the page to localstripe only. Screenshots of the main pages at
desktop and phone widths land in docs/screenshots/client-*.png.
"""

import datetime as dt
import re

import pytest

from bookings import services as booking_services
from bookings.models import Booking
from payments import services
from payments.models import Payment, SavedPaymentMethod
from tests import factories
from tests.payments.conftest import (
    DECLINED_AT_CHARGE,
    THREE_D_SECURE,
    VISA,
    next_slot,
)

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.django_db(transaction=True)

MASTERCARD = "5555555555554444"


@pytest.fixture(autouse=True)
def stripe_js(settings, localstripe_url):
    """Pages load localstripe's Stripe.js stand-in (and the CSP allows it)."""
    settings.STRIPE_JS_URL = f"{localstripe_url}/js.stripe.com/v3/"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_localstripe"


@pytest.fixture
def client_user(db):
    return factories.ClientFactory(email="client@example.com", name="Lena Brunner")


@pytest.fixture
def coach(db):
    return factories.CoachFactory(
        email="coach@example.com",
        name="Anna Keller",
        profile__bio="Career coach: job changes, negotiations and first leadership roles.",
    )


@pytest.fixture
def offering(coach):
    factories.OfferingFactory(
        coach=coach, title="Quick check-in", duration_minutes=30, price_amount=5500
    )
    return factories.OfferingFactory(coach=coach, title="Deep-dive session")


def fill_card(page, number: str) -> None:
    """Type a card into the stand-in's card element (two-digit expiry year)."""
    card = page.locator("#card-element")
    card.get_by_label("Card number").fill(number)
    card.get_by_label("Expiry month (MM)").fill("12")
    card.get_by_label("Expiry year (YY)").fill("34")
    card.get_by_label("Security code (CVC)").fill("123")
    card.get_by_label("Postal code").fill("8001")


def nav(page):
    return page.get_by_role("navigation", name="Main")


def open_coach_page(page, coach) -> None:
    """From the front door: the coach's name on the home page."""
    page.goto("/")
    page.get_by_role("link", name=coach.display_name, exact=True).click()
    expect(page.get_by_role("heading", name=coach.display_name)).to_be_visible()


def choose_offering(page, coach, offering) -> None:
    """From the front door: the offering's "Book" on the home page."""
    page.goto("/")
    page.get_by_role(
        "link", name=f"Book {offering.title} with {coach.display_name}"
    ).click()


def book_first_free_time(page, coach, offering) -> Booking:
    """From the front door: the offering's "Book", the first free time, book it."""
    choose_offering(page, coach, offering)
    expect(
        page.get_by_role("heading", name=f"Free times: {offering.title}")
    ).to_be_visible()
    slot = page.locator(".slot-list input[type=radio]").first
    slot.check()
    with page.expect_navigation(url=re.compile(r"/bookings/[0-9a-f-]+/checkout/$")):
        page.get_by_role("button", name="Book this time").click()
    booking_id = re.search(r"/bookings/([0-9a-f-]+)/checkout/", page.url).group(1)
    return Booking.objects.get(pk=booking_id)


def pay(page) -> None:
    page.get_by_role("button", name=re.compile(r"^Pay CHF")).click()


def expect_paid(page, booking, amount: str = "CHF 100.00") -> None:
    page.wait_for_url(f"**/bookings/{booking.pk}/")
    summary = page.locator(f'[data-booking-id="{booking.pk}"] .payment-status-summary')
    expect(summary).to_have_text(f"Paid — {amount}")
    expect(page.locator('[data-field="booking-status"]')).to_have_text("Confirmed")


def paid_booking(asgi_live_server, make_card, client_user, offering, days=3):
    """A booking paid through the services, on the server's loop (broadcasts)."""

    def make():
        booking = booking_services.booking_create(
            client=client_user,
            offering=offering,
            starts_at=next_slot(days),
            actor=client_user,
        )
        payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
        services.payment_confirm(
            payment=payment, payment_method_id=make_card(VISA), actor=client_user
        )
        return booking

    return asgi_live_server.run(make)


# --- booking and paying -----------------------------------------------------------


def test_client_books_and_pays_with_new_card_sees_paid(
    page, screenshot, login, client_user, coach, offering
):
    login(page, client_user)
    page.set_viewport_size({"width": 1280, "height": 800})
    open_coach_page(page, coach)
    expect(page.get_by_role("cell", name="CHF 55.00 incl. 8.1 % VAT")).to_be_visible()
    screenshot(page, "client-coach")

    booking = book_first_free_time(page, coach, offering)
    assert booking.client == client_user
    assert booking.status == Booking.Status.PENDING_PAYMENT
    expect(page.locator("[data-countdown]")).to_have_text(
        re.compile(r"\(\d+ min \d\d s left\)")
    )
    expect(page.get_by_role("row", name="Total CHF 100.00")).to_be_visible()
    expect(
        page.get_by_role("row", name="VAT 8.1 % (included) CHF 7.49")
    ).to_be_visible()
    # No saved card yet: the new-card form is chosen and shown.
    expect(page.get_by_label("A new card")).to_be_checked()
    fill_card(page, VISA)
    page.get_by_label("Save this card for next time").check()
    screenshot(page, "client-checkout")

    pay(page)

    expect_paid(page, booking)
    saved = SavedPaymentMethod.objects.get(user=client_user)
    assert (saved.last4, saved.is_default) == ("4242", True)
    screenshot(page, "client-booking-paid")


def test_checkout_declined_card_shows_decline_then_visa_pays_same_booking(
    page, screenshot, login, client_user, coach, offering
):
    login(page, client_user)
    booking = book_first_free_time(page, coach, offering)

    fill_card(page, DECLINED_AT_CHARGE)
    page.get_by_label("Save this card for next time").check()
    pay(page)

    card_error = page.locator("#card-error")
    expect(card_error).to_contain_text("declined")
    pay_button = page.get_by_role("button", name=re.compile(r"^Pay CHF"))
    expect(pay_button).to_be_enabled()
    assert page.url.endswith(f"/bookings/{booking.pk}/checkout/")
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PENDING_PAYMENT
    assert not SavedPaymentMethod.objects.filter(user=client_user).exists()
    screenshot(page, "client-checkout-declined")

    fill_card(page, VISA)
    pay(page)

    expect_paid(page, booking)
    statuses = set(booking.payments.values_list("status", flat=True))
    assert statuses == {Payment.Status.FAILED, Payment.Status.SUCCEEDED}


def test_checkout_3d_secure_completed_pays(page, login, client_user, coach, offering):
    login(page, client_user)
    booking = book_first_free_time(page, coach, offering)

    fill_card(page, THREE_D_SECURE)
    pay(page)
    # One challenge: the payment's (the new card is not checked on its own).
    expect(page.locator("[data-status]")).to_have_text(
        "Your bank asks you to confirm this payment…"
    )
    page.get_by_role("button", name="Complete authentication").click()

    expect_paid(page, booking)


def test_checkout_3d_secure_failed_leaves_booking_payable(
    page, login, client_user, coach, offering
):
    login(page, client_user)
    booking = book_first_free_time(page, coach, offering)

    fill_card(page, THREE_D_SECURE)
    pay(page)
    page.get_by_role("button", name="Fail authentication").click()

    expect(page.locator("#card-error")).to_have_text(
        "Your bank did not confirm the payment, so nothing was charged. "
        "Try again or use another card."
    )
    expect(page.get_by_role("button", name=re.compile(r"^Pay CHF"))).to_be_enabled()
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PENDING_PAYMENT
    assert not booking.payments.filter(status=Payment.Status.SUCCEEDED).exists()

    fill_card(page, VISA)
    pay(page)

    expect_paid(page, booking)


def test_checkout_saved_default_card_is_preselected_and_pays(
    page, screenshot, login, asgi_live_server, client_user, coach, offering, make_card
):
    services.payment_method_attach(
        user=client_user, payment_method_id=make_card(VISA), make_default=True,
        actor=client_user,
    )  # fmt: skip
    services.payment_method_attach(
        user=client_user, payment_method_id=make_card(MASTERCARD), make_default=False,
        actor=client_user,
    )  # fmt: skip
    login(page, client_user)
    booking = book_first_free_time(page, coach, offering)

    default = page.get_by_label(re.compile(r"Visa •••• 4242"))
    expect(default).to_be_checked()
    expect(page.locator("[data-new-card-panel]")).to_be_hidden()
    screenshot(page, "client-checkout-saved-card")
    # A double click pays once: the button is disabled while a payment runs.
    page.get_by_role("button", name=re.compile(r"^Pay CHF")).dblclick()

    expect_paid(page, booking)
    payment = booking.payments.get()
    assert payment.card_last4 == "4242"


def test_checkout_without_javascript_pays_with_saved_card(
    new_context, login, asgi_live_server, client_user, coach, offering, make_card
):
    services.payment_method_attach(
        user=client_user, payment_method_id=make_card(VISA), make_default=True,
        actor=client_user,
    )  # fmt: skip
    booking = asgi_live_server.run(
        booking_services.booking_create,
        client=client_user,
        offering=offering,
        starts_at=next_slot(),
        actor=client_user,
    )
    page = new_context(java_script_enabled=False).new_page()
    login(page, client_user, password=factories.PASSWORD)
    nav(page).get_by_role("link", name="My bookings").click()
    # A link that looks like a button (role=button).
    page.get_by_role("button", name=f"Pay — {offering.title}").click()
    expect(page.get_by_label(re.compile(r"Visa •••• 4242"))).to_be_checked()
    page.get_by_role("button", name="Pay CHF 100.00").click()

    page.wait_for_url(f"**/bookings/{booking.pk}/")
    expect(page.locator(".payment-status-summary")).to_have_text("Paid — CHF 100.00")
    expect(page.get_by_text("Thank you: your payment went through.")).to_be_visible()


# --- saved cards ---------------------------------------------------------------------


def test_payment_methods_add_set_default_and_delete(
    page, screenshot, login, client_user
):
    login(page, client_user)
    page.goto("/")
    nav(page).get_by_role("link", name="Cards").click()
    expect(page.get_by_text("You have no saved cards.")).to_be_visible()

    fill_card(page, VISA)
    page.get_by_role("button", name="Save card").click()
    cards = page.locator(".saved-card")
    expect(cards).to_have_count(1)
    expect(page.locator("[data-status]")).to_have_text("Visa •••• 4242: Card saved.")

    fill_card(page, MASTERCARD)
    page.get_by_role("button", name="Save card").click()
    expect(cards).to_have_count(2)
    first = page.locator(".saved-card", has_text="4242")
    second = page.locator(".saved-card", has_text="4444")
    expect(first.locator(".default-badge")).to_have_text("Default")
    expect(second.locator(".default-badge")).to_have_count(0)
    screenshot(page, "client-payment-methods")

    second.get_by_role("button", name="Make default").click()
    expect(second.locator(".default-badge")).to_have_text("Default")
    expect(page.locator("[data-list-status]")).to_have_text(
        "Visa •••• 4444 is now your default card."
    )
    expect(
        page.locator(".saved-card", has_text="4242").locator(".default-badge")
    ).to_have_count(0)
    assert (
        SavedPaymentMethod.objects.get(user=client_user, is_default=True).last4
        == "4444"
    )

    removed = page.locator(".saved-card", has_text="4444")
    removed.get_by_role("button", name="Remove").click()
    removed.get_by_role("button", name="Yes, remove this card").click()
    expect(cards).to_have_count(1)
    # The default went to the newest remaining card.
    expect(
        page.locator(".saved-card", has_text="4242").locator(".default-badge")
    ).to_have_text("Default")
    remaining = SavedPaymentMethod.objects.get(user=client_user)
    assert (remaining.last4, remaining.is_default) == ("4242", True)


# --- after paying -------------------------------------------------------------------


def test_cancel_within_window_shows_refund_then_refunded_live(
    page, screenshot, login, asgi_live_server, client_user, coach, offering, make_card
):
    booking = paid_booking(asgi_live_server, make_card, client_user, offering)
    login(page, client_user)

    page.goto("/")
    nav(page).get_by_role("link", name="My bookings").click()
    row = page.locator(".booking-row", has_text="Deep-dive session")
    expect(row.locator(".payment-status-summary")).to_have_text("Paid — CHF 100.00")
    screenshot(page, "client-my-bookings")

    row.get_by_role("link", name="Receipt — Deep-dive session").click()
    expect(page.get_by_role("row", name="Total paid CHF 100.00")).to_be_visible()
    expect(page.get_by_text("Visa •••• 4242")).to_be_visible()
    screenshot(page, "client-receipt")

    page.go_back()
    row.get_by_role("link", name="Cancel — Deep-dive session").click()
    expect(page.locator(".refund-preview")).to_contain_text("You get CHF 100.00 back.")
    screenshot(page, "client-cancel")
    page.get_by_role("button", name="Yes, cancel the booking").click()

    page.wait_for_url(f"**/bookings/{booking.pk}/")
    summary = page.locator(f'[data-booking-id="{booking.pk}"] .payment-status-summary')
    expect(summary).to_have_text("Refunded in full — CHF 100.00")
    expect(page.locator('[data-field="booking-status"]')).to_have_text("Refunded")


def test_my_bookings_row_follows_refund_without_reload(
    page, login, asgi_live_server, client_user, coach, offering, make_card
):
    booking = paid_booking(asgi_live_server, make_card, client_user, offering)
    login(page, client_user)
    page.goto("/")
    nav(page).get_by_role("link", name="My bookings").click()
    summary = page.locator(f'[data-booking-id="{booking.pk}"] .payment-status-summary')
    expect(summary).to_have_text("Paid — CHF 100.00")
    expect(page.locator("html")).to_have_attribute("data-payments-feed", "live")
    page.evaluate("window.notReloaded = true")

    asgi_live_server.run(
        services.booking_cancel_with_refund,
        booking=Booking.objects.get(pk=booking.pk),
        actor=client_user,
    )

    expect(summary).to_have_text("Refunded in full — CHF 100.00")
    assert page.evaluate("window.notReloaded") is True


def test_notifications_mark_read_updates_nav_count(
    page, screenshot, login, asgi_live_server, client_user, coach, offering, make_card
):
    paid_booking(asgi_live_server, make_card, client_user, offering)
    login(page, client_user)
    page.goto("/")
    unread = page.locator("#nav-notifications")
    expect(unread).to_have_text("Notifications 1 unread")
    unread.click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    screenshot(page, "client-notifications")

    page.get_by_role("button", name="Mark as read").click()

    expect(unread).to_have_text("Notifications")
    expect(page.locator(".notification.unread")).to_have_count(0)


def test_coach_page_day_switch_and_time_zone(page, login, client_user, coach, offering):
    login(page, client_user)
    choose_offering(page, coach, offering)
    page.get_by_label("Show times in").fill("America/New_York")
    page.get_by_role("button", name="Show", exact=True).click()
    legend = page.locator(".slot-picker legend")
    expect(legend).to_contain_text("(America/New_York)")
    days = page.locator(".day-nav a")
    second_day = days.nth(1)
    label = second_day.locator("span").inner_text()
    second_day.click()
    expect(page.locator('.day-nav a[aria-current="date"] span')).to_have_text(label)
    expect(page).to_have_url(re.compile(r"day=\d{4}-\d\d-\d\d"))
    # Zurich 07:00 is 01:00 or 02:00 in New York.
    expect(page.locator(".slot-list time").first).to_have_text(re.compile(r"0[12]:00"))
    assert dt.date.fromisoformat(re.search(r"day=([\d-]+)", page.url).group(1))


def test_coach_page_books_with_keyboard_only_and_focus_is_visible(
    page, login, client_user, coach, offering
):
    login(page, client_user)
    choose_offering(page, coach, offering)
    page.wait_for_load_state()

    for _ in range(80):
        page.keyboard.press("Tab")
        # No element has focus for a moment while the page settles (null).
        if page.evaluate("document.activeElement?.name") == "starts_at":
            break
    else:
        raise AssertionError("no time slot reachable with Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Space")
    with page.expect_navigation(url=re.compile(r"/checkout/$")):
        page.keyboard.press("Enter")

    assert Booking.objects.filter(client=client_user).count() == 1
