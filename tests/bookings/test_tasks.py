"""Bookings tasks: the periodic hold release."""

import datetime as dt

import pytest
from django.utils import timezone

from bookings.models import Booking
from bookings.tasks import expire_overdue_holds

pytestmark = pytest.mark.django_db


def test_expire_overdue_holds_releases_past_holds_only(
    make_booking, zurich_at, set_state
):
    past = make_booking(starts_at=zurich_at(1, 8))
    running = make_booking(starts_at=zurich_at(1, 10))
    set_state(past, expires_at=timezone.now() - dt.timedelta(minutes=1))

    assert expire_overdue_holds.apply().get() == 1  # in-process, broker or not

    assert Booking.objects.get(pk=past.pk).status == Booking.Status.EXPIRED
    assert Booking.objects.get(pk=running.pk).status == Booking.Status.PENDING_PAYMENT
