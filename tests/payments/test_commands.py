"""``manage.py replay_webhook`` and ``manage.py run_periodic``."""

import datetime as dt
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from bookings.models import Booking
from payments import services
from payments.models import Payment, WebhookEvent
from payments.services.events import webhook_event_store
from tests.payments.stripe_side import (
    confirm_at_stripe,
    intent_event,
    store_dead_event,
    unknown_intent_event,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_at_stripe_only(booking, client_user, stripe_client):
    """Paid at Stripe, but we never heard of it: our payment is still open."""
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    confirm_at_stripe(stripe_client, payment)
    return payment


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# --- replay_webhook ------------------------------------------------------------------


def test_replay_webhook_of_a_dead_event_processes_it(
    paid_at_stripe_only, stripe_client
):
    payment = paid_at_stripe_only
    row = store_dead_event(
        intent_event(stripe_client, payment.stripe_payment_intent_id)
    )

    out = run("replay_webhook", row.stripe_event_id)

    assert out == f"{row.stripe_event_id} payment_intent.succeeded: processed\n"
    row.refresh_from_db()
    assert row.status == WebhookEvent.Status.PROCESSED
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.booking.status == Booking.Status.CONFIRMED


def test_replay_webhook_twice_changes_nothing_more(paid_at_stripe_only, stripe_client):
    payment = paid_at_stripe_only
    row = store_dead_event(
        intent_event(stripe_client, payment.stripe_payment_intent_id)
    )
    run("replay_webhook", row.stripe_event_id)
    payment.refresh_from_db()
    version = payment.version

    out = run("replay_webhook", row.stripe_event_id)

    assert out.endswith(": processed\n")
    payment.refresh_from_db()
    assert payment.version == version
    assert payment.ledger.filter(kind="charge").count() == 1


def test_replay_webhook_with_an_unknown_id_fails_and_replays_nothing(
    paid_at_stripe_only, stripe_client
):
    payment = paid_at_stripe_only
    row = store_dead_event(
        intent_event(stripe_client, payment.stripe_payment_intent_id)
    )

    with pytest.raises(CommandError, match="Unknown event id: evt_nope"):
        run("replay_webhook", row.stripe_event_id, "evt_nope")

    row.refresh_from_db()
    assert row.status == WebhookEvent.Status.DEAD
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REQUIRES_PAYMENT_METHOD


def test_replay_webhook_that_fails_again_prints_why_and_exits_non_zero(db):
    row, _ = webhook_event_store(event=unknown_intent_event("evt_still_unknown"))
    out = StringIO()
    with pytest.raises(CommandError, match="Not processed: evt_still_unknown"):
        call_command("replay_webhook", "evt_still_unknown", stdout=out)
    assert "evt_still_unknown payment_intent.succeeded: failed (EventNotReady" in (
        out.getvalue()
    )
    row.refresh_from_db()
    assert row.status == WebhookEvent.Status.FAILED


# --- run_periodic --------------------------------------------------------------------


def test_run_periodic_only_reconcile_heals_a_stuck_payment(paid_at_stripe_only):
    payment = paid_at_stripe_only
    stale = timezone.now() - dt.timedelta(minutes=settings.RECONCILE_AFTER_MINUTES + 1)
    Payment.objects.filter(pk=payment.pk).update(updated_at=stale)

    out = run("run_periodic", "--only", "reconcile_payments")

    assert out == "reconcile_payments: 1\n"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.booking.status == Booking.Status.CONFIRMED
    move = payment.transitions.get(to_status=Payment.Status.SUCCEEDED)
    assert (move.cause, move.actor) == ("reconcile", None)


def test_run_periodic_leaves_a_recently_touched_payment_alone(paid_at_stripe_only):
    out = run("run_periodic", "--only", "reconcile_payments")
    assert out == "reconcile_payments: 0\n"
    paid_at_stripe_only.refresh_from_db()
    assert paid_at_stripe_only.status == Payment.Status.REQUIRES_PAYMENT_METHOD


def test_run_periodic_runs_every_periodic_task_once(db):
    out = run("run_periodic")
    assert out.splitlines() == [
        "expire_unpaid_bookings: 0",
        "reconcile_payments: 0",
        "retry_failed_webhooks: 0",
        "complete_ended_sessions: 0",
        "mature_earnings: 0",
        "issue_platform_fee_invoices: 0",
    ]


def test_run_periodic_accepts_the_full_task_name(db):
    out = run("run_periodic", "--only", "payments.tasks.retry_failed_webhooks")
    assert out == "retry_failed_webhooks: 0\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--only", "send_notification"], "Not a periodic task: send_notification"),
        (["--loop", "--interval", "0"], "--interval must be more than 0"),
    ],
)
def test_run_periodic_refuses_bad_options(db, args, message):
    with pytest.raises(CommandError, match=message):
        run("run_periodic", *args)
