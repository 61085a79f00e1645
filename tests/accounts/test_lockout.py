"""The failed-login lockout cannot lock an account's owner out.

Wrong passwords lock the pair (email, client address) that made them; an
email attacked from many addresses is slowed down (a short, growing wait),
never locked for everyone.
"""

import time

import pytest
from rest_framework.test import APIClient

from accounts import throttling
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/api/auth/login/"
OWNER_ADDRESS = "127.0.0.1"  # APIClient's default REMOTE_ADDR


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_FAILURE_LIMIT = 5
    settings.LOGIN_LOCKOUT_SECONDS = 300


@pytest.fixture
def clock(monkeypatch):
    """The lockout's clock, moved by hand."""

    class Clock:
        now = 1_000_000.0

        def advance(self, seconds: float) -> None:
            self.now += seconds

    clock = Clock()
    monkeypatch.setattr(throttling, "_now", lambda: clock.now)
    return clock


def _attempt(email: str, password: str, address: str):
    return APIClient(REMOTE_ADDR=address).post(
        LOGIN, {"email": email, "password": password}, format="json"
    )


def test_five_wrong_passwords_elsewhere_do_not_lock_the_owner_out(client_user):
    statuses = [
        _attempt(client_user.email, "wrong", "203.0.113.7").status_code
        for _ in range(6)
    ]

    owner = _attempt(client_user.email, PASSWORD, OWNER_ADDRESS)

    assert statuses == [400] * 5 + [429]
    assert owner.status_code == 200


def test_the_address_that_failed_is_locked_even_with_the_right_password(
    client_user,
):
    for _ in range(5):
        _attempt(client_user.email, "wrong", "203.0.113.7")

    response = _attempt(client_user.email, PASSWORD, "203.0.113.7")

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 300


def test_an_email_attacked_from_many_addresses_is_slowed_not_locked(client_user, clock):
    # A botnet: every address guesses once, so no pair or address lock helps.
    threshold = 5 * throttling.EMAIL_SLOWDOWN_FACTOR
    for n in range(threshold):
        assert (
            _attempt(client_user.email, "wrong", f"198.51.100.{n}").status_code == 400
        )

    slowed = _attempt(client_user.email, PASSWORD, OWNER_ADDRESS)
    assert slowed.status_code == 429
    assert int(slowed["Retry-After"]) == 1
    assert "second" in slowed.json()["error"]["message"]

    # The wait grows with every further failure, up to a cap.
    waits = []
    for n in range(10):
        clock.advance(throttling.EMAIL_DELAY_MAX_SECONDS)
        _attempt(client_user.email, "wrong", f"192.0.2.{n}")
        waits.append(
            int(_attempt(client_user.email, "x", f"192.0.2.{n + 100}")["Retry-After"])
        )
    assert waits == [2, 4, 8, 16, 32, 60, 60, 60, 60, 60]

    # The owner, once the short wait is over, logs in.
    clock.advance(throttling.EMAIL_DELAY_MAX_SECONDS)
    assert _attempt(client_user.email, PASSWORD, OWNER_ADDRESS).status_code == 200


def test_email_slowdown_ends_after_a_quiet_lockout_period(client_user, settings):
    # The cache forgets the count: real time, so a short window.
    settings.LOGIN_LOCKOUT_SECONDS = 1
    threshold = 5 * throttling.EMAIL_SLOWDOWN_FACTOR
    for n in range(threshold):
        _attempt(client_user.email, "wrong", f"198.51.100.{n}")
    assert _attempt(client_user.email, "wrong", "192.0.2.200").status_code == 429

    time.sleep(1.2)

    statuses = [
        _attempt(client_user.email, "wrong", f"192.0.2.{n}").status_code
        for n in range(threshold - 1)
    ]
    assert statuses == [400] * (threshold - 1)


def test_a_success_clears_only_its_own_pair(client_user, clock):
    for _ in range(4):
        _attempt(client_user.email, "wrong", OWNER_ADDRESS)
        _attempt(client_user.email, "wrong", "203.0.113.7")

    assert _attempt(client_user.email, PASSWORD, OWNER_ADDRESS).status_code == 200

    assert _attempt(client_user.email, "wrong", OWNER_ADDRESS).status_code == 400
    assert _attempt(client_user.email, "wrong", "203.0.113.7").status_code == 400
    assert _attempt(client_user.email, "wrong", "203.0.113.7").status_code == 429
