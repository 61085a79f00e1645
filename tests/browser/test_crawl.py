"""Every page a role uses is found from the front door.

For each role (a visitor, a client, a coach, an admin) the crawl starts at
``/`` (logging in through the home page's "Log in" link and the form, as a
person would) and follows only what a person can use: the visible same-origin
``<a href>`` links (buttons that are links included) and GET forms submitted
with what they hold. It submits no POST form: log in is the only one. It does
not wander into the Django admin (it notes that the admin was reached).
A page that can only be reached by typing its URL fails the test, named with
the role.

``PAGES`` says which pages each role uses, by URL name; ``NOT_PAGES`` lists
every other named URL of the site (the API under ``/api/`` aside: it is for
programs) with the reason it is not crawled (a POST endpoint, a fragment, a
page only an email leads to). A new URL in neither
fails ``test_every_named_url_is_a_page_of_some_role_or_says_why_not``, so a new
page cannot be left out of the crawl unnoticed.
"""

from collections import deque
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.exceptions import Resolver404

from bookings import services as booking_services
from payments import services
from tests import factories
from tests.payments.conftest import VISA, next_slot

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = {
    "visitor": {
        "home",
        "bookings:coach_detail",
        "accounts:login",
        "accounts:register",
        "accounts:password_reset",
    },
    "client": {
        "home",
        "bookings:coach_detail",
        "bookings:list",
        "bookings:detail",
        "bookings:checkout",
        "bookings:receipt",
        "bookings:cancel",
        "bookings:calendar",
        "account:payment_methods",
        "account:notifications",
        "accounts:account",
        "accounts:password_change",
    },
    "coach": {
        "home",
        "coach:bookings",
        "coach:earnings",
        "coach:earnings_csv",
        "coach:statement",
        "coach:statement_csv",
        "coach:statement_pdf",
        "coach:offerings",
        "coach:offering_edit",
        "coach:profile",
        "coach:hours",
        "coach:booking_cancel",
        "bookings:detail",
        "bookings:calendar",
        "account:notifications",
        "accounts:account",
        "accounts:password_change",
    },
    "admin": {
        "home",
        "staff:dashboard",
        "staff:payouts",
        "admin:index",
        "account:notifications",
        "accounts:account",
        "accounts:password_change",
    },
}

NOT_PAGES = {
    "accounts:logout": "POST: the Log out button",
    "accounts:register_done": "shown after submitting the sign-up form",
    "accounts:register_confirm": "opened from the link in the sign-up email",
    "accounts:password_reset_done": "shown after asking for a reset link",
    "accounts:password_reset_confirm": "opened from the link in the reset email",
    "accounts:password_reset_complete": "shown after setting a new password",
    "favicon": "browsers ask for /favicon.ico by themselves",
    "bookings:coach_book": "POST: the coach page's Book this time",
    "coach:offering_deactivate": "POST: a button on the offerings page",
    "coach:exception_add": "POST: the hours page's Add date",
    "coach:exception_delete": "POST: a Remove button on the hours page",
    "coach:setup": "the new coach's checklist, linked until they are bookable "
    "(test_coach_onboarding.py clicks through it)",
    "account:payment_method_default": "POST: a button on the cards page",
    "account:payment_method_delete": "POST: a button on the cards page",
    "account:notifications_read_all": "POST: a button on the notifications page",
    "account:notification_read": "POST: a button on a notification",
    "payments:status_fragment": "a fragment the booking pages poll",
    "healthz": "the health check, for load balancers",
    "readyz": "the readiness check, for load balancers and operators",
    "metrics": "Prometheus scrapes it (README, Operations)",
    "bench_webhook": "a benchmark baseline, 404 unless BENCH_BASELINES is on",
    "bench_auth": "a benchmark baseline, 404 unless BENCH_BASELINES is on",
    "coach:invoice_pdf": (
        "a download linked from a month's statement once the monthly job has "
        "issued that month's invoice (the crawl's month has none yet)"
    ),
}

# Parts of the site the crawl notes but does not walk through.
NOT_WALKED = ("/admin/", "/api/", "/static/")

# Links and GET forms a person can use on the page: visible (or inside a
# closed <details>, one click away), same origin, not a bare fragment.
# Download links are reported apart: they are fetched, not navigated to.
FIND_TARGETS = """
() => {
  const usable = (el) =>
    el.checkVisibility() || el.closest("details:not([open])") !== null;
  const links = [...document.querySelectorAll("a[href]")]
    .filter(usable)
    .map((a) => ({ url: a.href, download: a.hasAttribute("download") }));
  const forms = [...document.querySelectorAll("form")]
    .filter((form) => form.method.toLowerCase() === "get" && usable(form))
    .map((form) => {
      const url = new URL(form.action);
      url.search = new URLSearchParams(new FormData(form)).toString();
      return { url: url.href, download: false };
    });
  return [...links, ...forms];
}
"""


