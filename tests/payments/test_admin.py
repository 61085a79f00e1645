"""Payments admin: read-only records, money actions through the services."""

import pytest
from django.urls import reverse

from bookings.models import Booking
from payments import services
from payments.models import Payment, PaymentTransition, Refund, WebhookEvent
from payments.services.events import webhook_event_store
from tests import faultproxy
from tests.payments.stripe_side import (
    confirm_at_stripe,
    intent_event,
    store_dead_event,
    unknown_intent_event,
)

pytestmark = pytest.mark.django_db


CHANGELIST = "admin:payments_payment_changelist"


@pytest.fixture
def paid_at_stripe_only(booking, client_user, stripe_client):
    """Paid at Stripe, but we never heard of it: our payment is still open."""
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    confirm_at_stripe(stripe_client, payment)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REQUIRES_PAYMENT_METHOD
    return payment


def run_action(client, url_name: str, action: str, *pks) -> list[str]:
    """Run an admin action; return the messages the next page shows."""
    response = client.post(
        reverse(url_name),
        {"action": action, "_selected_action": [str(pk) for pk in pks]},
        follow=True,
    )
    assert response.redirect_chain == [(reverse(url_name), 302)]
    return [str(message) for message in response.context["messages"]]


# --- pages ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        "payment",
        "refund",
        "webhookevent",
        "notification",
        "stripecustomer",
        "savedpaymentmethod",
    ],
)
def test_admin_changelists_render_and_nothing_can_be_added(staff, paid, model):
    response = staff.get(reverse(f"admin:payments_{model}_changelist"))
    assert response.status_code == 200
    assert staff.get(reverse(f"admin:payments_{model}_add")).status_code == 403


def test_admin_payment_change_page_is_read_only_with_its_history(staff, paid):
    url = reverse("admin:payments_payment_change", args=[paid.pk])
    response = staff.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="_save"' not in body
    assert 'name="amount"' not in body  # shown, never an input
    assert "requires_confirmation" in body and "coach_earning" in body
    assert staff.post(url, {"amount": 1}).status_code == 403
    delete = reverse("admin:payments_payment_delete", args=[paid.pk])
    assert staff.post(delete, {"post": "yes"}).status_code == 403
    paid.refresh_from_db()
    assert paid.amount == 10000


@pytest.mark.parametrize(
    "term",
    [
        lambda p: p.stripe_payment_intent_id,
        lambda p: p.payer.email,
        lambda p: p.recipient.email,
        lambda p: str(p.booking_id),
    ],
    ids=["intent", "payer", "coach", "booking"],
)
def test_admin_payment_search_finds_the_payment(staff, paid, other_client, term):
    response = staff.get(reverse(CHANGELIST), {"q": term(paid)})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [paid]
    response = staff.get(reverse(CHANGELIST), {"q": "nobody@example.com"})
    assert list(response.context["cl"].result_list) == []


def test_admin_payment_filters_by_status_and_currency(staff, paid):
    response = staff.get(
        reverse(CHANGELIST), {"status": "succeeded", "currency": "CHF"}
    )
    assert list(response.context["cl"].result_list) == [paid]
    response = staff.get(reverse(CHANGELIST), {"status": "refunded"})
    assert list(response.context["cl"].result_list) == []


