"""Failed-login lockout, shared by the login API and the login page.

Failures are counted in the cache (Redis in production, so every process
shares them) per email address and, with a higher limit, per client address:
the first stops guessing one account's password, the second stops one client
trying many accounts. Once a counter reaches its limit the key is locked for
``LOGIN_LOCKOUT_SECONDS`` and logins for it are refused before the password is
checked, so a locked-out attacker learns nothing more.

The counters are best effort: concurrent attempts may each slip through the
check before any failure is counted, so a burst can exceed the limit by the
number of requests in flight. Email addresses are hashed, so the cache holds
no personal data.
"""

import hashlib
import time

from django.conf import settings
from django.core.cache import cache

from accounts.exceptions import LoginRateLimited

# A client address may fail this many times more often than one email address:
# people behind one NAT share it, and a per-address limit only needs to stop
# someone walking through many accounts.
ADDRESS_LIMIT_FACTOR = 4

_PREFIX = "accounts:login-failures"


def _email_key(email: str) -> str:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return f"{_PREFIX}:email:{digest}"


def _address_key(client_ip: str) -> str:
    return f"{_PREFIX}:ip:{client_ip}"


def _limits(*, email: str, client_ip: str | None) -> list[tuple[str, int]]:
    limit = settings.LOGIN_FAILURE_LIMIT
    limits = [(_email_key(email), limit)]
    if client_ip:
        limits.append((_address_key(client_ip), limit * ADDRESS_LIMIT_FACTOR))
    return limits


def login_lockout_check(*, email: str, client_ip: str | None) -> None:
    """Refuse a login attempt for a locked email address or client address.

    Raises ``LoginRateLimited`` with the seconds until the longest lock ends.
    """
    now = time.time()
    locks = cache.get_many(
        [f"{key}:locked" for key, _ in _limits(email=email, client_ip=client_ip)]
    )
    if locks:
        retry_after = max(int(until - now) + 1 for until in locks.values())
        raise LoginRateLimited(retry_after=max(retry_after, 1))


def login_failure_record(*, email: str, client_ip: str | None) -> None:
    """Count a failed login; lock the email or address that reached its limit."""
    window = settings.LOGIN_LOCKOUT_SECONDS
    for key, limit in _limits(email=email, client_ip=client_ip):
        # add() starts the window at the first failure; it never extends it.
        cache.add(key, 0, timeout=window)
        try:
            failures = cache.incr(key)
        except ValueError:  # the window expired between add() and incr()
            cache.add(key, 1, timeout=window)
            failures = 1
        if failures >= limit:
            cache.set(f"{key}:locked", time.time() + window, timeout=window)
            cache.delete(key)


def login_success_record(*, email: str) -> None:
    """Forget the email's failures after a successful login.

    The client address's counter stays: otherwise anyone with one valid account
    could reset it between guesses at other accounts.
    """
    cache.delete(_email_key(email))


def client_address(request) -> str | None:
    """The client's IP address as the server saw it.

    Only ``REMOTE_ADDR``: ``X-Forwarded-For`` is whatever the client wrote.
    Behind a proxy, the ASGI server rewrites ``REMOTE_ADDR`` from the proxy's
    header (uvicorn/daphne ``--proxy-headers`` with the proxy's address trusted).
    """
    return request.META.get("REMOTE_ADDR") or None
