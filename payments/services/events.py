"""Stripe events: store once, process through the payment services, retry,
dead-letter, replay. Processing is idempotent and order-safe because every
handler ends in a service that locks, checks the state machine and records."""

import logging
import random
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from coaching import correlation
from money.amounts import parse_minor
from payments import gateway
from payments.exceptions import EventNotReady
from payments.gateway import WebhookEventData
from payments.models import CHARGED, Payment, StaffAction, WebhookEvent
from payments.services import _core
from payments.services.audit import staff_action_record
from payments.services.methods import payment_method_forget
from payments.services.refunds import refund_apply_stripe
from payments.services.stripe_state import payment_apply_intent_state

logger = logging.getLogger("payments.webhooks")

_E = WebhookEvent.Status
# A worker may be killed mid-event; its lease then keeps others away until it
# runs out. Bound it by what processing can take (Stripe calls with their
# timeouts, retries and backoff, plus a margin), not minutes more.
_LEASE_MARGIN_SECONDS = 15


def _processing_lease() -> timedelta:
    attempts = settings.STRIPE_MAX_RETRIES + 1
    stripe = settings.STRIPE_TIMEOUT_SECONDS * attempts + 4 * (attempts - 1)
    return timedelta(seconds=stripe + _LEASE_MARGIN_SECONDS)


_RETRY_BASE_SECONDS = 30
_RETRY_CAP_SECONDS = 6 * 3600


# --- Storing -------------------------------------------------------------------------


def webhook_event_store(*, event: WebhookEventData) -> tuple[WebhookEvent, bool]:
    """Store a verified event once. Returns the row and whether it is new.

    A redelivered event (same Stripe id) is returned as stored, untouched.
    """
    created_at = (
        datetime.fromtimestamp(event.created, tz=UTC) if event.created else None
    )
    fields = {
        "stripe_event_id": event.id,
        "type": event.type,
        "payload": event.payload,
        "livemode": event.livemode,
        "stripe_created_at": created_at,
        "status": _E.PENDING if event.type in HANDLERS else _E.IGNORED,
        "processed_at": None if event.type in HANDLERS else timezone.now(),
    }
    try:
        if transaction.get_connection().in_atomic_block:
            # In a caller's transaction a duplicate must not break it: savepoint.
            with transaction.atomic():
                row = WebhookEvent.objects.create(**fields)
        else:
            # Autocommit (the webhook request): the one INSERT is its own
            # transaction, without BEGIN and COMMIT round trips around it.
            row = WebhookEvent.objects.create(**fields)
    except IntegrityError:
        return WebhookEvent.objects.get(stripe_event_id=event.id), False
    logger.info(
        "webhook.received event=%s type=%s object=%s status=%s",
        row.stripe_event_id,
        row.type,
        row.object_id,
        row.status,
    )
    return row, True


# --- Processing ------------------------------------------------------------------------


def webhook_event_process(*, event_pk: int) -> WebhookEvent:
    """Apply one stored event; see ``_process``. Logs under the caller's
    correlation id, or the Stripe event id when there is none (retries)."""
    row = WebhookEvent.objects.get(pk=event_pk)
    current = correlation.get()
    token = correlation.set_id(current if current != "-" else row.stripe_event_id)
    try:
        return _process(row)
    finally:
        correlation.reset(token)


def _process(row: WebhookEvent) -> WebhookEvent:
    """Apply one stored event, at most one worker at a time.

    Success: ``processed``. An object we do not know yet, or any error:
    ``failed`` with a next attempt after exponential backoff with jitter;
    after ``WEBHOOK_MAX_ATTEMPTS`` attempts: ``dead`` (admin can replay).
    Already processed, ignored or dead: returned unchanged.
    """
    now = timezone.now()
    claimed = (
        WebhookEvent.objects.filter(pk=row.pk, status__in=[_E.PENDING, _E.FAILED])
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + _processing_lease(), attempts=F("attempts") + 1)
    )
    if not claimed:
        # Another worker has it, or it is done: show the row as it is now.
        row.refresh_from_db()
        return row
    # The claim is ours, so the row read before it is current but for the
    # claim itself (no second read on the hot path).
    row.attempts += 1
    event = WebhookEventData(
        id=row.stripe_event_id,
        type=row.type,
        created=int(row.stripe_created_at.timestamp()) if row.stripe_created_at else 0,
        livemode=row.livemode,
        payload=row.payload,
    )
    try:
        HANDLERS[row.type](event)
    except Exception as exc:
        return _failed(row, exc)
    done = {
        "status": _E.PROCESSED,
        "processed_at": timezone.now(),
        "locked_until": None,
        "next_attempt_at": None,
        "last_error": "",
    }
    WebhookEvent.objects.filter(pk=row.pk).update(**done)
    for field, value in done.items():
        setattr(row, field, value)
    logger.info(
        "webhook.processed event=%s type=%s object=%s attempts=%d",
        row.stripe_event_id,
        row.type,
        row.object_id,
        row.attempts,
    )
    return row


