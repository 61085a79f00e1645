"""Under the Content-Security-Policy the live status socket connects to our own
origin (``'self'`` covers ``ws:`` of the same host and port in Chromium), and
a socket to any other origin is refused by the browser itself."""

import pytest

from bookings import services as booking_services
from tests.payments.conftest import next_slot

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.django_db(transaction=True)

TRY_SOCKET = """url => new Promise(resolve => {
  document.addEventListener(
    "securitypolicyviolation",
    event => resolve("csp:" + event.effectiveDirective),
    {once: true},
  );
  try {
    const socket = new WebSocket(url);
    socket.onopen = () => { socket.close(); resolve("open"); };
    socket.onclose = () => resolve("closed");
  } catch (error) {
    resolve("threw:" + error.name);
  }
})"""


def test_live_status_socket_connects_and_other_origins_are_blocked_by_csp(
    context, login, asgi_live_server, client_user, offering
):
    booking = asgi_live_server.run(
        booking_services.booking_create,
        client=client_user,
        offering=offering,
        starts_at=next_slot(),
        actor=client_user,
    )
    # Not the ``page`` fixture: the refused socket below is meant to make
    # Chromium report a CSP violation.
    page = context.new_page(csp_violations_fail=False)
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    login(page, client_user)

    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="My bookings"
    ).click()
    page.get_by_role("link", name=f"Details — {offering.title}").click()
    expect(page).to_have_url(f"{asgi_live_server.url}/bookings/{booking.pk}/")

    # The page's own socket is up: the feed says "live", with no violation.
    expect(page.locator("html")).to_have_attribute("data-payments-feed", "live")
    assert violations == []
    own = asgi_live_server.url.replace("http://", "ws://") + "/ws/payments/"
    assert page.evaluate(TRY_SOCKET, own) == "open"

    # The same server under another host name is another origin: the browser
    # refuses to connect at all (before, `ws:` let any host through).
    other = f"ws://localhost:{asgi_live_server.port}/ws/payments/"
    outcome = page.evaluate(TRY_SOCKET, other)
    assert outcome in ("csp:connect-src", "threw:SecurityError"), outcome
    page.close()
