"""The client's money pages: checkout, receipt, cancel (with the refund the
policy allows), saved cards and notifications. Who may see them, what they
show, CSRF on every POST, and the Content-Security-Policy of checkout."""

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking
from payments import services
from payments.models import Notification, Payment, SavedPaymentMethod
from payments.services.notifications import notification_create
from tests.payments.conftest import DECLINED_AT_CHARGE, VISA

pytestmark = pytest.mark.django_db

STRIPE_JS = "http://stripe.test:9999/js.stripe.com/v3/"


@pytest.fixture(autouse=True)
def stripe_js(settings):
    settings.STRIPE_JS_URL = STRIPE_JS
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_views"


def html(response) -> str:
    return response.content.decode()


def url(name: str, booking) -> str:
    return reverse(f"bookings:{name}", args=[booking.pk])


def pay(booking, user, make_card, number: str = VISA) -> Payment:
    payment, _ = services.payment_create_intent(booking=booking, actor=user)
    payment, _ = services.payment_confirm(
        payment=payment, payment_method_id=make_card(number), actor=user
    )
    return payment


def save_card(user, make_card, number: str = VISA, default: bool = False):
    return services.payment_method_attach(
        user=user, payment_method_id=make_card(number), make_default=default, actor=user
    )


def csrf_client(user) -> Client:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    return browser


# --- who may see which page ------------------------------------------------------------

BOOKING_PAGES = ["checkout", "receipt", "cancel"]
ACCOUNT_PAGES = ["account:payment_methods", "account:notifications"]


@pytest.mark.parametrize("name", BOOKING_PAGES)
def test_booking_pages_anonymous_is_sent_to_login(client, booking, name):
    response = client.get(url(name, booking))
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={url(name, booking)}"


@pytest.mark.parametrize("name", BOOKING_PAGES)
def test_booking_pages_other_client_gets_404(
    client, booking, other_client, make_card, client_user, name
):
    pay(booking, client_user, make_card)
    client.force_login(other_client)
    assert client.get(url(name, booking)).status_code == 404


def test_checkout_coach_of_booking_gets_404(client, booking, coach):
    client.force_login(coach)
    assert client.get(url("checkout", booking)).status_code == 404


@pytest.mark.parametrize("name", ["receipt", "cancel"])
def test_receipt_and_cancel_coach_and_admin_may_see(
    client, booking, coach, admin_user, client_user, make_card, name
):
    pay(booking, client_user, make_card)
    for user in (coach, admin_user):
        client.force_login(user)
        # The coach's cancel is the coach-worded page (coach:booking_cancel).
        assert client.get(url(name, booking), follow=True).status_code == 200


@pytest.mark.parametrize("name", ACCOUNT_PAGES)
def test_account_pages_anonymous_is_sent_to_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={reverse(name)}"


# --- checkout ----------------------------------------------------------------------------


def test_checkout_shows_price_breakdown_hold_and_stripe_config(
    client, client_user, booking
):
    client.force_login(client_user)

    response = client.get(url("checkout", booking))

    assert response.status_code == 200
    page = html(response)
    assert 'Total</th><td><data value="10000" data-total>CHF 100.00</data>' in page
    assert 'VAT 8.1 % (included)</th><td><data value="749">CHF 7.49</data>' in page
    assert 'Price before VAT</th><td><data value="9251">CHF 92.51</data>' in page
    left = int(re.search(r'data-seconds-left="(\d+)"', page).group(1))
    assert 29 * 60 < left <= 30 * 60
    local = timezone.localtime(booking.expires_at, booking.coach.coach_profile.tz)
    assert f">{local:%H:%M}</time> (Europe/Zurich)" in page
    assert f'<script src="{STRIPE_JS}" defer></script>' in page
    assert 'data-stripe-key="pk_test_views"' in page
    assert 'data-create-intent-url="/api/payments/create-intent"' in page
    assert 'data-confirm-url="/api/payments/confirm"' in page
    assert 'data-setup-intent-url="/api/payments/setup-intent"' in page
    # No saved card: a new card is the choice.
    assert 'value="new" data-new-card checked' in page
    assert "Pay CHF 100.00" in page
    # No inline script or handler anywhere.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert not re.search(r"\son[a-z]+=", page)


def test_checkout_csp_allows_scripts_only_from_us_and_stripe(
    client, client_user, booking
):
    client.force_login(client_user)

    policy = client.get(url("checkout", booking))["Content-Security-Policy"]

    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self' http://stripe.test:9999"
    assert "http://stripe.test:9999" in directives["frame-src"]
    assert "http://stripe.test:9999" in directives["connect-src"]


