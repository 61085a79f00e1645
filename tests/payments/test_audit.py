"""The audit trail: refund transitions, staff actions, a record of every Stripe
call, webhook tracebacks, and the one timeline on a payment's admin page."""

import io
import re

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse

from bookings.models import Booking
from payments import gateway, services
from payments.exceptions import GatewayError, ProviderUnavailable
from payments.models import (
    Payment,
    Refund,
    RefundTransition,
    StaffAction,
    StripeCall,
    WebhookEvent,
)
from payments.services.events import webhook_event_process, webhook_event_store
from tests import faultproxy
from tests.payments.conftest import THREE_D_SECURE
from tests.payments.stripe_side import (
    confirm_at_stripe,
    intent_event,
    unknown_intent_event,
)
from tests.payments.test_admin import run_action
from tests.payments.test_services import authenticate_3ds
from tests.payments.test_webhooks import event, post

pytestmark = pytest.mark.django_db

fault_proxy = faultproxy.fault_proxy  # the fixture, under the name tests ask for

REASON = Refund.Reason.REQUESTED_BY_CUSTOMER


def moves(refund: Refund) -> list[tuple[str, str, str]]:
    return list(
        RefundTransition.objects.filter(refund=refund)
        .order_by("id")
        .values_list("from_status", "to_status", "cause")
    )


# --- refund transitions -----------------------------------------------------------------


def test_refund_by_the_coach_records_requested_then_succeeded_with_the_coach(
    paid, coach
):
    refund = services.payment_refund(
        payment=paid, amount=1000, reason=REASON, actor=coach
    )
    assert refund.status == Refund.Status.SUCCEEDED
    assert moves(refund) == [
        ("", "pending", "requested"),
        ("pending", "succeeded", "refund"),
    ]
    assert set(refund.transitions.values_list("actor", flat=True)) == {coach.pk}
    # A coach is not staff: no staff action.
    assert not StaffAction.objects.exists()


def test_refund_left_pending_then_failed_records_each_move(
    paid, coach, fault_proxy, settings
):
    settings.STRIPE_MAX_RETRIES = 0
    fault_proxy.fail("http500", path="/v1/refunds", method="POST")
    with pytest.raises(ProviderUnavailable):
        services.payment_refund(payment=paid, amount=100, reason=REASON, actor=coach)
    refund = Refund.objects.get()
    assert moves(refund) == [("", "pending", "requested")]
    services.refund_settle(
        refund=refund,
        stripe_refund_id=None,
        status=Refund.Status.FAILED,
        failure_reason="card expired",
        cause="webhook:refund.failed",
        stripe_event_id="evt_audit_failed",
    )
    assert moves(refund) == [
        ("", "pending", "requested"),
        ("pending", "failed", "webhook:refund.failed"),
    ]
    assert refund.transitions.last().stripe_event_id == "evt_audit_failed"


def test_refund_made_outside_the_platform_is_recorded_with_its_event(
    client, paid, stripe_client, django_capture_on_commit_callbacks
):
    made = stripe_client.v1.refunds.create(
        params={"payment_intent": paid.stripe_payment_intent_id, "amount": 500}
    ).to_dict()
    payload = event("refund.created", {**made, "status": "succeeded"})
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, payload).status_code == 200
    refund = Refund.objects.get(stripe_refund_id=made["id"])
    rows = list(refund.transitions.order_by("id"))
    assert [(r.from_status, r.to_status) for r in rows] == [
        ("", "pending"),
        ("pending", "succeeded"),
    ]
    assert {r.stripe_event_id for r in rows} == {payload["id"]}
    assert {r.actor_id for r in rows} == {None}


def test_refund_transitions_are_append_only(paid, coach):
    refund = services.payment_refund(
        payment=paid, amount=1000, reason=REASON, actor=coach
    )
    row = refund.transitions.first()
    row.cause = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        row.save()
    with pytest.raises(ValueError, match="append-only"):
        row.delete()


# --- staff actions ----------------------------------------------------------------------


def test_admin_refund_records_a_staff_action_with_the_admin(client, admin_user, paid):
    client.force_login(admin_user)
    run_action(client, "admin:payments_payment_changelist", "refund_in_full", paid.pk)
    action = StaffAction.objects.get()
    refund = Refund.objects.get()
    assert (action.action, action.actor, action.payment) == ("refund", admin_user, paid)
    assert action.booking_id == paid.booking_id
    assert action.details["refund"] == str(refund.pk)
    assert action.details["amount"] == paid.amount


