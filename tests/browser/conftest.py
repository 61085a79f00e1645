"""Browser tests: Debian's Chromium, driven by Playwright's sync API, against
the real ASGI application (HTTP, WebSockets and static files) in this process.

The rule (tests/browser/README.md): every journey starts at ``/`` (or at a link
in an email the test reads from the outbox) and goes on by clicking and typing
only, as a person would. A page that can only be reached by typing its URL is
a page nobody finds, and a test that goes there directly cannot notice. So:

- ``page.goto("/")`` is the one ``goto`` a journey makes; any deeper URL fails
  the test at once (the ``page`` fixture guards it, on every page of the
  test's contexts, including the ones ``new_context`` makes);
- ``goto_refused(page, url)`` goes to a deeper URL only to prove that the page
  refuses this visitor (403, 404, or the login page), and fails otherwise;
- ``open_email_link(page, url)`` follows a link only if an email in
  ``django.core.mail.outbox`` carries it;
- setting up data through the services (a paid booking to cancel) and logging
  in with a session cookie (``login(page, user)``) are fine: they are not
  navigation. The log-in form has journeys of its own.
``test_crawl.py`` checks the other half: from ``/``, following links and
buttons only, each role reaches every page it should use.

Every test under ``tests/browser/`` is marked ``browser`` (``-m "not browser"``
leaves them out), and the whole package is skipped, with the reason, when
Chromium (``/usr/bin/chromium``, or ``$CHROMIUM``) or Playwright is missing.

Fixtures, for any page of the product:

``asgi_live_server``
    ``coaching.asgi.application`` served by uvicorn in a background thread of
    the test process, so the test, the server and its consumers share the
    database and the channel layer (the in-memory one by default; Redis with
    ``REDIS_URL``). Needs committed data: it brings ``transactional_db`` along.
    Gives ``.url`` (``http://127.0.0.1:<port>``) and ``.run(func, ...)``:
    call code that broadcasts (any payment or booking service) through
    ``.run``, which runs it on the server's event loop, as a request would.
    Called straight from the test, its broadcasts are lost: Playwright's loop
    occupies the test thread, so ``async_to_sync`` cannot run there, and the
    in-memory channel layer only works from the server's loop anyway.
    On in-memory SQLite every thread uses the test's one connection (as
    Django's own live server does), so the server sees uncommitted rows too;
    avoid writing from the test while a page request writes.
``browser``
    Chromium, headless, one per test package run.
``context`` / ``page``
    A fresh browser context per test (no cookies), whose ``base_url`` is the
    live server's, so ``page.goto("/")`` works. The test fails if the page
    raised an uncaught JavaScript error or broke the Content-Security-Policy.
``new_context(**options)``
    Another guarded context (e.g. ``java_script_enabled=False``), closed after
    the test; its pages fail the test on JavaScript errors as ``page`` does.
    ``context.new_page(csp_violations_fail=False)`` gives a page whose CSP
    violations do not fail the test, for a test that provokes one on purpose.
``login``
    ``login(page, user)`` logs ``user`` in by putting a fresh session cookie
    into the browser (fast); ``login(page, user, password=...)`` clicks "Log
    in" on the home page, fills in and submits the form instead (the real
    flow; the factories' password is ``tests.factories.PASSWORD``).
``clock``
    ``clock.freeze(when)``: for tests that depend on today's date. Moves the
    clock of the test process (``time_machine.travel``, ticking on from
    ``when``) -- the live server runs in a thread of this process, so its
    ``timezone.now()`` moves too -- and installs Playwright's fake clock at
    the same instant in the test's context, so the page's ``Date`` agrees
    with the server. Call it before the first ``page.goto``.
``screenshot``
    ``screenshot(page, name)`` checks that nothing sticks out sideways at
    desktop and phone widths, and with ``SCREENSHOTS=1`` (``make
    screenshots``) saves ``docs/screenshots/<name>-desktop.png`` and
    ``-phone.png``. A normal run writes nothing, so ``make test`` leaves the
    working tree clean.

Secure cookies: tests run with DEBUG off, so session and CSRF cookies are
``Secure``. Chromium counts ``http://127.0.0.1`` and ``http://localhost`` as
potentially trustworthy and stores and sends Secure cookies there over plain
HTTP (checked), so no setting is overridden.
"""

import asyncio
import contextlib
import datetime as dt
import os
import socket
import threading
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import time_machine
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.test import Client

from tests.payments import conftest as payment_fixtures

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Playwright's own waits (expect, click, ...) give up after this long.
DEFAULT_TIMEOUT_MS = 10_000
SERVER_START_TIMEOUT = 10.0
HERE = Path(__file__).resolve().parent


# The payment tests' Stripe fixtures (the emulator client, cards as Stripe.js
# makes them), for every browser test.
stripe_client = payment_fixtures.stripe_client
make_card = payment_fixtures.make_card


