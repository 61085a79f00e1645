"""Slot hoarding: a client holds at most MAX_OPEN_HOLDS unpaid slots at once,
and the booking page is throttled like the booking API."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from bookings import services
from bookings.exceptions import TooManyHolds
from bookings.models import Booking
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _three_holds(settings):
    settings.MAX_OPEN_HOLDS = 3


def book(client, offering, starts_at) -> Booking:
    return services.booking_create(
        client=client, offering=offering, starts_at=starts_at, actor=client
    )


def page_post(client, offering, starts_at):
    return client.post(
        reverse("bookings:coach_book", args=[offering.coach_id]),
        {
            "offering": offering.pk,
            "starts_at": starts_at.astimezone(dt.UTC).isoformat(),
        },
    )


def test_booking_create_beyond_max_open_holds_is_refused(
    client_user, offering, zurich_at
):
    for hour in (8, 10, 12):
        book(client_user, offering, zurich_at(2, hour))

    with pytest.raises(TooManyHolds) as refused:
        book(client_user, offering, zurich_at(2, 14))

    assert refused.value.http_status == 409
    assert refused.value.code == "too_many_holds"
    assert refused.value.details["maxOpenHolds"] == 3
    assert Booking.objects.count() == 3


def test_booking_create_cap_counts_holds_with_every_coach(
    client_user, offering, other_coach, zurich_at
):
    elsewhere = factories.OfferingFactory(coach=other_coach)
    book(client_user, offering, zurich_at(2, 8))
    book(client_user, elsewhere, zurich_at(2, 8))
    book(client_user, offering, zurich_at(2, 10))
    with pytest.raises(TooManyHolds):
        book(client_user, elsewhere, zurich_at(2, 10))


def test_booking_create_cap_ignores_paid_cancelled_and_run_out_holds(
    client_user, other_client, offering, zurich_at
):
    first, second, third = (
        book(client_user, offering, zurich_at(2, hour)) for hour in (8, 10, 12)
    )
    Booking.objects.filter(pk=first.pk).update(status=Booking.Status.CONFIRMED)
    services.booking_cancel(booking=second, actor=client_user)
    Booking.objects.filter(pk=third.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )

    for hour in (14, 16):
        book(client_user, offering, zurich_at(2, hour))
    book(other_client, offering, zurich_at(3, 8))  # another client's own cap


def test_booking_api_beyond_max_open_holds_is_409_too_many_holds(
    client_user, offering, zurich_at
):
    api = APIClient()
    api.force_authenticate(client_user)
    codes = []
    for hour in (8, 10, 12, 14):
        response = api.post(
            "/api/bookings/",
            {"offeringId": str(offering.pk), "startsAt": zurich_at(2, hour)},
            format="json",
        )
        codes.append(response.status_code)
    assert codes == [201, 201, 201, 409]
    error = response.json()["error"]
    assert error["code"] == "too_many_holds"
    assert error["details"]["maxOpenHolds"] == 3
    assert "3" in error["message"]


def test_booking_page_beyond_max_open_holds_shows_why(
    client, client_user, offering, zurich_at
):
    client.force_login(client_user)
    for hour in (8, 10, 12):
        assert page_post(client, offering, zurich_at(2, hour)).status_code == 302

    response = page_post(client, offering, zurich_at(2, 14))

    assert response.status_code == 409
    page = response.content.decode()
    assert "You already hold 3 unpaid bookings" in page
    assert Booking.objects.count() == 3


def test_booking_page_is_throttled_like_the_api(
    client, client_user, offering, zurich_at, monkeypatch
):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"bookings": "2/min"})
    client.force_login(client_user)
    assert page_post(client, offering, zurich_at(2, 8)).status_code == 302
    assert page_post(client, offering, zurich_at(2, 10)).status_code == 302

    response = page_post(client, offering, zurich_at(2, 12))

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many booking attempts" in response.content.decode()
    assert Booking.objects.count() == 2
    # The page and the API share one budget per user.
    api = APIClient()
    api.force_authenticate(client_user)
    again = api.post(
        "/api/bookings/",
        {"offeringId": str(offering.pk), "startsAt": zurich_at(2, 14)},
        format="json",
    )
    assert again.status_code == 429