def test_admin_resync_records_a_staff_action_even_when_stripe_is_down(
    client, admin_user, booking, client_user, stripe_client, fault_proxy, settings
):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    confirm_at_stripe(stripe_client, payment)
    client.force_login(admin_user)
    run_action(
        client, "admin:payments_payment_changelist", "resync_from_stripe", payment.pk
    )
    action = StaffAction.objects.get()
    assert (action.action, action.actor, action.payment) == (
        "resync",
        admin_user,
        payment,
    )
    assert action.details["statusBefore"] == "requires_payment_method"
    settings.STRIPE_MAX_RETRIES = 0
    fault_proxy.fail("http500", path="/v1/payment_intents/", method="GET")
    with pytest.raises(ProviderUnavailable):
        services.payment_refresh_from_stripe(
            payment=payment, cause="admin_resync", actor=admin_user
        )
    assert StaffAction.objects.filter(action="resync").count() == 2


def test_resync_by_reconciliation_or_the_payer_is_no_staff_action(paid, client_user):
    services.payment_refresh_from_stripe(payment=paid, cause="reconcile")
    services.payment_refresh_from_stripe(
        payment=paid, cause="status_check", actor=client_user
    )
    assert not StaffAction.objects.exists()


def test_replay_records_a_staff_action_from_the_admin_and_the_command(
    client, admin_user, paid, stripe_client
):
    row, _ = webhook_event_store(
        event=intent_event(stripe_client, paid.stripe_payment_intent_id)
    )
    client.force_login(admin_user)
    run_action(client, "admin:payments_webhookevent_changelist", "replay", row.pk)
    call_command("replay_webhook", row.stripe_event_id, stdout=io.StringIO())
    by_admin, by_command = StaffAction.objects.order_by("id")
    assert (by_admin.action, by_admin.actor, by_admin.webhook_event) == (
        "replay",
        admin_user,
        row,
    )
    assert by_admin.payment == paid
    assert by_admin.details["via"] == "admin"
    assert (by_command.actor, by_command.details["via"]) == (None, "command")


def test_cancel_by_an_admin_records_one_cancel_and_its_refund(paid, admin_user):
    booking = Booking.objects.get(pk=paid.booking_id)
    services.booking_cancel_with_refund(booking=booking, actor=admin_user)
    assert list(
        StaffAction.objects.order_by("id").values_list("action", "actor", "payment")
    ) == [("cancel", admin_user.pk, paid.pk), ("refund", admin_user.pk, paid.pk)]


def test_cancel_by_the_client_is_no_staff_action(paid, client_user):
    booking = Booking.objects.get(pk=paid.booking_id)
    services.booking_cancel_with_refund(booking=booking, actor=client_user)
    assert not StaffAction.objects.exists()


# --- Stripe calls -----------------------------------------------------------------------


def test_every_stripe_request_leaves_a_row_linked_to_its_payment(paid, coach):
    refund = services.payment_refund(
        payment=paid, amount=1000, reason=REASON, actor=coach
    )
    calls = list(StripeCall.objects.order_by("id"))
    ops = [c.operation for c in calls]
    assert ops[-1] == "refund.create"
    assert {"payment_intent.create", "payment_intent.confirm"} <= set(ops)
    create = next(c for c in calls if c.operation == "payment_intent.create")
    assert create.payment_id == paid.pk
    assert create.object_id == paid.stripe_payment_intent_id
    assert create.idempotency_key == f"payment:{paid.pk}:create"
    assert create.http_status == 200
    assert create.error_code == ""
    last = calls[-1]
    assert (last.payment_id, last.refund_id) == (paid.pk, refund.pk)
    assert last.object_id == refund.stripe_refund_id
    for call in calls:
        assert call.duration_ms >= 0
        # Ids and keys only: no card number, no secret key.
        text = " ".join(
            str(v) for v in (call.object_id, call.idempotency_key, call.error_code)
        )
        assert "4242" not in text and "sk_" not in text


def test_a_refused_stripe_request_is_recorded_with_status_and_code(db):
    with pytest.raises(GatewayError):
        gateway.payment_intent_retrieve("pi_nobody_knows")
    call = StripeCall.objects.get()
    assert call.operation == "payment_intent.retrieve"
    assert call.object_id == "pi_nobody_knows"
    assert call.http_status == 404
    assert call.error_code
    assert call.payment_id is None


def test_each_retried_attempt_is_a_row_of_its_own(db, fault_proxy, settings):
    settings.STRIPE_MAX_RETRIES = 1
    fault_proxy.fail("http500", path="/v1/payment_intents/", method="GET")
    with pytest.raises(ProviderUnavailable):
        gateway.payment_intent_retrieve("pi_unreachable")
    calls = list(StripeCall.objects.order_by("id"))
    assert [c.attempt for c in calls] == [1, 2]
    assert {c.http_status for c in calls} == {500}


def test_gateway_refuses_to_call_stripe_inside_our_transaction(db):
    # The atomic block pytest-django's TestCase opened does not count; ours does.
    with transaction.atomic(), pytest.raises(RuntimeError, match="transaction"):
        gateway.payment_intent_retrieve("pi_inside")
    assert not StripeCall.objects.exists()


