"""The rule of tests/browser/README.md holds: a journey cannot ``goto`` past the
front door, except to prove a refusal or to follow a link from an email, and
no test makes a browser context the guard does not watch."""

import re
from pathlib import Path

import pytest
from django.core import mail

pytestmark = pytest.mark.django_db(transaction=True)

HERE = Path(__file__).resolve().parent
EXEMPT = {
    "test_rule.py": "tests the guard itself",
    "test_crawl.py": "opens only the hrefs it found on pages reached from /",
}


def test_goto_past_the_front_door_fails_the_test(page):
    page.goto("/")
    for url in ("/bookings/", "/login/", "/?next=/bookings/", "http://example.com/"):
        with pytest.raises(AssertionError, match="journeys start at '/'"):
            page.goto(url)


def test_pages_of_a_second_context_are_guarded_too(new_context):
    page = new_context(java_script_enabled=False).new_page()
    with pytest.raises(AssertionError, match="journeys start at '/'"):
        page.goto("/bookings/")


def test_goto_refused_accepts_a_refusal_and_fails_on_a_page_served(page, goto_refused):
    # A visitor is sent to log in.
    goto_refused(page, "/bookings/")
    assert page.url.split("?")[0].endswith("/login/")
    # Served to anyone: not a refusal.
    with pytest.raises(AssertionError, match="was not refused"):
        goto_refused(page, "/register/")


def test_open_email_link_follows_only_links_an_email_carries(
    page, open_email_link, asgi_live_server, mailoutbox
):
    url = f"{asgi_live_server.url}/register/"
    with pytest.raises(AssertionError, match="no email in the outbox"):
        open_email_link(page, url)
    mail.send_mail("Welcome", f"Sign up here: {url}", None, ["a@example.com"])
    open_email_link(page, url)
    assert page.url == url


def test_no_test_makes_an_unguarded_context_or_page():
    """Contexts come from the ``new_context`` fixture, whose pages are guarded."""
    unguarded = re.compile(r"\bbrowser\.new_(context|page)\(|goto_unguarded")
    offenders = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(HERE.glob("test_*.py"))
        if path.name not in EXEMPT
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if unguarded.search(line)
    ]
    assert offenders == []


def test_every_screenshot_in_the_readme_is_taken_by_a_journey():
    """``make screenshots`` retakes what the README shows: each image there is
    named by a ``screenshot(page, name)`` call of some journey."""
    readme = (HERE.parent.parent / "README.md").read_text()
    shown = set(re.findall(r"docs/screenshots/([\w-]+)-(?:desktop|phone)\.png", readme))
    taken = {
        name
        for path in HERE.glob("test_*.py")
        for name in re.findall(r'screenshot\(page, "([\w-]+)"\)', path.read_text())
    }
    taken |= {"coach-earnings"}  # passed as a parameter of the earnings test
    assert sorted(shown - taken) == []
