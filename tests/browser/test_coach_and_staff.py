"""Coaches and staff in a real browser: a coach follows their bookings live and
sees a payment, then its refund, in their earnings; manages offerings by
keyboard, with htmx and without JavaScript; an admin replays a dead-lettered
webhook from the Django admin. Screenshots of the main pages at desktop and
phone widths go to docs/screenshots/.
"""

import datetime as dt
import json
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.db.models import F
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking, Offering
from payments import services
from payments.charts import month_shift
from payments.models import LedgerEntry, Payment, Refund, WebhookEvent
from tests import factories
from tests.payments.conftest import next_slot
from tests.payments.stripe_side import confirm_at_stripe, intent_event, store_dead_event

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _tasks_inline(settings):
    """Tasks (e.g. notifications) run in the server's process on every leg."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


def nav(page):
    return page.get_by_role("navigation", name="Main")


def pay(booking, card: str) -> Payment:
    payment, _ = services.payment_create_intent(booking=booking, actor=booking.client)
    payment, _ = services.payment_confirm(
        payment=payment, payment_method_id=card, actor=booking.client
    )
    return payment


def book(client_user, offering, *, days: int = 3, hour: int = 10):
    return booking_services.booking_create(
        client=client_user,
        offering=offering,
        starts_at=next_slot(days, hour),
        actor=client_user,
    )


# --- public pages -----------------------------------------------------------------------


def test_home_and_login_pages(page, screenshot, coach, offering):
    factories.OfferingFactory(
        coach=coach, title="Quick check-in", duration_minutes=30, price_amount=5500
    )
    page.goto("/")
    expect(page.get_by_role("heading", name="Find a coach")).to_be_visible()
    expect(page.get_by_text("CHF 55.00")).to_be_visible()
    screenshot(page, "home")

    page.get_by_role("link", name="Log in").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_label("Email address")).to_be_focused()
    screenshot(page, "login")


# --- coach ------------------------------------------------------------------------------


ZURICH = ZoneInfo("Europe/Zurich")


@pytest.mark.parametrize(
    ("now", "shot"),
    [
        (dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC), "coach-earnings"),
        # 23:30 UTC on 30 November is 00:30 on 1 December in Zurich, the coach's
        # zone: the coach's month is December already (this test once failed
        # on a clean clone at that hour, counting 6 months instead of 5).
        (dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC), None),
    ],
    ids=["mid-month", "zurich-already-in-december"],
)
def test_coach_earnings_show_a_payment_then_its_refund(
    page,
    login,
    clock,
    screenshot,
    asgi_live_server,
    coach,
    client_user,
    offering,
    make_card,
    now,
    shot,
):
    clock.freeze(now)
    coach_today = now.astimezone(ZURICH).date()
    this_month = coach_today.replace(day=1)
    login(page, coach)
    page.goto("/")
    nav(page).get_by_role("link", name="Earnings").click()
    expect(page.get_by_text("No earnings yet.")).to_be_visible()
    # The page's clock and the server's agree: both are frozen at ``now``.
    browser_now = page.evaluate("Date.now()") / 1000
    assert abs(browser_now - now.timestamp()) < 60

    card = make_card()
    payment = asgi_live_server.run(lambda: pay(book(client_user, offering), card))
    earlier_payments = [payment]
    page.reload()

    figure = page.locator("[data-figure]")
    expect(figure).to_have_text(
        ["CHF 100.00", "CHF 0.00", "CHF 15.00", "CHF 7.49", "CHF 85.00"]
    )

    asgi_live_server.run(
        services.payment_refund,
        payment=payment,
        amount=3000,
        reason="requested_by_customer",
        actor=coach,
    )
    page.reload()

    expect(figure).to_have_text(
        ["CHF 100.00", "CHF 30.00", "CHF 10.50", "CHF 5.24", "CHF 59.50"]
    )
    chart = page.get_by_role("img", name="Net to you per month, CHF")
    expect(chart).to_be_visible()
    expect(chart.locator(".bar-value")).to_have_text(["CHF 59.50"])
    by_month = page.get_by_role("table", name="Earnings per month in CHF, newest first")
    expect(by_month.locator("tbody tr")).to_have_count(1)
    # The month on the coach's clock, not UTC's.
    expect(by_month.locator("tbody th")).to_have_text(f"{this_month:%B %Y}")
    expect(by_month.locator("tbody td").last).to_have_text("CHF 59.50")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download as CSV").click()
    # Named after the coach's today: the server's clock is frozen too (it runs
    # in a thread of this process).
    assert download.value.suggested_filename == f"earnings-{coach_today}.csv"
    rows = Path(download.value.path()).read_text().splitlines()
    assert rows[0].startswith("month,offering_id,offering,currency,")
    assert rows[1].startswith(f"{this_month:%Y-%m},")
    assert rows[1].endswith(",CHF,1,100.00,30.00,10.50,5.24,59.50")

    # Some history for the picture: sessions paid in earlier months, at noon
    # on the 15th in the coach's zone.
    short = factories.OfferingFactory(
        coach=coach, title="Quick check-in", duration_minutes=30, price_amount=5500
    )
    for months_ago, booked in [(1, offering), (1, short), (2, offering), (4, short)]:
        earlier = asgi_live_server.run(
            lambda booked=booked: pay(
                book(client_user, booked, days=4 + len(earlier_payments)),
                make_card(),
            )
        )
        earlier_payments.append(earlier)
        paid_at = dt.datetime.combine(
            month_shift(this_month, -months_ago).replace(day=15),
            dt.time(12),
            tzinfo=ZURICH,
        )
        LedgerEntry.objects.filter(payment=earlier).update(created_at=paid_at)
    page.reload()
    # From four months ago to this month, the empty month included.
    expect(chart.locator(".bar-value")).to_have_count(5)
    expect(chart.locator(".bar-value").last).to_have_text("CHF 59.50")
    expect(by_month.locator("tbody th")).to_have_text(
        [f"{month_shift(this_month, -ago):%B %Y}" for ago in (0, 1, 2, 4)]
    )
    if shot:
        screenshot(page, shot)


def test_coach_bookings_follow_every_payment_live(
    page,
    login,
    screenshot,
    asgi_live_server,
    coach,
    client_user,
    other_client,
    offering,
    make_card,
):
    card = make_card()
    first = asgi_live_server.run(book, client_user, offering, days=2)
    second = asgi_live_server.run(book, other_client, offering, days=3)
    held = asgi_live_server.run(lambda: pay(book(client_user, offering, days=4), card))
    # A session that took place last week.
    Booking.objects.filter(pk=held.booking_id).update(
        status=Booking.Status.COMPLETED,
        starts_at=F("starts_at") - dt.timedelta(days=10),
        ends_at=F("ends_at") - dt.timedelta(days=10),
    )
    subscribes, sockets = [], []

    def relay(ws) -> None:
        server = ws.connect_to_server()
        sockets.append(ws)

        def to_server(message) -> None:
            data = json.loads(message)
            if data.get("type") == "subscribe":
                subscribes.append(data["bookingId"])
            server.send(message)

        ws.on_message(to_server)

    page.route_web_socket(re.compile(r"/ws/payments/$"), relay)
    login(page, coach)
    page.goto("/")
    nav(page).get_by_role("link", name="Bookings").click()
    expect(page.locator("html")).to_have_attribute("data-payments-feed", "live")
    page.evaluate("window.notReloaded = true")

    def summary(booking_id):
        return page.locator(f'[data-booking-id="{booking_id}"] .payment-status-summary')

    expect(summary(first.pk)).to_have_text("Awaiting payment — CHF 100.00")
    expect(summary(second.pk)).to_have_text("Awaiting payment — CHF 100.00")
    expect(summary(held.booking_id)).to_have_text("Paid — CHF 100.00")
    past = page.get_by_role("list", name="Past")
    expect(past.locator("[data-booking-id]")).to_have_count(1)

    asgi_live_server.run(pay, second, make_card())

    expect(summary(second.pk)).to_have_text("Paid — CHF 100.00")
    expect(summary(first.pk)).to_have_text("Awaiting payment — CHF 100.00")
    assert page.evaluate("window.notReloaded") is True
    # One socket for the whole page, subscribed to every booking shown.
    assert len(sockets) == 1
    assert sorted(set(subscribes)) == sorted(
        str(pk) for pk in (first.pk, second.pk, held.booking_id)
    )

    screenshot(page, "coach-bookings")


def test_coach_adds_an_offering_by_keyboard_with_errors_at_their_fields(
    page, login, screenshot, coach, offering
):
    login(page, coach)
    page.goto("/")
    nav(page).get_by_role("link", name="Offerings").click()
    form = page.locator("#offering-form")

    page.get_by_label("Title").focus()
    page.keyboard.type("Career deep dive")
    page.keyboard.press("Tab")
    page.keyboard.type("90")
    page.keyboard.press("Tab")
    page.keyboard.type("150.505")
    page.keyboard.press("Enter")

    # htmx swapped the form back: the error sits under the price, which has focus.
    price = page.get_by_label("Price (CHF)")
    expect(price).to_have_attribute("aria-invalid", "true")
    expect(price).to_be_focused()
    expect(form.locator("#id_price_error")).to_have_text("Enter at most 2 decimals.")
    expect(page.get_by_label("Title")).to_have_value("Career deep dive")

    price.fill("150.50")
    # The busy sign shows while the request is out.
    held = []
    page.route("**/coach/offerings/", lambda route: held.append(route))
    price.press("Enter")
    expect(page.locator("#offering-form-indicator")).to_have_css("opacity", "1")
    expect(form.get_by_role("button", name="Add offering")).to_be_disabled()
    held[0].continue_()
    page.unroute("**/coach/offerings/")

    expect(page.get_by_role("status").filter(has_text="is on offer now")).to_have_text(
        "“Career deep dive” is on offer now."
    )
    added = page.get_by_role("article", name="Career deep dive")
    expect(added).to_contain_text("90 minutes")
    expect(added).to_contain_text("CHF 150.50")
    expect(page.get_by_label("Title")).to_have_value("")
    expect(page.locator("#offering-form-indicator")).to_have_css("opacity", "0")
    assert Offering.objects.get(title="Career deep dive").price_amount == 15050

    screenshot(page, "coach-offerings")


def test_coach_manages_offerings_without_javascript(
    new_context, asgi_live_server, login, coach, offering
):
    page = new_context(java_script_enabled=False).new_page()
    login(page, coach)
    page.goto("/")
    nav(page).get_by_role("link", name="Offerings").click()

    page.get_by_role("link", name="Edit Coaching session").click()
    expect(page.get_by_label("Price (CHF)")).to_have_value("100.00")
    page.get_by_label("Price (CHF)").fill("120")
    page.get_by_role("button", name="Save changes").click()

    expect(page).to_have_url(f"{asgi_live_server.url}/coach/offerings/")
    expect(page.get_by_text("“Coaching session” is saved.")).to_be_visible()
    expect(page.get_by_role("article", name="Coaching session")).to_contain_text(
        "CHF 120.00"
    )

    page.get_by_role("button", name="Deactivate Coaching session").click()
    expect(
        page.get_by_text("“Coaching session” is no longer on offer.")
    ).to_be_visible()
    expect(page.get_by_role("article", name="Coaching session")).to_contain_text(
        "Not on offer"
    )
    offering.refresh_from_db()
    assert (offering.price_amount, offering.active) == (12000, False)


# --- staff ------------------------------------------------------------------------------


def test_admin_replays_a_dead_webhook_from_the_admin(
    page,
    login,
    screenshot,
    asgi_live_server,
    admin_user,
    client_user,
    offering,
    stripe_client,
    make_card,
):
    booking = asgi_live_server.run(book, client_user, offering)
    payment, _ = asgi_live_server.run(
        services.payment_create_intent, booking=booking, actor=client_user
    )
    # Paid at Stripe, but the webhook telling us was dead-lettered.
    confirm_at_stripe(stripe_client, payment)
    row = asgi_live_server.run(
        lambda: store_dead_event(
            intent_event(stripe_client, payment.stripe_payment_intent_id)
        )
    )

    # More for the dashboard to show: a payment stuck open for 20 minutes, and
    # a paid one whose refund is still waiting for Stripe's answer.
    stuck, _ = asgi_live_server.run(
        services.payment_create_intent,
        booking=asgi_live_server.run(book, client_user, offering, days=4),
        actor=client_user,
    )
    Payment.objects.filter(pk=stuck.pk).update(
        updated_at=timezone.now() - dt.timedelta(minutes=20)
    )
    paid = asgi_live_server.run(
        lambda: pay(book(client_user, offering, days=5), make_card())
    )
    Refund.objects.create(
        payment=paid, amount=2500, currency="CHF", reason="requested_by_customer"
    )

    login(page, admin_user)
    page.goto("/")
    nav(page).get_by_role("link", name="Admin").click()
    page.get_by_role("link", name="Payments dashboard").click()
    dead = page.get_by_role("region", name="Dead-lettered webhook events")
    expect(dead).to_contain_text(row.stripe_event_id)
    expect(dead).to_contain_text("EventNotReady: gave up")
    stuck_panel = page.get_by_role("region", name=re.compile("^Stuck payments"))
    expect(
        stuck_panel.get_by_role("link", name=stuck.stripe_payment_intent_id)
    ).to_have_attribute("href", f"/admin/payments/payment/{stuck.pk}/change/")
    expect(
        page.get_by_role("region", name=re.compile("^Pending refunds"))
    ).to_contain_text("CHF 25.00")
    screenshot(page, "staff-dashboard")

    page.get_by_role("link", name="Replay in the admin").click()
    page.locator(f'input[name="_selected_action"][value="{row.pk}"]').check()
    page.locator('select[name="action"]').select_option("replay")
    page.locator('button[name="index"]').click()  # the admin's "Go"

    # The admin writes its messages with a capital first letter.
    expect(page.locator(".messagelist")).to_contain_text(
        re.compile(re.escape(f"{row.stripe_event_id}: processed."), re.IGNORECASE)
    )
    row.refresh_from_db()
    payment.refresh_from_db()
    assert row.status == WebhookEvent.Status.PROCESSED
    assert payment.status == Payment.Status.SUCCEEDED

    page.goto("/")
    nav(page).get_by_role("link", name="Dashboard").click()
    expect(
        page.get_by_role("region", name="Dead-lettered webhook events")
    ).to_contain_text("None. Every Stripe event was processed or is being retried.")
    # The Refresh button brings the panels anew through htmx.
    page.get_by_role("link", name="Refresh").click()
    expect(page.get_by_role("region", name="Payments today")).to_contain_text("Paid")