# --- webhook tracebacks -------------------------------------------------------------------


def test_a_failed_webhook_keeps_its_traceback_and_admin_shows_it(client, admin_user):
    row, _ = webhook_event_store(event=unknown_intent_event("evt_audit_unknown"))
    row = webhook_event_process(event_pk=row.pk)
    assert row.status == WebhookEvent.Status.FAILED
    assert row.last_traceback.startswith("Traceback (most recent call last)")
    assert "EventNotReady" in row.last_traceback
    assert "payment_for_stripe_object" in row.last_traceback
    client.force_login(admin_user)
    page = client.get(reverse("admin:payments_webhookevent_change", args=[row.pk]))
    assert "payment_for_stripe_object" in page.content.decode()


# --- the timeline ---------------------------------------------------------------------------


def timeline(client, payment) -> list[tuple[str, str]]:
    """(kind, title) of each timeline row on the payment's admin page."""
    page = client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    section = html[html.index('id="payment-timeline"') :]
    rows = re.findall(
        r'data-kind="([a-z_]+)">\s*<td>.*?</td>\s*<td>.*?</td>\s*<td>(.*?)</td>',
        section,
        re.S,
    )
    return [(kind, title.replace("&gt;", ">")) for kind, title in rows]


def test_admin_payment_page_shows_the_whole_history_in_one_timeline_in_order(
    client,
    admin_user,
    booking,
    client_user,
    coach,
    make_card,
    localstripe_url,
    stripe_client,
    django_capture_on_commit_callbacks,
):
    # 1. create, 2. a 3-D Secure confirm, the challenge passed at Stripe.
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    payment, intent = services.payment_confirm(
        payment=payment, payment_method_id=make_card(THREE_D_SECURE), actor=client_user
    )
    assert payment.status == Payment.Status.REQUIRES_ACTION
    authenticate_3ds(localstripe_url, intent, success=True)
    # 3. Stripe's webhook tells us it succeeded.
    succeeded = intent_event(stripe_client, payment.stripe_payment_intent_id)
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, succeeded.payload).status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    # 4. A partial refund by the coach. 5. A re-sync by staff.
    services.payment_refund_request(
        payment=payment, amount=2500, reason=REASON, actor=coach
    )
    client.force_login(admin_user)
    run_action(
        client, "admin:payments_payment_changelist", "resync_from_stripe", payment.pk
    )

    rows = timeline(client, payment)
    expected = [
        ("transition", "Payment created → requires_payment_method"),
        ("stripe_call", "Stripe payment_intent.create → 200"),
        ("transition", "Payment requires_payment_method → requires_confirmation"),
        ("stripe_call", "Stripe payment_intent.update → 200"),
        ("stripe_call", "Stripe payment_intent.confirm → 200"),
        ("transition", "Payment requires_confirmation → requires_action"),
        ("webhook", "Webhook payment_intent.succeeded (processed)"),
        ("transition", "Payment requires_action → succeeded"),
        ("ledger", "Ledger charge"),
        ("refund", "Refund requested → pending"),
        ("stripe_call", "Stripe refund.create → 200"),
        ("refund", "Refund pending → succeeded"),
        ("ledger", "Ledger refund"),
        ("transition", "Payment succeeded → partially_refunded"),
        ("staff", "Staff: Re-sync from Stripe"),
        ("stripe_call", "Stripe payment_intent.retrieve → 200"),
    ]
    positions = [rows.index(entry) for entry in expected]
    assert positions == sorted(positions), rows
    # Each record once; who did it is named.
    assert rows.count(("webhook", "Webhook payment_intent.succeeded (processed)")) == 1
    html = client.get(
        reverse("admin:payments_payment_change", args=[payment.pk])
    ).content.decode()
    assert coach.email in html and admin_user.email in html


def test_a_failing_recorder_never_fails_the_stripe_call(db, caplog):
    def broken(record: gateway.CallRecord) -> None:
        raise RuntimeError("disk full")

    gateway.register_call_recorder(broken)
    try:
        customer_id = gateway.customer_create(
            email="a@example.com", name="A", user_id="1", idempotency_key="t:broken"
        )
    finally:
        gateway._recorders.remove(broken)
    assert customer_id.startswith("cus_")
    assert "stripe.record_failed operation=customer.create" in caplog.text
    # The app's own recorder ran as well.
    assert StripeCall.objects.get().object_id == customer_id


def test_payment_timeline_reads_in_six_queries(paid, coach, django_assert_num_queries):
    from payments.selectors import payment_timeline

    services.payment_refund(payment=paid, amount=1000, reason=REASON, actor=coach)
    with django_assert_num_queries(6):
        entries = payment_timeline(payment=paid)
    assert [e.at for e in entries] == sorted(e.at for e in entries)