def _failed(row: WebhookEvent, exc: Exception) -> WebhookEvent:
    dead = row.attempts >= settings.WEBHOOK_MAX_ATTEMPTS
    wait = min(_RETRY_CAP_SECONDS, _RETRY_BASE_SECONDS * 2 ** (row.attempts - 1))
    wait = random.uniform(wait / 2, wait)  # noqa: S311 - jitter, not a secret
    WebhookEvent.objects.filter(pk=row.pk).update(
        status=_E.DEAD if dead else _E.FAILED,
        last_error=f"{type(exc).__name__}: {exc}"[:2000],
        last_traceback=_traceback_text(exc),
        next_attempt_at=None if dead else timezone.now() + timedelta(seconds=wait),
        locked_until=None,
    )
    log = logger.error if dead else logger.warning
    log(
        "webhook.%s event=%s type=%s object=%s attempts=%d error=%s",
        "dead" if dead else "failed",
        row.stripe_event_id,
        row.type,
        row.object_id,
        row.attempts,
        exc,
        exc_info=not isinstance(exc, EventNotReady),
    )
    row.refresh_from_db()
    return row


TRACEBACK_MAX_CHARS = 16_000


def _traceback_text(exc: Exception) -> str:
    """The exception's traceback; when long, its end (where it was raised)."""
    text = "".join(traceback.format_exception(exc))
    if len(text) <= TRACEBACK_MAX_CHARS:
        return text
    return "[...]\n" + text[-(TRACEBACK_MAX_CHARS - 6) :]


def webhook_event_replay(*, event_pk: int, actor) -> WebhookEvent:
    """Process a failed, dead or even processed event again, now.

    Safe at any time: every handler is idempotent. Recorded as a staff action
    of ``actor`` (None: a management command).
    """
    event = WebhookEvent.objects.get(pk=event_pk)
    staff_action_record(
        actor=actor,
        action=StaffAction.Action.REPLAY,
        payment=_payment_of_event(event),
        webhook_event=event,
        details={
            "event": event.stripe_event_id,
            "statusBefore": event.status,
            "via": "admin" if actor is not None else "command",
        },
    )
    WebhookEvent.objects.filter(pk=event_pk).update(
        status=_E.PENDING,
        attempts=0,
        next_attempt_at=None,
        locked_until=None,
    )
    logger.info(
        "webhook.replay event_pk=%s actor=%s", event_pk, getattr(actor, "pk", None)
    )
    row = WebhookEvent.objects.get(pk=event_pk)
    if row.type not in HANDLERS:
        WebhookEvent.objects.filter(pk=event_pk).update(status=_E.IGNORED)
        row.refresh_from_db()
        return row
    return webhook_event_process(event_pk=event_pk)


def _payment_of_event(event: WebhookEvent) -> Payment | None:
    """The payment an event is about, if it is about one we know."""
    try:
        return _core.payment_for_stripe_object(
            (event.payload.get("data") or {}).get("object") or {}
        )
    except (EventNotReady, AttributeError, TypeError):
        return None


def webhook_events_process_due(*, now: datetime | None = None) -> int:
    """Attempt every event that is due; return how many this call attempted.

    An event another worker holds (a live lease) is neither due nor counted.
    """
    attempted = 0
    for event_pk in webhook_events_due(now=now):
        before = (
            WebhookEvent.objects.filter(pk=event_pk)
            .values_list("attempts", flat=True)
            .first()
        )
        attempted += webhook_event_process(event_pk=event_pk).attempts != before
    return attempted


def webhook_events_due(*, now: datetime | None = None) -> list[int]:
    """Ids of events waiting for (another) attempt."""
    now = now or timezone.now()
    return list(
        WebhookEvent.objects.filter(
            Q(status=_E.FAILED, next_attempt_at__lte=now)
            # A pending event whose processing never started (a lost task).
            | Q(status=_E.PENDING, received_at__lt=now - timedelta(minutes=1))
            # One whose worker died mid-event: due as soon as its lease ran out.
            | Q(status=_E.PENDING, locked_until__lt=now)
        )
        .exclude(locked_until__gt=now)
        .order_by("received_at")
        .values_list("pk", flat=True)[:500]
    )


# --- Handlers ----------------------------------------------------------------------------


def _on_intent(event: WebhookEventData) -> None:
    payment = _core.payment_for_stripe_object(event.object)
    try:
        # Amounts in the event go through the one bounded parser first (a
        # float or a 400-digit number is no amount of Stripe's).
        parse_minor(event.object.get("amount"))
        if event.object.get("amount_received") is not None:
            parse_minor(event.object["amount_received"])
        intent = gateway.intent_from_payload(event.object)
        doubt = _intent_doubt(payment, intent, event.object)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        intent, doubt = None, f"unreadable: {exc}"[:200]
    if doubt:
        # A signed event is still only a message: when it disagrees with what
        # we asked Stripe for, Stripe's own copy of the intent decides.
        logger.warning(
            "webhook.intent_doubted event=%s payment=%s reason=%s",
            event.id,
            payment.pk,
            doubt,
        )
        intent = gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
    payment_apply_intent_state(
        payment=payment,
        intent=intent,
        cause=f"webhook:{event.type}",
        stripe_event_id=event.id,
    )


