"""The booking page keeps its payment status current without a reload: over
the WebSocket while it is up, by polling the fragment while it is down (until
a final state), over the socket again once it is back. A socket that stops
answering pings counts as down. Without JavaScript: the status and a reload
link."""

import json
import re

import pytest

from bookings import services as booking_services
from payments import services
from tests.factories import PASSWORD
from tests.payments.conftest import VISA, next_slot

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.django_db(transaction=True)

# Polling waits at most 30 s between two polls.
POLLED_WITHIN_MS = 40_000


def open_my_booking(page, offering) -> None:
    """From the front door: My bookings, then the booking's details."""
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="My bookings"
    ).click()
    page.get_by_role("link", name=f"Details — {offering.title}").click()


class SocketSwitch:
    """Routes the page's /ws/payments/ sockets through Playwright, to cut them."""

    def __init__(self, page):
        self.cut = False
        self.open: list = []
        page.route_web_socket(re.compile(r"/ws/payments/$"), self._route)

    def _route(self, ws) -> None:
        if self.cut:
            ws.close(code=1011, reason="cut by the test")
            return
        ws.connect_to_server()
        self.open.append(ws)

    def restore(self) -> None:
        self.cut = False

    def cut_all(self) -> None:
        """Close the open sockets; every reconnection is closed at once."""
        self.cut = True
        for ws in self.open:
            ws.close(code=1011, reason="cut by the test")
        self.open.clear()


def test_booking_page_follows_payment_live_by_polling_and_live_again(
    page, login, asgi_live_server, client_user, coach, offering, make_card
):
    booking = asgi_live_server.run(
        booking_services.booking_create,
        client=client_user,
        offering=offering,
        starts_at=next_slot(),
        actor=client_user,
    )
    sockets = SocketSwitch(page)
    login(page, client_user)

    open_my_booking(page, offering)
    feed = page.locator("html")
    summary = page.locator(f'[data-booking-id="{booking.pk}"] .payment-status-summary')
    expect(summary).to_have_text("Awaiting payment — CHF 100.00")
    expect(feed).to_have_attribute("data-payments-feed", "live")
    page.evaluate("window.notReloaded = true")

    card = make_card(VISA)

    def pay():
        payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
        payment, _ = services.payment_confirm(
            payment=payment, payment_method_id=card, actor=client_user
        )
        return payment

    payment = asgi_live_server.run(pay)

    expect(summary).to_have_text("Paid — CHF 100.00")
    expect(page.locator('[data-field="booking-status"]')).to_have_text("Confirmed")
    expect(feed).to_have_attribute("data-payments-feed", "live")
    assert page.evaluate("window.notReloaded") is True

    sockets.cut_all()
    expect(feed).to_have_attribute("data-payments-feed", "polling")

    asgi_live_server.run(
        services.payment_refund,
        payment=payment,
        amount=3000,
        reason="requested_by_customer",
        actor=coach,
    )

    expect(summary).to_have_text(
        "Refunded CHF 30.00 of CHF 100.00", timeout=POLLED_WITHIN_MS
    )
    # Polling brought it: the socket is still cut.
    expect(feed).to_have_attribute("data-payments-feed", "polling")
    assert page.evaluate("window.notReloaded") is True

    # The socket comes back (its retries wait 1 s doubling to 30 s): it
    # subscribes again, polling stops, and changes arrive over it once more.
    sockets.restore()
    expect(feed).to_have_attribute(
        "data-payments-feed", "live", timeout=POLLED_WITHIN_MS
    )
    asgi_live_server.run(
        services.payment_refund,
        payment=payment,
        amount=None,
        reason="requested_by_customer",
        actor=coach,
    )
    expect(summary).to_have_text("Refunded in full — CHF 100.00")
    expect(page.locator('[data-field="booking-status"]')).to_have_text("Refunded")
    assert page.evaluate("window.notReloaded") is True


def test_booking_page_stops_polling_at_a_final_state(
    page, login, asgi_live_server, client_user, coach, offering, make_card
):
    card = make_card(VISA)

    def paid_and_refunded():
        booking = booking_services.booking_create(
            client=client_user,
            offering=offering,
            starts_at=next_slot(),
            actor=client_user,
        )
        payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
        payment, _ = services.payment_confirm(
            payment=payment, payment_method_id=card, actor=client_user
        )
        services.payment_refund(
            payment=payment, amount=None, reason="requested_by_customer", actor=coach
        )
        return booking

    booking = asgi_live_server.run(paid_and_refunded)
    sockets = SocketSwitch(page)
    login(page, coach, password=PASSWORD)  # through the login form this time
    fragment_requests = []
    page.on(
        "request",
        lambda request: (
            fragment_requests.append(request.url)
            if "/payments/status/" in request.url
            else None
        ),
    )

    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Bookings"
    ).click()
    page.locator(f'[data-booking-id="{booking.pk}"]').locator(
        "xpath=ancestor::article[1]"
    ).get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(rf"/bookings/{booking.pk}/$"))
    expect(page.locator(".payment-status-summary")).to_have_text(
        "Refunded in full — CHF 100.00"
    )
    expect(page.locator(".payment-status")).to_have_attribute("data-final", "true")
    expect(page.locator("html")).to_have_attribute("data-payments-feed", "live")

    sockets.cut_all()

    # Nothing can change any more: no polling, only the socket's retries.
    expect(page.locator("html")).to_have_attribute("data-payments-feed", "idle")
    page.wait_for_timeout(2500)
    assert fragment_requests == []


def test_booking_page_without_javascript_shows_status_and_a_reload_link(
    new_context, asgi_live_server, login, client_user, offering
):
    booking = asgi_live_server.run(
        booking_services.booking_create,
        client=client_user,
        offering=offering,
        starts_at=next_slot(),
        actor=client_user,
    )
    page = new_context(java_script_enabled=False).new_page()
    login(page, client_user)
    open_my_booking(page, offering)
    expect(page.locator(".payment-status-summary")).to_have_text(
        "Awaiting payment — CHF 100.00"
    )
    reload = page.get_by_role("link", name="Reload this page")
    expect(reload).to_be_visible()
    reload.click()
    expect(page).to_have_url(f"{asgi_live_server.url}/bookings/{booking.pk}/")


def test_booking_page_drops_a_socket_that_stops_answering_pings(
    page, login, asgi_live_server, client_user, offering
):
    asgi_live_server.run(
        booking_services.booking_create,
        client=client_user,
        offering=offering,
        starts_at=next_slot(),
        actor=client_user,
    )
    pings = []

    def route(ws) -> None:
        server = ws.connect_to_server()

        def to_server(message) -> None:
            if json.loads(message).get("type") == "ping":
                pings.append(message)  # lost on the way: no pong comes back
                return
            server.send(message)

        ws.on_message(to_server)

    page.route_web_socket(re.compile(r"/ws/payments/$"), route)
    page.clock.install()
    login(page, client_user)
    open_my_booking(page, offering)
    feed = page.locator("html")
    expect(feed).to_have_attribute("data-payments-feed", "live")

    page.clock.run_for(25_000)  # the first ping goes out, unanswered
    expect(feed).to_have_attribute("data-payments-feed", "live")
    page.clock.run_for(25_000)  # still no answer at the next one: dead

    expect(feed).to_have_attribute("data-payments-feed", "polling")
    assert len(pings) == 1
