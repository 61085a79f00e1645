"""Issue 9, items 3 and 7 on the server-rendered pages: the checkout's
cancellation sentence, expired saved cards at checkout and on the cards page."""

import datetime as dt
import zoneinfo

import pytest
from django.test import Client

from payments import services
from payments.models import SavedPaymentMethod
from tests.payments.conftest import MASTERCARD, VISA

pytestmark = pytest.mark.django_db


def browser_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def expired_saved_card(user, *, default: bool = False) -> SavedPaymentMethod:
    return SavedPaymentMethod.objects.create(
        user=user,
        stripe_payment_method_id="pm_expired_0005",
        brand="visa",
        last4="0005",
        exp_month=1,
        exp_year=2025,
        is_default=default,
    )


def test_checkout_states_free_cancellation_deadline_in_the_viewers_zone(
    booking, client_user
):
    html = browser_for(client_user).get(f"/bookings/{booking.pk}/checkout/")
    deadline = (booking.starts_at - dt.timedelta(hours=24)).astimezone(
        zoneinfo.ZoneInfo("Europe/Zurich")
    )
    text = html.content.decode()
    assert "Free cancellation until <time datetime=" in text
    assert (
        f">{deadline:%a} {deadline.day} {deadline:%b, %H:%M}</time> (Europe/Zurich); "
        "after that, cancelling refunds nothing." in text
    )
    assert "If your card is declined, nothing is charged" in text


def test_checkout_in_another_zone_names_that_zone(booking, client_user):
    # The viewer's own zone (their profile), whatever the coach's zone is.
    client_user.time_zone = "America/New_York"
    client_user.save(update_fields=["time_zone"])
    html = browser_for(client_user).get(f"/bookings/{booking.pk}/checkout/")
    deadline = (booking.starts_at - dt.timedelta(hours=24)).astimezone(
        zoneinfo.ZoneInfo("America/New_York")
    )
    assert f"{deadline:%H:%M}</time> (America/New_York)" in html.content.decode()


def test_checkout_inside_the_window_says_nothing_is_refunded(
    make_booking, client_user, coach
):
    # A 30-day window: a session 3 days ahead is inside it, whatever the time.
    coach.coach_profile.cancellation_window_hours = 720
    coach.coach_profile.save()
    booking = make_booking(days=3)
    html = browser_for(client_user).get(f"/bookings/{booking.pk}/checkout/")
    assert "starts within the 720-hour cancellation window" in html.content.decode()


def test_checkout_expired_default_card_is_marked_and_not_preselected(
    booking, client_user, make_card
):
    services.payment_method_attach(
        user=client_user,
        payment_method_id=make_card(VISA),
        make_default=False,
        actor=client_user,
    )
    SavedPaymentMethod.objects.filter(user=client_user).update(is_default=False)
    expired_saved_card(client_user, default=True)

    response = browser_for(client_user).get(f"/bookings/{booking.pk}/checkout/")

    assert response.context["selected_method"] != "pm_expired_0005"
    html = response.content.decode()
    assert 'value="pm_expired_0005" disabled' in html
    assert "Expired</mark>" in html


def test_checkout_only_expired_cards_preselects_a_new_card(booking, client_user):
    expired_saved_card(client_user, default=True)
    response = browser_for(client_user).get(f"/bookings/{booking.pk}/checkout/")
    assert response.context["selected_method"] == "new"


def test_checkout_without_js_expired_card_is_refused_clearly(
    booking, client_user, stripe_client
):
    pm = stripe_client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {
                "number": MASTERCARD,
                "exp_month": 1,
                "exp_year": 2025,
                "cvc": "123",
            },
        }
    ).id
    SavedPaymentMethod.objects.create(
        user=client_user,
        stripe_payment_method_id=pm,
        brand="visa",
        last4="4444",
        exp_month=1,
        exp_year=2025,
    )

    response = browser_for(client_user).post(
        f"/bookings/{booking.pk}/checkout/", {"payment_method": pm}
    )

    assert response.status_code == 400
    assert "This card expired at the end of 01/2025" in response.content.decode()


def test_cards_page_marks_expired_without_make_default(client_user, make_card):
    expired_saved_card(client_user)
    html = browser_for(client_user).get("/account/payment-methods/").content.decode()
    assert "Expired</mark>" in html
    assert "pm_expired_0005/default" not in html
    # Removing asks first: the button that removes is inside a <details>.
    assert '<details class="confirm-remove">' in html
    assert "Yes, remove this card" in html


def test_cards_page_make_default_of_expired_card_is_refused(client_user, make_card):
    services.payment_method_attach(
        user=client_user,
        payment_method_id=make_card(VISA),
        make_default=True,
        actor=client_user,
    )
    expired_saved_card(client_user)
    client = browser_for(client_user)

    response = client.post(
        "/account/payment-methods/pm_expired_0005/default/", follow=True
    )

    assert "An expired card cannot be your default card." in response.content.decode()
    assert SavedPaymentMethod.objects.get(is_default=True).last4 == "4242"
