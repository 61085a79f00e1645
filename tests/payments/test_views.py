"""The booking page and its payment-status fragment: who may see them, and
what the fragment says in each state."""

import re
import uuid

import pytest
from django.urls import reverse

from bookings import services as booking_services
from bookings.models import Booking
from payments import services
from payments.exceptions import CardDeclined
from payments.models import Payment, Refund
from tests.payments.conftest import DECLINED_AT_CHARGE, THREE_D_SECURE, VISA

pytestmark = pytest.mark.django_db

FRAGMENT = "payments/partials/_payment_status.html"


def page_url(booking) -> str:
    return reverse("bookings:detail", args=[booking.pk])


def fragment_url(booking) -> str:
    return reverse("payments:status_fragment", args=[booking.pk])


def pay(booking, client_user, make_card, number: str = VISA) -> Payment:
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    payment, _ = services.payment_confirm(
        payment=payment, payment_method_id=make_card(number), actor=client_user
    )
    return payment


def summary(response) -> str:
    """The fragment's headline, whitespace collapsed."""
    html = response.content.decode()
    match = re.search(r'class="payment-status-summary"[^>]*>(.*?)</p>', html, re.S)
    assert match, html
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def attribute(response, name: str) -> str:
    match = re.search(rf'{name}="([^"]*)"', response.content.decode())
    assert match, name
    return match.group(1)


# --- permissions --------------------------------------------------------------------


@pytest.mark.parametrize("url", [page_url, fragment_url])
def test_booking_pages_anonymous_is_sent_to_login(client, booking, url):
    response = client.get(url(booking))
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={url(booking)}"