def test_checkout_default_saved_card_is_preselected(
    client, client_user, booking, make_card
):
    save_card(client_user, make_card, VISA, default=True)
    other = save_card(client_user, make_card, "5555555555554444")
    client.force_login(client_user)

    page = html(client.get(url("checkout", booking)))

    default = SavedPaymentMethod.objects.get(user=client_user, is_default=True)
    assert f'value="{default.stripe_payment_method_id}" checked' in page
    assert f'value="{other.stripe_payment_method_id}">' in page
    assert 'value="new" data-new-card>' in page
    assert "Visa •••• 4242" in page and "expires 12/2034 · default" in page


def test_checkout_without_javascript_pays_with_saved_card(
    client, client_user, booking, make_card
):
    card = save_card(client_user, make_card, VISA, default=True)
    client.force_login(client_user)

    response = client.post(
        url("checkout", booking), {"payment_method": card.stripe_payment_method_id}
    )

    assert response.status_code == 302
    assert response["Location"] == url("detail", booking)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    assert booking.payments.get().status == Payment.Status.SUCCEEDED


def test_checkout_without_javascript_decline_is_shown_and_booking_stays_payable(
    client, client_user, booking, make_card
):
    card = save_card(client_user, make_card, DECLINED_AT_CHARGE, default=True)
    client.force_login(client_user)

    response = client.post(
        url("checkout", booking), {"payment_method": card.stripe_payment_method_id}
    )

    assert response.status_code == 402
    error = re.search(r'<p id="method-error"[^>]*>([^<]+)</p>', html(response))
    assert error and "declined" in error.group(1)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PENDING_PAYMENT


def test_checkout_without_javascript_new_card_needs_javascript(
    client, client_user, booking
):
    client.force_login(client_user)

    response = client.post(url("checkout", booking), {"payment_method": "new"})

    assert response.status_code == 400
    assert "Entering a new card needs JavaScript." in html(response)
    assert not booking.payments.exists()


def test_checkout_someone_elses_card_id_is_refused(
    client, client_user, other_client, booking, make_card
):
    theirs = save_card(other_client, make_card, VISA, default=True)
    client.force_login(client_user)

    response = client.post(
        url("checkout", booking), {"payment_method": theirs.stripe_payment_method_id}
    )

    assert response.status_code == 400
    assert not booking.payments.exists()


def test_checkout_paid_booking_goes_to_booking_page(
    client, client_user, booking, make_card
):
    pay(booking, client_user, make_card)
    client.force_login(client_user)

    response = client.get(url("checkout", booking))

    assert response.status_code == 302
    assert response["Location"] == url("detail", booking)


