"""The staff dashboard: staff only; today's payments, stuck payments, dead
webhook events and pending refunds, each linking into the admin."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from payments import services
from payments.models import Payment, Refund
from tests.payments.stripe_side import store_dead_event, unknown_intent_event

pytestmark = pytest.mark.django_db

URL = "/staff/dashboard/"


def test_staff_dashboard_url():
    assert reverse("staff:dashboard") == URL


def test_staff_dashboard_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={URL}"


@pytest.mark.parametrize("who", ["client_user", "coach"])
def test_staff_dashboard_for_non_staff_is_forbidden(client, request, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(URL).status_code == 403


def test_staff_dashboard_when_all_is_well_says_so(staff):
    response = staff.get(URL)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    html = response.content.decode()
    assert "No payments today yet." in html
    assert "None. Every open payment moved recently." in html
    assert "None. Every Stripe event was processed or is being retried." in html


def test_staff_dashboard_shows_what_needs_a_person(
    staff, booking, client_user, make_card, make_booking
):
    paid, _ = services.payment_create_intent(booking=booking, actor=client_user)
    paid, _ = services.payment_confirm(
        payment=paid, payment_method_id=make_card(), actor=client_user
    )
    stuck, _ = services.payment_create_intent(
        booking=make_booking(days=4), actor=client_user
    )
    Payment.objects.filter(pk=stuck.pk).update(
        updated_at=timezone.now() - dt.timedelta(minutes=16)
    )
    fresh, _ = services.payment_create_intent(
        booking=make_booking(days=5), actor=client_user
    )
    pending = Refund.objects.create(
        payment=paid, amount=2000, currency="CHF", reason="requested_by_customer"
    )
    dead = store_dead_event(unknown_intent_event("evt_dead_one"))

    html = staff.get(URL).content.decode()

    # Today: one paid, two awaiting a card, per status and currency.
    assert "Paid" in html and "Awaiting card" in html
    assert "CHF 200.00" in html  # the two open payments' sum
    # Stuck: the old open payment only, linked to its admin page.
    stuck_link = reverse("admin:payments_payment_change", args=[stuck.pk])
    assert f'href="{stuck_link}"' in html
    assert (
        reverse("admin:payments_payment_change", args=[fresh.pk])
        not in html.split('id="dead-heading"')[0].split('id="stuck-heading"')[1]
    )
    # Dead events: linked, with the replay list.
    assert reverse("admin:payments_webhookevent_change", args=[dead.pk]) in html
    assert (
        f"{reverse('admin:payments_webhookevent_changelist')}?status__exact=dead"
        in html
    )
    assert "EventNotReady: gave up" in html
    # Pending refund: linked to it and its payment.
    assert reverse("admin:payments_refund_change", args=[pending.pk]) in html
    assert "CHF 20.00" in html


def test_staff_dashboard_htmx_refresh_returns_the_panels_only(staff):
    response = staff.get(URL, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="dashboard-panels">')
    assert "<html" not in html
    assert response["Vary"].count("HX-Request") == 1


def test_staff_dashboard_page_has_an_htmx_refresh_with_an_indicator(staff):
    html = staff.get(URL).content.decode()
    assert f'href="{URL}"' in html and f'hx-get="{URL}"' in html
    assert 'hx-indicator="#dashboard-indicator"' in html
    assert 'id="dashboard-indicator" class="htmx-indicator"' in html


def test_admin_index_links_to_the_staff_dashboard(staff):
    html = staff.get(reverse("admin:index")).content.decode()
    assert f'href="{URL}"' in html
    assert "Payments dashboard" in html
    assert 'id="content-main"' in html  # the admin's own app list is still there


def test_staff_dashboard_is_in_the_navigation_of_staff_only(client, admin_user, coach):
    client.force_login(admin_user)
    html = client.get(URL).content.decode()
    assert f'href="{URL}" aria-current="page"' in html
    client.force_login(coach)
    assert f'href="{URL}"' not in client.get("/").content.decode()


def test_staff_dashboard_lists_3ds_waiting_past_the_hold_as_stuck(
    staff, booking, client_user, make_card
):
    from tests.payments.conftest import THREE_D_SECURE

    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    payment, _ = services.payment_confirm(
        payment=payment,
        payment_method_id=make_card(THREE_D_SECURE),
        actor=client_user,
    )
    assert payment.status == Payment.Status.REQUIRES_ACTION
    html = staff.get(URL).content.decode()
    stuck_part = html.split('id="stuck-heading"')[1].split('id="dead-heading"')[0]
    assert payment.stripe_payment_intent_id not in stuck_part  # hold still runs

    # The hold ended a minute ago; the row was touched just now (reconciliation
    # re-reads it every few minutes), so "untouched for 15 min" never holds.
    booking.__class__.objects.filter(pk=booking.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    Payment.objects.filter(pk=payment.pk).update(updated_at=timezone.now())

    html = staff.get(URL).content.decode()
    stuck_part = html.split('id="stuck-heading"')[1].split('id="dead-heading"')[0]
    assert payment.stripe_payment_intent_id in stuck_part
