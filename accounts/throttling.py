"""Failed-login lockout, shared by the login API and the login page.

Failures are counted in the cache (Redis in production, so every process
shares them) three ways:

- per email *and* client address: ``LOGIN_FAILURE_LIMIT`` failures lock that
  pair for ``LOGIN_LOCKOUT_SECONDS``. Someone guessing one account's password
  from one place is stopped; the owner, from anywhere else, is not.
- per client address, with a higher limit: stops one client walking through
  many accounts (locked likewise).
- per email, from every address: never a lock (that would let anyone lock
  the owner out with five wrong passwords). Past ``EMAIL_SLOWDOWN_FACTOR``
  times the limit, each further failure makes the next attempt for that email
  wait: 1 s, doubling up to ``EMAIL_DELAY_MAX_SECONDS``. An attacker spread
  over many addresses gets about one guess a minute; the owner waits at most
  that long. The count is forgotten after ``LOGIN_LOCKOUT_SECONDS`` without a
  failure.

Locked or waiting attempts are refused before the password is checked, so
they teach an attacker nothing. The counters are best effort: concurrent
attempts may each slip through the check before any failure is counted, so a
burst can exceed a limit by the number of requests in flight. Email addresses
are hashed, so the cache holds no personal data.
"""

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache

from accounts.exceptions import LoginRateLimited

# A client address may fail this many times more often than one email address
# from one address: people behind one NAT share it, and a per-address limit
# only needs to stop someone walking through many accounts.
ADDRESS_LIMIT_FACTOR = 4
# An email (from all addresses together) is slowed down after this many times
# LOGIN_FAILURE_LIMIT failures: its owner's own typos never get there.
EMAIL_SLOWDOWN_FACTOR = 2
EMAIL_DELAY_MAX_SECONDS = 60

_PREFIX = "accounts:login-failures"


def _now() -> float:
    return time.time()


def _email_digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _email_key(email: str) -> str:
    return f"{_PREFIX}:email:{_email_digest(email)}"


def _pair_key(email: str, client_ip: str | None) -> str:
    return f"{_PREFIX}:pair:{_email_digest(email)}:{client_ip or '-'}"


def _address_key(client_ip: str) -> str:
    return f"{_PREFIX}:ip:{client_ip}"


def _locks(*, email: str, client_ip: str | None) -> list[tuple[str, int]]:
    """The counters that lock, with their limits."""
    limit = settings.LOGIN_FAILURE_LIMIT
    locks = [(_pair_key(email, client_ip), limit)]
    if client_ip:
        locks.append((_address_key(client_ip), limit * ADDRESS_LIMIT_FACTOR))
    return locks


def login_lockout_check(*, email: str, client_ip: str | None) -> None:
    """Refuse a login attempt that is locked out or must wait.

    Raises ``LoginRateLimited`` with the seconds until the longest lock or
    wait ends.
    """
    now = _now()
    keys = [f"{key}:locked" for key, _ in _locks(email=email, client_ip=client_ip)]
    keys.append(f"{_email_key(email)}:wait")
    waits = [until - now for until in cache.get_many(keys).values() if until > now]
    if waits:
        raise LoginRateLimited(retry_after=max(1, math.ceil(max(waits))))


def _count(key: str, window: int, *, sliding: bool = False) -> int:
    # add() starts the window at the first failure; a sliding one is renewed by
    # every failure.
    cache.add(key, 0, timeout=window)
    try:
        failures = cache.incr(key)
    except ValueError:  # the window expired between add() and incr()
        cache.add(key, 1, timeout=window)
        failures = 1
    if sliding:
        cache.touch(key, timeout=window)
    return failures


def login_failure_record(*, email: str, client_ip: str | None) -> None:
    """Count a failed login: lock a pair or address at its limit, slow the email."""
    window = settings.LOGIN_LOCKOUT_SECONDS
    now = _now()
    for key, limit in _locks(email=email, client_ip=client_ip):
        if _count(key, window) >= limit:
            cache.set(f"{key}:locked", now + window, timeout=window)
            cache.delete(key)
    email_key = _email_key(email)
    over = _count(email_key, window, sliding=True) - (
        settings.LOGIN_FAILURE_LIMIT * EMAIL_SLOWDOWN_FACTOR
    )
    if over >= 0:
        delay = min(2**over, EMAIL_DELAY_MAX_SECONDS)
        cache.set(f"{email_key}:wait", now + delay, timeout=delay + 1)


def login_success_record(*, email: str, client_ip: str | None) -> None:
    """Forget the failures of this email from this address after a success.

    The address's own counter stays (otherwise anyone with one valid account
    could reset it between guesses at other accounts), and so does the
    email's count from everywhere (the owner logging in must not hand an
    attacker elsewhere a fresh allowance).
    """
    cache.delete(_pair_key(email, client_ip))


def client_address(request) -> str | None:
    """The client's IP address as the server saw it.

    Only ``REMOTE_ADDR``: ``X-Forwarded-For`` is whatever the client wrote.
    Behind a proxy, the ASGI server rewrites ``REMOTE_ADDR`` from the proxy's
    header (uvicorn/daphne ``--proxy-headers`` with the proxy's address trusted).
    """
    return request.META.get("REMOTE_ADDR") or None