def test_checkout_expired_hold_offers_to_book_again(client, client_user, booking):
    Booking.objects.filter(pk=booking.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    client.force_login(client_user)

    response = client.get(url("checkout", booking))

    page = html(response)
    assert "not paid in time" in page
    assert "data-checkout" not in page
    assert STRIPE_JS not in page
    assert reverse("bookings:coach_detail", args=[booking.coach_id]) in page


def test_checkout_post_without_csrf_token_is_forbidden(client_user, booking, make_card):
    card = save_card(client_user, make_card, VISA, default=True)

    response = csrf_client(client_user).post(
        url("checkout", booking), {"payment_method": card.stripe_payment_method_id}
    )

    assert response.status_code == 403
    assert not booking.payments.exists()


# --- receipt -----------------------------------------------------------------------------


def test_receipt_shows_parties_amounts_vat_card_and_refunds(
    client, client_user, coach, booking, make_card, settings
):
    settings.PLATFORM_NAME = "Coaching Platform AG"
    payment = pay(booking, client_user, make_card)
    services.payment_refund(
        payment=payment, amount=3000, reason="requested_by_customer", actor=coach
    )
    client.force_login(client_user)

    response = client.get(url("receipt", booking))

    assert response.status_code == 200
    page = " ".join(html(response).split())
    assert "Coaching Platform AG" in page
    assert f"on behalf of {coach.display_name} (coach)" in page
    assert client_user.display_name in page and client_user.email in page
    assert "Coaching session (60 minutes)" in page
    assert "VAT 8.1 %</th><td>CHF 7.49</td>" in page
    assert 'Total paid</th><td><data value="10000">CHF 100.00</data>' in page
    assert "Visa •••• 4242" in page
    assert "Refunded <small>" in page
    assert "<td>\u2212CHF 30.00</td>" in page  # a minus sign
    assert "Net paid</th><td>CHF 70.00</td>" in page


def test_receipt_unpaid_booking_is_404(client, client_user, booking):
    client.force_login(client_user)
    assert client.get(url("receipt", booking)).status_code == 404


# --- cancel ------------------------------------------------------------------------------


def test_cancel_paid_within_window_shows_full_refund_first(
    client, client_user, booking, make_card
):
    pay(booking, client_user, make_card)
    client.force_login(client_user)

    response = client.get(url("cancel", booking))

    page = html(response)
    assert response.status_code == 200
    assert 'data-refund="10000"' in page
    assert "You get CHF 100.00 back." in page
    assert "That is everything you paid." in page
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED  # a GET changes nothing


def test_cancel_paid_after_window_shows_no_refund(
    client, client_user, booking, make_card
):
    pay(booking, client_user, make_card)
    Booking.objects.filter(pk=booking.pk).update(cancellation_window_hours=24 * 30)
    client.force_login(client_user)

    page = html(client.get(url("cancel", booking)))

    assert 'data-refund="0"' in page
    assert "You get no refund." in page


def test_cancel_coach_sees_full_refund_after_client_window(
    client, client_user, coach, booking, make_card
):
    pay(booking, client_user, make_card)
    Booking.objects.filter(pk=booking.pk).update(cancellation_window_hours=24 * 30)
    client.force_login(coach)

    # In the coach's words: the client, not "you", gets the money back.
    page = html(client.get(url("cancel", booking), follow=True))
    assert "is refunded in full: CHF 100.00 goes back to their card." in page
    assert "You get CHF 100.00 back." not in page


def test_cancel_post_cancels_and_refunds_then_shows_booking(
    client, client_user, booking, make_card
):
    payment = pay(booking, client_user, make_card)
    client.force_login(client_user)

    response = client.post(url("cancel", booking), follow=True)

    assert response.redirect_chain == [(url("detail", booking), 302)]
    booking.refresh_from_db()
    payment.refresh_from_db()
    assert booking.status == Booking.Status.REFUNDED
    assert payment.status == Payment.Status.REFUNDED
    page = html(response)
    assert "The booking is cancelled and CHF 100.00 was refunded." in page
    assert "Refunded in full — CHF 100.00" in page


def test_cancel_unpaid_hold_is_released_without_refund(client, client_user, booking):
    client.force_login(client_user)

    assert "nothing will be charged or refunded" in html(
        client.get(url("cancel", booking))
    )
    response = client.post(url("cancel", booking))

    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED


def test_cancel_cancelled_booking_goes_to_booking_page(client, client_user, booking):
    client.force_login(client_user)
    client.post(url("cancel", booking))

    response = client.get(url("cancel", booking))

    assert response.status_code == 302
    assert response["Location"] == url("detail", booking)


def test_cancel_post_without_csrf_token_is_forbidden(client_user, booking):
    response = csrf_client(client_user).post(url("cancel", booking))

    assert response.status_code == 403
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PENDING_PAYMENT


# --- saved cards -------------------------------------------------------------------------


def methods_url(name: str = "payment_methods", card=None) -> str:
    if card is None:
        return reverse(f"account:{name}")
    return reverse(f"account:{name}", args=[card.stripe_payment_method_id])


def test_payment_methods_lists_own_cards_with_default(
    client, client_user, other_client, make_card
):
    mine = save_card(client_user, make_card, VISA, default=True)
    theirs = save_card(other_client, make_card, "5555555555554444")
    client.force_login(client_user)

    response = client.get(methods_url())

    page = html(response)
    assert response.status_code == 200
    assert mine.stripe_payment_method_id in page
    assert theirs.stripe_payment_method_id not in page
    assert '<mark class="default-badge">Default</mark>' in page
    assert f'<script src="{STRIPE_JS}" defer></script>' in page
    # The add form is for JavaScript only; without it a note says why.
    assert "data-add-card" in page and "Adding a card needs JavaScript" in page


def test_payment_method_default_plain_post_moves_default(
    client, client_user, make_card
):
    first = save_card(client_user, make_card, VISA, default=True)
    second = save_card(client_user, make_card, "5555555555554444")
    client.force_login(client_user)

    response = client.post(methods_url("payment_method_default", second), follow=True)

    assert response.redirect_chain == [(methods_url(), 302)]
    assert "Visa •••• 4444 is now your default card." in html(response)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_default, second.is_default) == (False, True)