def _skip_reason() -> str | None:
    if sync_playwright is None:
        return "browser tests need Playwright for Python (pip install playwright)"
    if not CHROMIUM.exists():
        return (
            f"browser tests need Chromium at {CHROMIUM}: apt-get install -y "
            "chromium (or set CHROMIUM to its path)"
        )
    return None


def pytest_collection_modifyitems(config, items):
    reason = _skip_reason()
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


# --- the application, live ----------------------------------------------------------


@dataclass
class AsgiLiveServer:
    """A running uvicorn serving the project's ASGI application."""

    host: str
    port: int
    loop: asyncio.AbstractEventLoop
    server: Any = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def run(self, func: Callable[..., Any], *args, timeout: float = 60, **kwargs):
        """Call ``func(*args, **kwargs)`` in a worker thread of the server's
        event loop and return its result (or raise its exception).

        Its ``transaction.on_commit`` broadcasts then reach the sockets the
        server holds, as when a view makes the change.
        """

        def call():
            try:
                return func(*args, **kwargs)
            finally:
                _close_thread_connections()

        coroutine = sync_to_async(call, thread_sensitive=False)()
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


def _close_thread_connections() -> None:
    """Close this thread's connections unless they are the shared in-memory
    SQLite one (closing that is a no-op anyway)."""
    for conn in connections.all(initialized_only=True):
        if not (conn.vendor == "sqlite" and conn.is_in_memory_db()):
            conn.close()


@contextlib.contextmanager
def _every_thread_uses_this_connection() -> Iterator[None]:
    """On in-memory SQLite, hand the test's connection to every thread.

    The test database only lives in that connection's memory (shared-cache
    connections of other threads would see it, but lock whole tables and
    fail at once under contention). Django's LiveServerThread shares the
    connection the same way. Other databases: each thread keeps its own
    connection, closed after each use so none outlives the test.
    """
    conn = connections["default"]
    if not (conn.vendor == "sqlite" and conn.is_in_memory_db()):
        original = connections.settings["default"].get("CONN_MAX_AGE")
        connections.settings["default"]["CONN_MAX_AGE"] = 0
        try:
            yield
        finally:
            connections.settings["default"]["CONN_MAX_AGE"] = original
        return
    conn.inc_thread_sharing()
    per_thread = connections._connections
    connections._connections = types.SimpleNamespace(default=conn)
    try:
        yield
    finally:
        connections._connections = per_thread
        conn.dec_thread_sharing()


