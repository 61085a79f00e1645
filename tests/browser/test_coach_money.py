"""The demo coach's money pages in a real browser, on the seeded history:
balances and next maturity on the earnings page, a chart with a bar per
month, the statement; nothing scrolls sideways at 1280 px or on a phone, and
no amount wraps mid-number."""

import io

import pytest
from django.core.management import call_command

from accounts.models import User

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.django_db(transaction=True)

SIZES = [(1280, 800), (390, 844)]

# Every money element rendered on one line: as tall as one line box.
WRAPPED_AMOUNTS = """() => [...document.querySelectorAll('.money, td.num')]
  .filter(el => el.getClientRects().length && el.textContent.trim())
  .filter(el => {
    // The text's own boxes (an inline element adds its box a pixel or two
    // off): a second line starts at least half a line lower.
    const range = document.createRange();
    range.selectNodeContents(el);
    const boxes = [...range.getClientRects()].filter(r => r.width && r.height);
    const tops = boxes.map(r => r.top);
    return Math.max(...tops) - Math.min(...tops) > boxes[0].height / 2;
  })
  .map(el => el.textContent.trim())"""


def check_layout(page) -> None:
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0, f"{page.url} is {overflow}px too wide at {width}px"
        scrolled = page.evaluate(
            """() => [...document.querySelectorAll('.table-scroll')]
              .filter(el => el.scrollWidth > el.clientWidth).length"""
        )
        if width >= 1280:
            detail = page.evaluate(
                """() => [...document.querySelectorAll(".table-scroll")].map(
                  el => [el.getAttribute("aria-label"), el.scrollWidth, el.clientWidth])"""
            )
            assert scrolled == 0, f"a table scrolls sideways at 1280 px: {detail}"
        assert page.evaluate(WRAPPED_AMOUNTS) == [], f"amounts wrap at {width}px"


def test_demo_coach_earnings_and_statement(page, login, asgi_live_server):
    asgi_live_server.run(lambda: call_command("seed_demo", stdout=io.StringIO()))
    coach = User.objects.get(email="coach@example.com")
    login(page, coach, "coaching-demo")

    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Earnings"
    ).click()
    expect(page.locator('[data-balance="paid-out"]')).to_have_text("CHF 200.00")
    expect(page.locator('[data-balance="pending"]')).to_have_text("CHF 46.75")
    expect(page.locator('[data-balance="next-maturity"]')).to_contain_text(
        "CHF 46.75 becomes available on"
    )
    chart = page.get_by_role("img", name="Net to you per month, CHF")
    assert chart.locator(".bar-value").count() >= 4
    check_layout(page)

    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("link", name="Monthly statements and invoices").click()
    expect(page.locator('[data-figure="closing"]')).to_be_visible()
    months = page.get_by_role("navigation", name="Months").get_by_role("link")
    months.first.click()
    expect(page.locator('[data-figure="payouts"]')).to_be_visible()
    check_layout(page)