def test_payment_method_default_htmx_returns_list_with_message(
    client, client_user, make_card
):
    save_card(client_user, make_card, VISA, default=True)
    second = save_card(client_user, make_card, "5555555555554444")
    client.force_login(client_user)

    response = client.post(
        methods_url("payment_method_default", second), headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    assert response.templates[0].name == "payments/partials/_payment_method_list.html"
    assert "Visa •••• 4444 is now your default card." in html(response)


def test_payment_method_delete_default_passes_to_newest_other(
    client, client_user, make_card
):
    oldest = save_card(client_user, make_card, VISA, default=True)
    newest = save_card(client_user, make_card, "5555555555554444")
    default = save_card(client_user, make_card, "4000056655665556")
    services.payment_method_set_default(
        user=client_user,
        payment_method_id=default.stripe_payment_method_id,
        actor=client_user,
    )
    client.force_login(client_user)

    response = client.post(
        methods_url("payment_method_delete", default), headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    assert "Visa •••• 5556 was removed." in html(response)
    remaining = SavedPaymentMethod.objects.filter(user=client_user)
    assert set(remaining) == {oldest, newest}
    assert remaining.get(is_default=True) == newest


def test_payment_method_actions_on_someone_elses_card_are_404(
    client, client_user, other_client, make_card
):
    theirs = save_card(other_client, make_card, VISA, default=True)
    client.force_login(client_user)

    for name in ("payment_method_default", "payment_method_delete"):
        assert client.post(methods_url(name, theirs)).status_code == 404
    assert SavedPaymentMethod.objects.filter(pk=theirs.pk, is_default=True).exists()


def test_payment_method_delete_without_csrf_token_is_forbidden(client_user, make_card):
    card = save_card(client_user, make_card, VISA, default=True)

    response = csrf_client(client_user).post(methods_url("payment_method_delete", card))

    assert response.status_code == 403
    assert SavedPaymentMethod.objects.filter(pk=card.pk).exists()


def test_payment_method_actions_get_is_not_allowed(client, client_user, make_card):
    card = save_card(client_user, make_card, VISA, default=True)
    client.force_login(client_user)
    assert client.get(methods_url("payment_method_delete", card)).status_code == 405


# --- notifications ---------------------------------------------------------------------


@pytest.fixture
def notified(booking):
    """A payment_succeeded notification to the booking's client and coach."""
    notification_create(booking_id=booking.pk, kind=Notification.Kind.PAYMENT_SUCCEEDED)
    return booking


def test_notifications_list_own_with_unread_count_in_nav(
    client, client_user, other_client, notified
):
    client.force_login(client_user)

    page = html(client.get(reverse("account:notifications")))

    mine = Notification.objects.get(recipient=client_user)
    assert mine.title in page and mine.body in page
    assert Notification.objects.exclude(recipient=client_user).get().body not in page
    assert re.search(
        r'id="nav-notifications" aria-current="page">Notifications <span class="badge">1'
        r'<span class="visually-hidden"> unread</span>',
        page,
    )
    assert reverse("bookings:detail", args=[notified.pk]) in page


def test_notification_read_plain_post_marks_read(client, client_user, notified):
    note = Notification.objects.get(recipient=client_user)
    client.force_login(client_user)

    response = client.post(reverse("account:notification_read", args=[note.pk]))

    assert response.status_code == 302
    note.refresh_from_db()
    assert note.read


def test_notification_read_htmx_returns_item_and_nav_count(
    client, client_user, notified
):
    note = Notification.objects.get(recipient=client_user)
    client.force_login(client_user)

    response = client.post(
        reverse("account:notification_read", args=[note.pk]),
        headers={"HX-Request": "true"},
    )

    page = html(response)
    assert f'id="notification-{note.pk}"' in page
    assert "Mark as read" not in page
    assert (
        'id="nav-notifications" aria-current="page" hx-swap-oob="true">Notifications</a>'
        in page
    )


def test_notification_read_someone_elses_is_404(client, client_user, coach, notified):
    theirs = Notification.objects.get(recipient=coach)
    client.force_login(client_user)

    response = client.post(reverse("account:notification_read", args=[theirs.pk]))

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert not theirs.read


def test_notifications_read_all_marks_only_own(client, client_user, coach, notified):
    client.force_login(client_user)

    response = client.post(reverse("account:notifications_read_all"))

    assert response.status_code == 302
    assert not Notification.objects.filter(recipient=client_user, read=False).exists()
    assert Notification.objects.filter(recipient=coach, read=False).exists()


def test_notification_read_without_csrf_token_is_forbidden(client_user, notified):
    note = Notification.objects.get(recipient=client_user)

    response = csrf_client(client_user).post(
        reverse("account:notification_read", args=[note.pk])
    )

    assert response.status_code == 403
    note.refresh_from_db()
    assert not note.read
