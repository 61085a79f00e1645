"""Fixtures for the bookings tests: times on the coach's clock, bookings, a clock."""

import datetime as dt
import zoneinfo
from collections.abc import Callable

import pytest
from django.utils import timezone

from bookings import services
from bookings.models import Booking

ZURICH = zoneinfo.ZoneInfo("Europe/Zurich")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2 at full strength costs ~0.3 s per user the factories create."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def zurich_at() -> Callable[..., dt.datetime]:
    """``zurich_at(days, hour, minute=0)``: that wall time in Zurich, ``days`` from today."""

    def make(days: int, hour: int, minute: int = 0) -> dt.datetime:
        day = timezone.now().astimezone(ZURICH).date() + dt.timedelta(days=days)
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZURICH)

    return make


@pytest.fixture
def freeze(monkeypatch) -> Callable[[dt.datetime], None]:
    """``freeze(instant)``: make ``timezone.now()`` return ``instant`` from now on."""

    def set_now(instant: dt.datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: instant)

    return set_now


@pytest.fixture
def make_booking(client_user, offering, zurich_at) -> Callable[..., Booking]:
    """Book through the service; defaults: ``client_user``, ``offering``, tomorrow 10:00."""

    def make(**kwargs) -> Booking:
        client = kwargs.pop("client", client_user)
        kwargs.setdefault("offering", offering)
        kwargs.setdefault("starts_at", zurich_at(1, 10))
        kwargs.setdefault("actor", client)
        return services.booking_create(client=client, **kwargs)

    return make


@pytest.fixture
def booking(make_booking) -> Booking:
    """A pending booking of ``client_user`` with ``coach``, tomorrow 10:00-11:00 Zurich."""
    return make_booking()


@pytest.fixture
def set_state() -> Callable[..., Booking]:
    """``set_state(booking, status, **fields)``: write a state directly, for set-up.

    Not a transition: no version bump, no audit row. Tests use it to reach a
    state quickly; the services under test then work from there.
    """

    def write(booking: Booking, status: str | None = None, **fields) -> Booking:
        if status is not None:
            fields["status"] = status
        Booking.objects.filter(pk=booking.pk).update(**fields)
        booking.refresh_from_db()
        return booking

    return write
