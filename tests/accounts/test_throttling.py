"""accounts.throttling: the failed-login counters behind the lockout."""

import pytest

from accounts import throttling
from accounts.exceptions import LoginRateLimited


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    settings.LOGIN_LOCKOUT_SECONDS = 60


def _fail(email="a@example.com", ip="192.0.2.1", times=1):
    for _ in range(times):
        throttling.login_failure_record(email=email, client_ip=ip)


def test_login_lockout_check_fresh_email_passes():
    throttling.login_lockout_check(email="a@example.com", client_ip="192.0.2.1")


def test_login_lockout_check_below_limit_passes():
    _fail(times=1)

    throttling.login_lockout_check(email="a@example.com", client_ip="192.0.2.1")


def test_login_lockout_check_at_pair_limit_raises_with_retry_after():
    _fail(times=2)

    with pytest.raises(LoginRateLimited) as caught:
        throttling.login_lockout_check(email="A@Example.com", client_ip="192.0.2.1")

    assert 0 < caught.value.retry_after <= 61
    assert caught.value.details == {"retryAfter": caught.value.retry_after}


def test_login_lockout_check_at_pair_limit_spares_the_email_elsewhere():
    _fail(times=2)

    throttling.login_lockout_check(email="a@example.com", client_ip="192.0.2.99")


def test_login_lockout_check_email_failing_everywhere_must_wait():
    threshold = 2 * throttling.EMAIL_SLOWDOWN_FACTOR
    for n in range(threshold):
        _fail(ip=f"192.0.2.{n}")

    with pytest.raises(LoginRateLimited) as caught:
        throttling.login_lockout_check(email="a@example.com", client_ip="192.0.2.99")

    assert caught.value.retry_after == 1


def test_login_lockout_check_at_address_limit_raises_for_any_email():
    for n in range(2 * throttling.ADDRESS_LIMIT_FACTOR):
        _fail(email=f"u{n}@example.com")

    with pytest.raises(LoginRateLimited):
        throttling.login_lockout_check(email="fresh@example.com", client_ip="192.0.2.1")
    throttling.login_lockout_check(email="fresh@example.com", client_ip="192.0.2.2")


def test_login_lockout_check_without_address_counts_email_only():
    _fail(ip=None, times=2)

    with pytest.raises(LoginRateLimited):
        throttling.login_lockout_check(email="a@example.com", client_ip=None)


def test_login_success_record_resets_pair_but_not_address():
    _fail(times=1)
    for n in range(2 * throttling.ADDRESS_LIMIT_FACTOR - 2):
        _fail(email=f"u{n}@example.com")

    throttling.login_success_record(email="a@example.com", client_ip="192.0.2.1")
    throttling.login_lockout_check(email="a@example.com", client_ip="192.0.2.1")
    _fail(email="c@example.com")

    with pytest.raises(LoginRateLimited):
        throttling.login_lockout_check(email="b@example.com", client_ip="192.0.2.1")


def test_client_address_ignores_forwarded_for_header(rf):
    request = rf.get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="198.51.100.7")

    assert throttling.client_address(request) == "192.0.2.1"
