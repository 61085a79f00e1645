"""Payment data is never stored by a browser or proxy cache, and every
endpoint that calls Stripe is rate limited."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from payments.api.common import PaymentsThrottle
from tests.payments.test_services import pay

pytestmark = pytest.mark.django_db


def no_store(response) -> bool:
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    return {"no-store", "private"} <= directives


@pytest.fixture
def paid_booking(booking, client_user, make_card):
    pay(booking, client_user, make_card())
    return booking


@pytest.mark.parametrize(
    ("name", "with_booking"),
    [
        ("bookings:detail", True),
        ("bookings:receipt", True),
        ("bookings:cancel", True),
        ("bookings:list", False),
        ("account:payment_methods", False),
    ],
)
def test_private_pages_are_not_stored(
    client, client_user, paid_booking, name, with_booking
):
    client.force_login(client_user)
    args = [paid_booking.pk] if with_booking else []
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200
    assert no_store(response), response.get("Cache-Control")


def test_checkout_page_is_not_stored(client, client_user, booking):
    client.force_login(client_user)
    response = client.get(reverse("bookings:checkout", args=[booking.pk]))
    assert response.status_code == 200
    assert no_store(response), response.get("Cache-Control")


def test_payment_api_answers_are_not_stored(client_user, paid_booking):
    api = APIClient()
    api.force_authenticate(client_user)
    for path in (
        f"/api/payments/status/{paid_booking.pk}",
        f"/api/payments/methods/{client_user.pk}",
        f"/api/bookings/{paid_booking.pk}/",
    ):
        response = api.get(path)
        assert response.status_code == 200, path
        assert no_store(response), (path, response.get("Cache-Control"))


def test_public_pages_stay_cacheable(client, coach, offering):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


@pytest.fixture
def two_per_minute(monkeypatch):
    monkeypatch.setattr(PaymentsThrottle, "THROTTLE_RATES", {"payments": "2/min"})


def test_default_card_is_throttled(client_user, make_card, two_per_minute):
    api = APIClient()
    api.force_authenticate(client_user)
    card = make_card()
    api.post("/api/payments/methods", {"paymentMethodId": card}, format="json")
    codes = [
        api.post(
            "/api/payments/methods/default", {"paymentMethodId": card}, format="json"
        ).status_code
        for _ in range(3)
    ]
    # The card's creation counted too: the budget is one per user for Stripe calls.
    assert codes[-1] == 429
    assert 200 in codes


def test_card_delete_is_throttled_but_listing_is_not(
    client_user, make_card, two_per_minute
):
    api = APIClient()
    api.force_authenticate(client_user)
    codes = [
        api.delete(f"/api/payments/methods/{make_card()}").status_code for _ in range(3)
    ]
    assert codes[-1] == 429
    last = api.delete(f"/api/payments/methods/{make_card()}")
    assert int(last["Retry-After"]) > 0
    for _ in range(3):
        assert api.get(f"/api/payments/methods/{client_user.pk}").status_code == 200


def test_booking_cancel_is_throttled(
    client_user, make_booking, two_per_minute, settings
):
    settings.MAX_OPEN_HOLDS = 10
    bookings = [make_booking(hour=hour) for hour in (8, 10, 12)]
    api = APIClient()
    api.force_authenticate(client_user)
    codes = [
        api.post(f"/api/bookings/{booking.pk}/cancel/").status_code
        for booking in bookings
    ]
    assert codes == [200, 200, 429]


def test_booking_cancel_page_is_throttled_like_the_api(
    client, client_user, make_booking, two_per_minute, settings
):
    settings.MAX_OPEN_HOLDS = 10
    bookings = [make_booking(hour=hour) for hour in (8, 10, 12)]
    client.force_login(client_user)
    responses = [
        client.post(reverse("bookings:cancel", args=[booking.pk]))
        for booking in bookings
    ]
    assert [r.status_code for r in responses] == [302, 302, 429]
    assert int(responses[-1]["Retry-After"]) > 0
    assert "Too many attempts" in responses[-1].content.decode()