def test_payment_status_fragment_anonymous_htmx_request_loads_the_login_page(
    client, booking
):
    response = client.get(
        fragment_url(booking),
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/x/?y=1"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/login/?next=/x/%3Fy%3D1"
    assert not response.content


@pytest.mark.parametrize("who", ["client_user", "coach", "admin_user"])
@pytest.mark.parametrize("url", [page_url, fragment_url])
def test_booking_pages_payer_coach_and_admin_see_them(
    client, booking, request, who, url
):
    client.force_login(request.getfixturevalue(who))
    response = client.get(url(booking))
    assert response.status_code == 200


@pytest.mark.parametrize("who", ["other_client", "other_coach"])
@pytest.mark.parametrize("url", [page_url, fragment_url])
def test_booking_pages_strangers_get_404(client, booking, request, who, url):
    client.force_login(request.getfixturevalue(who))
    assert client.get(url(booking)).status_code == 404


@pytest.mark.parametrize("url", [page_url, fragment_url])
def test_booking_pages_unknown_booking_is_404(client, client_user, url):
    client.force_login(client_user)
    assert client.get(url(Booking(pk=uuid.uuid4()))).status_code == 404


def test_payment_status_fragment_is_never_cached(client, client_user, booking):
    client.force_login(client_user)
    response = client.get(fragment_url(booking))
    assert "no-cache" in response["Cache-Control"]


def test_payment_status_fragment_is_get_only(client, client_user, booking):
    client.force_login(client_user)
    assert client.post(fragment_url(booking)).status_code == 405


# --- the page -----------------------------------------------------------------------


def test_booking_detail_shows_session_price_and_the_status_fragment(
    client, client_user, coach, booking
):
    client.force_login(client_user)
    response = client.get(page_url(booking))
    html = response.content.decode()

    assert [t.name for t in response.templates][:3] == [
        "bookings/detail.html",
        "base.html",
        FRAGMENT,
    ]
    assert "Coaching session" in html
    assert coach.display_name in html
    assert "60 minutes" in html
    assert "CHF 100.00" in html and "incl. 8.1 % VAT" in html
    assert summary(response) == "Awaiting payment — CHF 100.00"
    assert f'data-booking-id="{booking.pk}"' in html
    assert f'data-status-url="{fragment_url(booking)}"' in html
    # Live updates come from a static file; without JavaScript, a reload link.
    assert "/static/js/payment-status.js" in html
    assert re.search(r"<noscript>.*Reload this page.*</noscript>", html, re.S)


def test_booking_detail_has_no_inline_script(client, client_user, booking):
    client.force_login(client_user)
    response = client.get(page_url(booking))
    scripts = re.findall(r"<script\b[^>]*>", response.content.decode())
    assert scripts and all(" src=" in tag for tag in scripts)
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_payment_status_fragment_is_the_fragment_alone(client, client_user, booking):
    client.force_login(client_user)
    response = client.get(fragment_url(booking))
    assert [t.name for t in response.templates] == [FRAGMENT]
    html = response.content.decode()
    assert "<html" not in html and "<nav" not in html
    assert attribute(response, "data-version") == str(booking.version)
    assert attribute(response, "data-final") == "false"


# --- content per state ---------------------------------------------------------------


def fragment(client, user, booking):
    client.force_login(user)
    response = client.get(fragment_url(booking))
    assert response.status_code == 200
    return response


def test_payment_status_open_intent_awaits_payment(client, client_user, booking):
    services.payment_create_intent(booking=booking, actor=client_user)
    response = fragment(client, client_user, booking)
    assert summary(response) == "Awaiting payment — CHF 100.00"
    assert attribute(response, "data-payment-status") == "requires_payment_method"
    assert attribute(response, "data-final") == "false"


def test_payment_status_three_d_secure_awaits_authentication(
    client, client_user, booking, make_card
):
    pay(booking, client_user, make_card, THREE_D_SECURE)
    response = fragment(client, client_user, booking)
    assert summary(response) == "Awaiting card authentication — CHF 100.00"
    assert attribute(response, "data-final") == "false"


def test_payment_status_paid_shows_amount_card_and_confirmed_booking(
    client, client_user, coach, booking, make_card
):
    pay(booking, client_user, make_card)
    booking.refresh_from_db()
    response = fragment(client, coach, booking)
    html = response.content.decode()
    assert summary(response) == "Paid — CHF 100.00"
    assert "Confirmed" in html and "Visa •••• 4242" in html
    assert attribute(response, "data-version") == str(booking.version)
    # The coach may still refund it: not final.
    assert attribute(response, "data-final") == "false"


def test_payment_status_partial_refund_says_how_much_of_what(
    client, client_user, coach, booking, make_card
):
    payment = pay(booking, client_user, make_card)
    services.payment_refund(
        payment=payment, amount=3000, reason="requested_by_customer", actor=coach
    )
    response = fragment(client, client_user, booking)
    assert summary(response) == "Refunded CHF 30.00 of CHF 100.00"
    assert attribute(response, "data-final") == "false"


def test_payment_status_full_refund_is_final(
    client, client_user, coach, booking, make_card
):
    payment = pay(booking, client_user, make_card)
    services.payment_refund(
        payment=payment, amount=None, reason="requested_by_customer", actor=coach
    )
    response = fragment(client, client_user, booking)
    assert summary(response) == "Refunded in full — CHF 100.00"
    assert "Refunded" in response.content.decode()
    assert attribute(response, "data-booking-status") == "refunded"
    assert attribute(response, "data-final") == "true"


def test_payment_status_pending_refund_is_shown_and_not_final(
    client, client_user, coach, booking, make_card
):
    payment = pay(booking, client_user, make_card)
    booking.refresh_from_db()
    booking_services.booking_cancel_paid(booking=booking, actor=coach)
    # A refund whose outcome Stripe has not told us yet.
    Refund.objects.create(
        payment=payment, amount=10000, currency="CHF", reason="requested_by_customer"
    )
    response = fragment(client, client_user, booking)
    assert summary(response) == "Paid — CHF 100.00"
    assert "A refund of CHF 100.00 is being processed." in response.content.decode()
    assert attribute(response, "data-final") == "false"


def test_payment_status_declined_card_fails_and_booking_stays_payable(
    client, client_user, booking, make_card
):
    with pytest.raises(CardDeclined):
        pay(booking, client_user, make_card, DECLINED_AT_CHARGE)
    response = fragment(client, client_user, booking)
    assert summary(response) == "Payment failed — awaiting a new payment"
    assert attribute(response, "data-final") == "false"


def test_payment_status_disputed_says_so(client, client_user, booking, make_card):
    payment = pay(booking, client_user, make_card)
    Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.DISPUTED)
    response = fragment(client, client_user, booking)
    assert summary(response) == "Payment disputed — CHF 100.00"
    assert attribute(response, "data-final") == "false"


def test_payment_status_cancelled_hold_is_not_paid_and_final(
    client, client_user, booking
):
    services.payment_create_intent(booking=booking, actor=client_user)
    services.booking_cancel_with_refund(booking=booking, actor=client_user)
    response = fragment(client, client_user, booking)
    assert summary(response) == "Not paid"
    assert "Cancelled" in response.content.decode()
    assert attribute(response, "data-payment-status") == "canceled"
    assert attribute(response, "data-final") == "true"


def test_payment_status_expired_hold_is_not_paid_and_final(
    client, client_user, booking
):
    Booking.objects.filter(pk=booking.pk).update(expires_at=booking.created_at)
    booking_services.booking_expire(booking=booking)
    response = fragment(client, client_user, booking)
    assert summary(response) == "Not paid"
    assert "Expired" in response.content.decode()
    assert attribute(response, "data-final") == "true"


def test_payment_status_version_grows_with_every_change(
    client, client_user, booking, make_card
):
    versions = [int(attribute(fragment(client, client_user, booking), "data-version"))]
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    versions.append(
        int(attribute(fragment(client, client_user, booking), "data-version"))
    )
    services.payment_confirm(
        payment=payment, payment_method_id=make_card(VISA), actor=client_user
    )
    versions.append(
        int(attribute(fragment(client, client_user, booking), "data-version"))
    )
    assert versions == sorted(set(versions))
