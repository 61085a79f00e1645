"""Browser tests: Debian's Chromium, driven by Playwright's sync API, against
the real ASGI application (HTTP, WebSockets and static files) in this process.

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
    live server's, so ``page.goto("/bookings/...")`` works. The test fails if
    the page raised an uncaught JavaScript error or broke the
    Content-Security-Policy.
``login``
    ``login(page, user)`` logs ``user`` in by putting a fresh session cookie
    into the browser (fast); ``login(page, user, password=...)`` fills in and
    submits the ``/login/`` form instead (the real flow; the factories'
    password is ``tests.factories.PASSWORD``).

Secure cookies: tests run with DEBUG off, so session and CSRF cookies are
``Secure``. Chromium counts ``http://127.0.0.1`` and ``http://localhost`` as
potentially trustworthy and stores and sends Secure cookies there over plain
HTTP (checked), so no setting is overridden.
"""

import asyncio
import contextlib
import os
import socket
import threading
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
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


@pytest.fixture
def context(browser, asgi_live_server):
    context = browser.new_context(base_url=asgi_live_server.url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context):
    """A page that fails the test on uncaught JavaScript errors and on
    Content-Security-Policy violations (e.g. an inline script)."""
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    yield page
    assert not problems, "\n".join(problems)


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
        page.goto("/login/")
        page.locator("input[name=email]").fill(user.email)
        page.locator("input[name=password]").fill(password)
        with page.expect_navigation():
            page.locator("form[action='/login/'] button[type=submit]").click()
        if "/login/" in page.url:
            raise AssertionError(f"login failed: {page.locator('main').inner_text()}")

    return log_in