def _named_urls(resolver=None, namespace: str = "") -> set[str]:
    """Every URL name of the site, with its namespaces (``bookings:detail``)."""
    resolver = resolver or get_resolver()
    names = set()
    for entry in resolver.url_patterns:
        if str(entry.pattern).startswith("api/"):
            continue  # the API: for programs, not people
        if isinstance(entry, URLResolver):
            inner = entry.namespace or ""
            prefix = f"{namespace}{inner}:" if inner else namespace
            if inner == "admin":
                names.add("admin:index")
                continue
            names |= _named_urls(entry, prefix)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(f"{namespace}{entry.name}")
    return names


def test_every_named_url_is_a_page_of_some_role_or_says_why_not():
    declared = set().union(*PAGES.values()) | set(NOT_PAGES)
    undeclared = sorted(_named_urls() - declared)
    assert undeclared == [], (
        f"add {undeclared} to PAGES (the role that uses them) or to "
        "NOT_PAGES (why no one navigates to them)"
    )


# --- the site, with something in it for every page ---------------------------------


@pytest.fixture
def site(asgi_live_server, make_card):
    """Two coaches; a client with a paid booking (receipt, cancel, a
    notification) and one still to pay (checkout); an admin."""
    coach = factories.CoachFactory(email="coach@example.com", name="Anna Keller")
    factories.CoachFactory(email="coach2@example.com", name="Marco Rossi")
    offering = factories.OfferingFactory(coach=coach, title="Deep-dive session")
    factories.OfferingFactory(
        coach=coach, title="Quick check-in", duration_minutes=30, price_amount=5500
    )
    factories.OfferingFactory(coach__email="coach3@example.com", title="Other")
    client = factories.ClientFactory(email="client@example.com", name="Lena Brunner")
    admin = factories.AdminFactory(email="admin@example.com", name="Ada Admin")
    card = make_card(VISA)

    def bookings():
        paid = booking_services.booking_create(
            client=client, offering=offering, starts_at=next_slot(3), actor=client
        )
        payment, _ = services.payment_create_intent(booking=paid, actor=client)
        services.payment_confirm(payment=payment, payment_method_id=card, actor=client)
        booking_services.booking_create(
            client=client, offering=offering, starts_at=next_slot(4), actor=client
        )

    asgi_live_server.run(bookings)
    return {"visitor": None, "client": client, "coach": coach, "admin": admin}


# --- the crawl -----------------------------------------------------------------------


def _page_name(url: str, base_url: str) -> str | None:
    """The URL name of a same-origin URL, or None for another site's."""
    from django.urls import resolve

    target, base = urlsplit(url), urlsplit(base_url)
    if (target.scheme, target.netloc) != (base.scheme, base.netloc):
        return None
    if target.path.startswith("/admin/"):
        return "admin:index" if target.path == "/admin/" else "admin:*"
    try:
        return resolve(target.path).view_name
    except Resolver404:
        return f"404 {target.path}"


def _key(url: str) -> tuple[str, tuple[str, ...]]:
    """Pages differing only in query values count once (days of the slot
    picker, offerings of a coach): the path and the query's keys."""
    parts = urlsplit(url)
    return parts.path, tuple(sorted({key for key, _ in parse_qsl(parts.query)}))


def crawl(page, base_url: str) -> tuple[dict[str, str], list[str]]:
    """From the page the browser is on, follow every usable link and GET form.

    Returns the URL names reached (each with the page it was found on) and
    the links that led to an error.
    """
    reached: dict[str, str] = {}
    broken: list[str] = []
    start = page.url
    reached[_page_name(start, base_url)] = "/"
    seen = {_key(start)}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        if page.url != here:
            # Following a link found on a page reached from the front door
            # is what clicking it does; the guard's escape hatch says so.
            response = page.goto_unguarded(here)
            if response is None or response.status >= 400:
                broken.append(f"{here}: {response and response.status}")
                continue
        for target in page.evaluate(FIND_TARGETS):
            url = urljoin(here, target["url"]).split("#")[0]
            name = _page_name(url, base_url)
            if name is None or _key(url) in seen:
                continue
            seen.add(_key(url))
            reached.setdefault(name, urlsplit(here).path)
            path = urlsplit(url).path
            if target["download"]:
                status = page.request.get(url).status
                if status >= 400:
                    broken.append(f"{url} (download): {status}")
            elif not path.startswith(NOT_WALKED) and name != "accounts:logout":
                queue.append(url)
    return reached, broken


@pytest.mark.parametrize("role", list(PAGES))
def test_every_page_a_role_uses_is_reached_from_the_front_door(
    page, login, asgi_live_server, site, role
):
    user = site[role]
    if user is None:
        page.goto("/")
    else:
        login(page, user, password=factories.PASSWORD)

    reached, broken = crawl(page, asgi_live_server.url)

    missing = sorted(PAGES[role] - set(reached))
    assert missing == [], (
        f"a {role} cannot reach {missing} from / by links and buttons; "
        f"reached: {sorted(name for name in reached if name)}"
    )
    assert broken == []