def _intent_doubt(payment: Payment, intent: gateway.IntentResult, obj: dict) -> str:
    """Why an intent delivered in an event is not what we expect, or ``""``.

    Our payment fixes the intent id, amount, currency and the booking in the
    metadata; a charged intent has received exactly its amount (we capture
    automatically and in full).
    """
    metadata = obj.get("metadata")
    booking_id = metadata.get("booking_id") if isinstance(metadata, dict) else None
    if intent.id != payment.stripe_payment_intent_id:
        return "intent id"
    if intent.amount != payment.amount:
        return "amount"
    if intent.currency.upper() != payment.currency.upper():
        return "currency"
    if booking_id != str(payment.booking_id):
        return "booking id"
    if intent.status == "succeeded" and intent.amount_received != payment.amount:
        return "amount received"
    return ""


def _on_refund(event: WebhookEventData) -> None:
    # A refund's amount goes through the bounded parser before any record is
    # made of it; a refund with no integer amount in range is no refund of
    # Stripe's (the event fails, is retried and dead-lettered for a person).
    parse_minor(event.object.get("amount"))
    refund_apply_stripe(refund=event.object, stripe_event_id=event.id, cause=event.type)


def _on_charge_refunded(event: WebhookEventData) -> None:
    charge = event.object
    payment = _core.payment_for_stripe_object(charge)
    refunds = (charge.get("refunds") or {}).get("data")
    if refunds is None:
        # Newer API versions leave the list out of the charge: ask for it.
        refunds = gateway.refunds_for_intent(payment.stripe_payment_intent_id)
    for refund in refunds:
        parse_minor(refund.get("amount"))
        refund_apply_stripe(refund=refund, stripe_event_id=event.id, cause=event.type)


def _on_dispute(event: WebhookEventData) -> None:
    dispute = event.object
    payment = _core.payment_for_stripe_object(dispute)
    if payment.status not in CHARGED:
        raise EventNotReady(f"Payment {payment.pk} is not charged yet.")
    with transaction.atomic():
        _booking, payment = _core.lock_booking_and_payment(
            payment.pk, booking_id=payment.booking_id
        )
        if event.type == "charge.dispute.created":
            if payment.status != Payment.Status.DISPUTED:
                _core.transition(
                    payment,
                    Payment.Status.DISPUTED,
                    cause=f"webhook:{event.type}",
                    stripe_event_id=event.id,
                )
            return
        if payment.status != Payment.Status.DISPUTED:
            return  # closed before we saw it open, or already resolved
        if dispute.get("status") == "won":
            back = (
                Payment.Status.PARTIALLY_REFUNDED
                if payment.amount_refunded
                else Payment.Status.SUCCEEDED
            )
            _core.transition(
                payment, back, cause="dispute_won", stripe_event_id=event.id
            )
        else:
            # Lost: the card network took the money back. The payment stays
            # disputed (final for us); the admin dashboard lists it.
            payment.last_error_code = f"dispute_{dispute.get('status', 'lost')}"[:64]
            payment.save(update_fields=["last_error_code", "updated_at"])
            if dispute.get("status") == "lost":
                _core.ledger_record_lost_dispute(
                    payment,
                    amount=min(
                        int(dispute.get("amount") or payment.amount_refundable),
                        payment.amount_refundable,
                    ),
                    fee=_dispute_fee(dispute),
                    stripe_event_id=event.id,
                )


def _dispute_fee(dispute: dict) -> int:
    """Stripe's fee for a dispute: from its balance transactions when the event
    carries them, else the configured ``STRIPE_DISPUTE_FEE`` (minor units)."""
    fees = [
        int(tx.get("fee") or 0)
        for tx in dispute.get("balance_transactions") or []
        if isinstance(tx, dict)
    ]
    return sum(fees) if fees else settings.STRIPE_DISPUTE_FEE


def _on_payment_method_detached(event: WebhookEventData) -> None:
    payment_method_forget(payment_method_id=event.object.get("id", ""))


def _no_op(event: WebhookEventData) -> None:
    """Types we subscribe to but whose effect our own API already applied."""


HANDLERS: dict[str, Callable[[WebhookEventData], None]] = {
    "payment_intent.succeeded": _on_intent,
    "payment_intent.payment_failed": _on_intent,
    "payment_intent.processing": _on_intent,
    "payment_intent.requires_action": _on_intent,
    "payment_intent.canceled": _on_intent,
    "charge.refunded": _on_charge_refunded,
    "refund.created": _on_refund,
    "refund.updated": _on_refund,
    "refund.failed": _on_refund,
    "charge.refund.updated": _on_refund,
    "charge.dispute.created": _on_dispute,
    "charge.dispute.closed": _on_dispute,
    "payment_method.attached": _no_op,
    "payment_method.detached": _on_payment_method_detached,
    "setup_intent.succeeded": _no_op,
}