def _serve(application) -> tuple[AsgiLiveServer, threading.Thread]:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        application,
        interface="asgi3",
        lifespan="off",
        log_level="warning",
        # Stopping waits at most this long for open sockets to end.
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        finally:
            pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            sock.close()

    thread = threading.Thread(target=main, name="asgi-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    host, port = sock.getsockname()
    return AsgiLiveServer(host=host, port=port, loop=loop, server=server), thread


@pytest.fixture
def asgi_live_server(transactional_db) -> Iterator[AsgiLiveServer]:
    """``coaching.asgi.application`` on ``http://127.0.0.1:<free port>``."""
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from coaching.asgi import application

    with _every_thread_uses_this_connection():
        # Static files from the finders, as runserver serves them (tests do
        # not run collectstatic); every other request goes to the app.
        live, thread = _serve(ASGIStaticFilesHandler(application))
        try:
            yield live
        finally:
            live.server.should_exit = True
            thread.join(timeout=15)


# --- the browser ---------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser():
    """Headless Chromium for this package's tests.

    Package scope, not session: while Playwright's sync API is active its
    event loop counts as running in the test thread, which would break
    ``async_to_sync`` in the tests that come after this package.
    """
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


# --- journeys start at the front door -------------------------------------------------

FRONT_DOOR = "/"
# What a refusal looks like: the status, or where it sends the visitor.
REFUSED_STATUSES = {401, 403, 404, 405}
LOGIN_PATH = "/login/"


def _is_front_door(url: str, base_url: str) -> bool:
    target = urlsplit(urljoin(base_url + "/", url))
    base = urlsplit(base_url)
    return (target.scheme, target.netloc) == (base.scheme, base.netloc) and (
        target.path,
        target.query,
    ) == (FRONT_DOOR, "")


def _guard(page, base_url: str):
    """Make ``page.goto`` refuse anything but the front door (see the
    module's docstring); the helpers below use the original."""
    goto = page.goto

    def front_door_only(url: str, **kwargs):
        if not _is_front_door(url, base_url):
            raise AssertionError(
                f"page.goto({url!r}): journeys start at {FRONT_DOOR!r} and go on by "
                "clicking and typing (tests/browser/README.md). To prove that a "
                "page refuses someone use goto_refused(page, url); to follow a "
                "link from an email, open_email_link(page, url)."
            )
        return goto(url, **kwargs)

    page.goto = front_door_only
    page.goto_unguarded = goto
    return page


def _watch(page, problems: list[str], *, csp: bool = True):
    """Collect uncaught JavaScript errors (and CSP violations) of ``page``."""
    page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
    if not csp:
        return page
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    return page


@pytest.fixture
def new_context(browser, asgi_live_server):
    """``new_context(**options)``: a browser context on the live server whose
    pages are guarded (front door only) and watched (JavaScript errors and
    CSP violations fail the test)."""
    contexts, problems = [], []

    def make(**options):
        context = browser.new_context(base_url=asgi_live_server.url, **options)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        new_page = context.new_page

        def guarded_page(*, csp_violations_fail: bool = True):
            page = _guard(new_page(), asgi_live_server.url)
            return _watch(page, problems, csp=csp_violations_fail)

        context.new_page = guarded_page
        contexts.append(context)
        return context

    try:
        yield make
    finally:
        for context in contexts:
            context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture
def context(new_context):
    return new_context()


@pytest.fixture
def page(context):
    """A guarded page (``goto`` only to ``/``) that fails the test on uncaught
    JavaScript errors and on Content-Security-Policy violations (e.g. an
    inline script)."""
    return context.new_page()


@pytest.fixture
def goto_refused():
    """``goto_refused(page, url)``: go straight to ``url`` to prove that the
    page refuses this visitor: a 401/403/404/405, or a redirect to the login
    page. Anything else fails the test. Returns the response."""

    def go(page, url: str):
        response = page.goto_unguarded(url)
        landed = urlsplit(page.url).path
        status = response.status if response is not None else None
        if status in REFUSED_STATUSES or landed == LOGIN_PATH:
            return response
        raise AssertionError(
            f"{url} was not refused: status {status}, landed on {page.url}"
        )

    return go


@pytest.fixture
def open_email_link(mailoutbox):
    """``open_email_link(page, url)``: follow a link that an email in the
    outbox carries (plain text or HTML); a URL no email carries fails."""

    def go(page, url: str):
        bodies = [
            body
            for message in mailoutbox
            for body in [
                message.body,
                *(content for content, _ in getattr(message, "alternatives", [])),
            ]
        ]
        if not any(url in body for body in bodies):
            raise AssertionError(f"no email in the outbox links to {url}")
        return page.goto_unguarded(url)

    return go


# --- the clock -----------------------------------------------------------------------


@dataclass
class Clock:
    """See ``clock`` in the module's docstring."""

    context: Any
    travels: list = field(default_factory=list)

    def freeze(self, when: dt.datetime) -> dt.datetime:
        if when.tzinfo is None:
            raise ValueError("give the instant with its time zone")
        if self.travels:
            raise RuntimeError("the clock is frozen once per test")
        travel = time_machine.travel(when, tick=True)
        travel.start()
        self.travels.append(travel)
        self.context.clock.install(time=when)
        return when

    def stop(self) -> None:
        while self.travels:
            self.travels.pop().stop()


@pytest.fixture
def clock(context) -> Iterator[Clock]:
    frozen = Clock(context)
    try:
        yield frozen
    finally:
        frozen.stop()


# --- screenshots ---------------------------------------------------------------------

SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"
SCREENSHOT_SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def screenshots_wanted() -> bool:
    """``make screenshots`` sets ``SCREENSHOTS=1``; a normal run writes none."""
    return os.environ.get("SCREENSHOTS", "").lower() in {"1", "true", "yes", "on"}


@pytest.fixture
def screenshot():
    """``screenshot(page, name)``: see the module's docstring."""

    def take(page, name: str) -> None:
        wanted = screenshots_wanted()
        if wanted:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for size, (width, height) in SCREENSHOT_SIZES.items():
            page.set_viewport_size({"width": width, "height": height})
            # Nothing may stick out sideways on a phone: the page scrolls down only.
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, f"{name} is {overflow}px too wide at {width}px"
            if wanted:
                page.screenshot(path=SCREENSHOTS / f"{name}-{size}.png", full_page=True)
        width, height = SCREENSHOT_SIZES["desktop"]
        page.set_viewport_size({"width": width, "height": height})

    return take


# --- logging in ----------------------------------------------------------------------


@pytest.fixture
def login(asgi_live_server):
    """``login(page, user, password=None)``: see the module's docstring."""

    def log_in(page, user, password: str | None = None) -> None:
        if password is None:
            client = Client()
            client.force_login(user)
            page.context.add_cookies(
                [
                    {
                        "name": settings.SESSION_COOKIE_NAME,
                        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                        "url": asgi_live_server.url,
                        "httpOnly": True,
                        "secure": settings.SESSION_COOKIE_SECURE,
                        "sameSite": "Lax",
                    }
                ]
            )
            return
        page.goto(FRONT_DOOR)
        page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Log in"
        ).click()
        page.locator("input[name=email]").fill(user.email)
        page.locator("input[name=password]").fill(password)
        with page.expect_navigation():
            page.locator("form[action^='/login/'] button[type=submit]").click()
        if urlsplit(page.url).path == LOGIN_PATH:
            raise AssertionError(f"login failed: {page.locator('main').inner_text()}")

    return log_in