def test_admin_webhook_event_page_shows_the_payload_pretty_printed(
    staff, paid_at_stripe_only, stripe_client
):
    row = store_dead_event(
        intent_event(stripe_client, paid_at_stripe_only.stripe_payment_intent_id)
    )
    response = staff.get(reverse("admin:payments_webhookevent_change", args=[row.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<pre" in body
    assert "\n  &quot;type&quot;: &quot;payment_intent.succeeded&quot;" in body
    assert 'name="_save"' not in body
    listing = staff.get(
        reverse("admin:payments_webhookevent_changelist"),
        {"status__exact": "dead", "q": row.stripe_event_id},
    )
    assert list(listing.context["cl"].result_list) == [row]


# --- who may ---------------------------------------------------------------------------


def test_admin_is_closed_to_non_staff(client, client_user, coach, paid):
    for user in (client_user, coach):
        client.force_login(user)
        response = client.get(reverse(CHANGELIST))
        assert response.status_code == 302
        assert reverse("admin:login") in response["Location"]
        response = client.post(
            reverse(CHANGELIST),
            {"action": "refund_in_full", "_selected_action": [str(paid.pk)]},
        )
        assert response.status_code == 302
    assert not Refund.objects.exists()
    paid.refresh_from_db()
    assert paid.status == Payment.Status.SUCCEEDED


# --- actions ---------------------------------------------------------------------------


def test_admin_refund_in_full_refunds_through_the_service_as_the_admin(
    staff, paid, admin_user, stripe_client
):
    shown = run_action(staff, CHANGELIST, "refund_in_full", paid.pk)

    paid.refresh_from_db()
    assert paid.status == Payment.Status.REFUNDED
    assert paid.amount_refunded == 10000
    refund = Refund.objects.get()
    assert refund.requested_by == admin_user
    assert refund.reason == Refund.Reason.REQUESTED_BY_CUSTOMER
    assert admin_user.email in refund.note
    move = paid.transitions.get(to_status=Payment.Status.REFUNDED)
    assert move.actor == admin_user
    assert paid.booking.status == Booking.Status.REFUNDED
    at_stripe = stripe_client.v1.refunds.retrieve(refund.stripe_refund_id)
    assert at_stripe.amount == 10000
    assert shown == [
        f"{paid.stripe_payment_intent_id} ({paid.payer}): refund of CHF 100.00 succeeded."
    ]


def test_admin_refund_in_full_reports_each_payment_it_could_not_refund(
    staff, paid, make_booking, client_user
):
    unpaid, _ = services.payment_create_intent(
        booking=make_booking(hour=14), actor=client_user
    )
    shown = run_action(staff, CHANGELIST, "refund_in_full", paid.pk, unpaid.pk)

    assert len(shown) == 2
    assert shown[0].endswith("refund of CHF 100.00 succeeded.")
    assert shown[1].startswith(f"{unpaid.stripe_payment_intent_id} (")
    assert "not refunded: This payment cannot be refunded" in shown[1]
    assert Refund.objects.count() == 1
    unpaid.refresh_from_db()
    assert unpaid.status == Payment.Status.REQUIRES_PAYMENT_METHOD


def test_admin_refund_in_full_twice_refunds_once(staff, paid):
    run_action(staff, CHANGELIST, "refund_in_full", paid.pk)
    shown = run_action(staff, CHANGELIST, "refund_in_full", paid.pk)
    assert "not refunded" in shown[0]
    assert Refund.objects.count() == 1


def test_admin_resync_applies_what_stripe_holds_as_the_admin(
    staff, paid_at_stripe_only, admin_user
):
    payment = paid_at_stripe_only
    shown = run_action(staff, CHANGELIST, "resync_from_stripe", payment.pk)

    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.amount_received == 10000
    assert payment.booking.status == Booking.Status.CONFIRMED
    move = payment.transitions.get(to_status=Payment.Status.SUCCEEDED)
    assert (move.actor, move.cause) == (admin_user, "admin_resync")
    assert shown == [
        f"{payment.stripe_payment_intent_id} ({payment.payer}): "
        "requires_payment_method -> succeeded."
    ]


def test_admin_resync_of_an_up_to_date_payment_changes_nothing(staff, paid):
    before = PaymentTransition.objects.count()
    shown = run_action(staff, CHANGELIST, "resync_from_stripe", paid.pk)
    assert shown[0].endswith("unchanged (succeeded).")
    assert PaymentTransition.objects.count() == before


def test_admin_replay_of_a_dead_event_processes_it(
    staff, paid_at_stripe_only, stripe_client
):
    payment = paid_at_stripe_only
    row = store_dead_event(
        intent_event(stripe_client, payment.stripe_payment_intent_id)
    )

    shown = run_action(
        staff, "admin:payments_webhookevent_changelist", "replay", row.pk
    )

    row.refresh_from_db()
    assert row.status == WebhookEvent.Status.PROCESSED
    assert row.last_error == "" and row.attempts == 1
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.booking.status == Booking.Status.CONFIRMED
    move = payment.transitions.get(to_status=Payment.Status.SUCCEEDED)
    assert move.stripe_event_id == row.stripe_event_id
    assert shown == [f"{row.stripe_event_id}: processed."]


def test_admin_replay_of_an_event_that_fails_again_says_why(staff):
    row, _ = webhook_event_store(event=unknown_intent_event("evt_unknown_intent"))
    shown = run_action(
        staff, "admin:payments_webhookevent_changelist", "replay", row.pk
    )
    row.refresh_from_db()
    assert row.status == WebhookEvent.Status.FAILED
    assert shown == [f"evt_unknown_intent: failed: {row.last_error}"]
    assert row.last_error.startswith("EventNotReady")


fault_proxy = faultproxy.fault_proxy  # the fixture, under the name tests ask for


def test_admin_refund_in_full_with_stripe_silent_says_it_is_pending(
    staff, paid, fault_proxy, settings
):
    settings.STRIPE_MAX_RETRIES = 0
    fault_proxy.fail("http500", path="/v1/refunds", method="POST")

    shown = run_action(staff, CHANGELIST, "refund_in_full", paid.pk)

    assert shown == [
        f"{paid.stripe_payment_intent_id} ({paid.payer}): Stripe did not answer. "
        "The refund is pending and its amount reserved until its outcome is known."
    ]
    assert Refund.objects.get().status == Refund.Status.PENDING
    paid.refresh_from_db()
    assert paid.status == Payment.Status.SUCCEEDED
