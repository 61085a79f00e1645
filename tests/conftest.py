"""Fixtures shared by the whole suite.

Stripe is localstripe, started once per test run (per xdist worker) on a free
loopback port and reached through the real SDK. Nothing here talks to the
internet.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests import factories


def pytest_configure(config):
    """Hash test passwords cheaply: PBKDF2's deliberate slowness (about 0.3 s a
    password) would dominate the suite and proves nothing here."""
    from django.contrib.auth.hashers import get_hashers

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_hashers.cache_clear()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"Authorization": "Bearer sk_test_x"})
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"localstripe exited with {process.returncode}")
        try:
            with urllib.request.urlopen(request, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"localstripe did not answer at {url}")


@pytest.fixture(scope="session")
def localstripe_url():
    """Start a private, in-memory localstripe and point the app at it."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "coaching.localstripe_server", "--port", str(port)],
        cwd=settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{url}/v1/customers", process)
        settings.STRIPE_API_BASE = url
        os.environ["STRIPE_API_BASE"] = url
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(autouse=True)
def _fresh_emulator(request):
    """Wipe localstripe's objects before each test that uses it.

    Its lookups scan the whole store, so a store that grows over the run
    slows every later test; a clean store also keeps counts per test exact.
    """
    if "localstripe_url" in request.fixturenames:
        url = request.getfixturevalue("localstripe_url")
        wipe = urllib.request.Request(f"{url}/_config/data", method="DELETE")
        with urllib.request.urlopen(wipe, timeout=5):
            pass
    yield


@pytest.fixture(autouse=True)
def _tasks_inline(settings):
    """Tasks run inline on every leg, Redis or not: no worker runs during most
    tests. tests/payments/test_celery_worker.py opts out with a real worker."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle and lockout counters live in the cache: start every test clean."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def client_user(db):
    return factories.ClientFactory(email="client@example.com")


@pytest.fixture
def other_client(db):
    return factories.ClientFactory(email="client2@example.com")


@pytest.fixture
def coach(db):
    return factories.CoachFactory(email="coach@example.com")


@pytest.fixture
def other_coach(db):
    return factories.CoachFactory(email="coach2@example.com")


@pytest.fixture
def admin_user(db):
    return factories.AdminFactory(email="admin@example.com")


@pytest.fixture
def staff(client, admin_user):
    """The test client, logged in as an admin."""
    client.force_login(admin_user)
    return client


@pytest.fixture
def offering(coach):
    return factories.OfferingFactory(coach=coach)


def pytest_collection_modifyitems(config, items):
    """Skip PostgreSQL-only tests (row locks, exclusion constraints) on SQLite,
    and Redis fault tests (their own redis-server) off the Redis leg."""
    skips = {}
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        skips["postgres"] = pytest.mark.skip(
            reason="needs PostgreSQL: run with DATABASE_URL=postgres://..."
        )
    if not (settings.REDIS_URL and shutil.which("redis-server")):
        skips["redis"] = pytest.mark.skip(
            reason="needs Redis: run with REDIS_URL=redis://... and redis-server"
        )
    for item in items:
        for marker, skip in skips.items():
            if marker in item.keywords:
                item.add_marker(skip)
