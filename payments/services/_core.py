"""The private core every payment service is built on: locks, the one
transition function, leases around Stripe calls, and the ledger."""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking
from money.pricing import round_half_up_div
from payments import gateway, realtime
from payments.exceptions import EventNotReady, InvalidTransition
from payments.models import (
    ALLOWED,
    LedgerEntry,
    Notification,
    Payment,
    PaymentTransition,
    Refund,
)
from payments.services import balances, notifications

logger = logging.getLogger("payments")

_S = Payment.Status
_N = Notification.Kind
_NOTIFY = {
    _S.SUCCEEDED: _N.PAYMENT_SUCCEEDED,
    _S.FAILED: _N.PAYMENT_FAILED,
    _S.PARTIALLY_REFUNDED: _N.REFUNDED,
    _S.REFUNDED: _N.REFUNDED,
    _S.DISPUTED: _N.DISPUTE_OPENED,
}
_ONCE_PER_PAYMENT = {_N.PAYMENT_SUCCEEDED, _N.PAYMENT_FAILED}

_WAIT_POLL_SECONDS = 0.1
# Covers the database writes a lease holder makes between its Stripe calls.
_LEASE_MARGIN_SECONDS = 5


def lock_booking_and_payment(payment_id, *, booking_id=None) -> tuple[Booking, Payment]:
    """Lock a payment's booking, then the payment (the one lock order).

    ``booking_id``: the payment's booking when the caller has already read the
    payment (it never changes), which saves a query. Must be called inside
    ``transaction.atomic``.
    """
    if booking_id is None:
        booking_id = Payment.objects.values_list("booking_id", flat=True).get(
            pk=payment_id
        )
    booking = Booking.objects.select_for_update().get(pk=booking_id)
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    return booking, payment


def transition(
    payment: Payment,
    to: str,
    *,
    cause: str,
    actor=None,
    stripe_event_id: str = "",
    fields: tuple[str, ...] = (),
    record_repeat: bool = False,
    touch_booking: bool = True,
) -> bool:
    """Move a locked payment to ``to``; record and announce it after commit.

    Returns False (and writes nothing but ``fields``) when the payment is
    already there, unless ``record_repeat`` (a second partial refund is a new
    version of the same status). Raises InvalidTransition for a move the state machine
    forbids. The caller holds the row lock inside ``transaction.atomic``.
    ``touch_booking=False``: the caller moves the booking in the same
    transaction, which bumps its version anyway.
    """
    if payment.status == to and not (record_repeat and to in ALLOWED[to]):
        if fields:
            payment.save(update_fields=[*fields, "updated_at"])
        return False
    if to != payment.status and to not in ALLOWED[payment.status]:
        raise InvalidTransition(
            f"A payment cannot go from {payment.status} to {to}.",
            status=payment.status,
        )
    from_status = payment.status
    payment.status = to
    payment.version += 1
    payment.save(update_fields=["status", "version", "updated_at", *fields])
    PaymentTransition.objects.create(
        payment=payment,
        from_status=from_status,
        to_status=to,
        version=payment.version,
        cause=cause,
        actor=actor,
        stripe_event_id=stripe_event_id,
    )
    if touch_booking:
        _touch_booking(payment)
    payment_id, booking_id, version = payment.pk, payment.booking_id, payment.version
    intent_id = payment.stripe_payment_intent_id or "-"
    transaction.on_commit(
        lambda: logger.info(
            "payment.transition payment=%s booking=%s intent=%s from=%s to=%s version=%d "
            "cause=%s event=%s",
            payment_id,
            booking_id,
            intent_id,
            from_status,
            to,
            version,
            cause,
            stripe_event_id or "-",
        )
    )
    realtime.broadcast_booking_on_commit(booking_id)
    kind = _NOTIFY.get(to)
    if kind:
        key = (
            f"{payment_id}" if kind in _ONCE_PER_PAYMENT else f"{payment_id}:{version}"
        )
        # What was refunded in all at this version, for the text's amount.
        refunded = payment.amount_refunded if kind == _N.REFUNDED else None
        # One task per change writes both recipients' notifications (and
        # queues their emails), off the path that applies the change.
        transaction.on_commit(
            lambda: notifications.notification_enqueue(
                booking_id=booking_id, kind=kind, dedupe_key=key, refunded=refunded
            ),
            robust=True,
        )
    return True


def record_creation(payment: Payment, *, actor) -> None:
    PaymentTransition.objects.create(
        payment=payment,
        from_status="",
        to_status=payment.status,
        version=payment.version,
        cause="created",
        actor=actor,
    )
    _touch_booking(payment)
    booking_id = payment.booking_id
    realtime.broadcast_booking_on_commit(booking_id)


def announce(payment: Payment) -> None:
    """Tell live clients about a change that is not a status move (a refund
    reserved or failed): bump the booking's version, broadcast on commit."""
    _touch_booking(payment)
    booking_id = payment.booking_id
    realtime.broadcast_booking_on_commit(booking_id)


def _touch_booking(payment: Payment) -> None:
    """Bump the booking's version (bookings owns it): live clients order
    messages by it. The caller already holds the booking's lock."""
    booking_services.booking_touch(booking_id=payment.booking_id)


# --- Leases: one caller of Stripe per payment action -----------------------------


def lease_seconds() -> float:
    """How long a lease lasts: what two gateway calls may take, with a margin.

    One call is at most ``STRIPE_MAX_RETRIES + 1`` attempts of
    ``STRIPE_TIMEOUT_SECONDS`` plus the backoff between them. The holder
    renews its lease before each step that talks to Stripe (``renew_lease``),
    and no step makes more than two calls, so a live holder never loses it;
    a dead holder's lease (its process was killed) blocks the payer only for
    about two calls' worth of time, after which a waiter finishes the job.
    """
    attempts = settings.STRIPE_MAX_RETRIES + 1
    call = attempts * settings.STRIPE_TIMEOUT_SECONDS + gateway.backoff_bound(attempts)
    return 2 * call + _LEASE_MARGIN_SECONDS


def renew_lease(payment: Payment, field: str) -> None:
    """Push the held ``field`` lease one ``lease_seconds()`` from now: the
    holder calls it before each step that talks to Stripe."""
    until = timezone.now() + timedelta(seconds=lease_seconds())
    with transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(**{field: until})


def lease_lapsed(payment: Payment, field: str) -> bool:
    """Whether nobody holds ``field`` (as of the payment's last read)."""
    lease = getattr(payment, field)
    return lease is None or lease < timezone.now()


def claim_lease(payment: Payment, field: str, **still) -> bool:
    """Take the payment's ``field`` lease if it is free or lapsed. Atomic.

    ``still`` are filters the payment must still match, checked in the same
    UPDATE: another caller may have finished the guarded work (and released
    the lease) since this one read the payment.
    """
    now = timezone.now()
    free = Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": now})
    with transaction.atomic():
        taken = (
            Payment.objects.filter(pk=payment.pk, **still)
            .filter(free)
            .update(**{field: now + timedelta(seconds=lease_seconds())})
        )
    return taken == 1


def release_lease(payment: Payment, field: str) -> None:
    with transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(**{field: None})


def wait_for(payment: Payment, done, *, field: str) -> Payment:
    """Poll until ``done(payment)`` or the other holder's lease lapses."""
    deadline = time.monotonic() + lease_seconds()
    while time.monotonic() < deadline:
        payment.refresh_from_db()
        if done(payment):
            return payment
        if lease_lapsed(payment, field):
            return payment
        time.sleep(_WAIT_POLL_SECONDS)
    return payment


# --- Ledger -----------------------------------------------------------------------


def ledger_record_charge(payment: Payment) -> None:
    """Book the charge and its split. Called once, on the move to succeeded."""
    K = LedgerEntry.Kind
    received = payment.amount_received
    # A partial capture would be split in proportion; we always capture in full.
    fee = (
        payment.platform_fee_amount
        if received == payment.amount
        else (round_half_up_div(received * payment.platform_fee_amount, payment.amount))
    )
    vat = (
        payment.vat_amount
        if received == payment.amount
        else (round_half_up_div(received * payment.vat_amount, payment.amount))
    )
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                payment=payment,
                coach_id=payment.recipient_id,
                kind=kind,
                amount=amount,
                currency=payment.currency,
            )
            for kind, amount in (
                (K.CHARGE, received),
                (K.PLATFORM_FEE, fee),
                (K.COACH_EARNING, received - fee),
                (K.VAT, vat),
            )
        ]
    )


def ledger_record_refund(payment: Payment, refund: Refund) -> None:
    """Book a refund and reverse fee, earning and VAT per the refund-fee rule.

    The split is ``balances.refund_split`` (the same the confirmation pages
    show). Called with ``amount_refunded`` already including this refund, so
    the split is taken as of before it. A refund of a matured earning also
    books an ``adjustment`` against the coach's available balance.
    """
    K = LedgerEntry.Kind
    before = Payment(
        pk=payment.pk,
        booking=payment.booking,
        amount=payment.amount,
        amount_received=payment.amount_received,
        amount_refunded=payment.amount_refunded - refund.amount,
        platform_fee_amount=payment.platform_fee_amount,
        vat_amount=payment.vat_amount,
        currency=payment.currency,
    )
    split = balances.refund_split(payment=before, amount=refund.amount)
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                payment=payment,
                refund=refund,
                coach_id=payment.recipient_id,
                kind=kind,
                amount=amount,
                currency=payment.currency,
            )
            for kind, amount in (
                (K.REFUND, -refund.amount),
                (K.PLATFORM_FEE_REVERSAL, -split.platform_fee),
                (K.COACH_EARNING_REVERSAL, -split.coach),
                (K.VAT_REVERSAL, -split.vat),
            )
        ]
    )
    balances.ledger_record_after_maturity(
        payment, coach_part=split.coach, refund=refund
    )


def ledger_record_lost_dispute(
    payment: Payment, *, amount: int, fee: int, stripe_event_id: str
) -> bool:
    """Book a lost dispute: the chargeback and Stripe's dispute fee leave the
    platform's Stripe balance, shared between platform and coach per the
    booking's refund-fee rule (``balances.dispute_split``); VAT on the amount
    taken back is reversed in proportion. Once per payment (the ledger's
    unique constraint); returns whether this call booked it. The caller holds
    the payment's lock.
    """
    K = LedgerEntry.Kind
    if payment.ledger.filter(kind=K.CHARGEBACK).exists():
        return False
    platform, coach = balances.dispute_split(payment=payment, amount=amount, fee=fee)
    # The platform's part of the fee alone, for the entry of each share.
    fee_platform, fee_coach = balances.dispute_split(payment=payment, amount=0, fee=fee)
    totals = dict(
        payment.ledger.values_list("kind")
        .annotate(total=Sum("amount"))
        .values_list("kind", "total")
    )
    vat_left = totals.get(K.VAT, 0) + totals.get(K.VAT_REVERSAL, 0)
    received = payment.amount_received or payment.amount
    vat_back = min(vat_left, round_half_up_div(amount * payment.vat_amount, received))
    rows = [
        (K.CHARGEBACK, -amount),
        (K.DISPUTE_FEE, -fee),
        (K.PLATFORM_CHARGEBACK, -(platform - fee_platform)),
        (K.COACH_CHARGEBACK, -(coach - fee_coach)),
        (K.PLATFORM_DISPUTE_FEE, -fee_platform),
        (K.COACH_DISPUTE_FEE, -fee_coach),
    ]
    if vat_back:
        rows.append((K.VAT_REVERSAL, -vat_back))
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                payment=payment,
                coach_id=payment.recipient_id,
                kind=kind,
                amount=value,
                currency=payment.currency,
            )
            for kind, value in rows
        ]
    )
    balances.ledger_record_after_maturity(payment, coach_part=coach)
    logger.info(
        "ledger.dispute_lost payment=%s amount=%d fee=%d platform=%d coach=%d event=%s",
        payment.pk,
        amount,
        fee,
        platform,
        coach,
        stripe_event_id or "-",
    )
    return True


def payment_for_stripe_object(obj: dict) -> Payment:
    """The payment a Stripe intent, charge, refund or dispute belongs to.

    Raises EventNotReady when we do not know it (yet): the event is retried.
    """
    intent_id = (
        obj.get("id")
        if obj.get("object") == "payment_intent"
        else obj.get("payment_intent")
    )
    intent_id = intent_id if isinstance(intent_id, str) else (intent_id or {}).get("id")
    payment = Payment.objects.filter(stripe_payment_intent_id=intent_id).first()
    if payment is None and obj.get("object") == "payment_intent":
        # Stripe can be faster than our commit of the intent id.
        payment_id = (obj.get("metadata") or {}).get("payment_id")
        if payment_id and Payment.objects.filter(pk=payment_id).exists():
            raise EventNotReady(
                f"Payment {payment_id} has not stored intent {intent_id} yet."
            )
    if payment is None:
        raise EventNotReady(f"No payment for intent {intent_id} yet.")
    return payment


def cancel_intent_on_commit(payment: Payment) -> None:
    intent_id, payment_id = payment.stripe_payment_intent_id, payment.pk
    if not intent_id:
        return

    def cancel() -> None:
        try:
            gateway.payment_intent_cancel(
                intent_id=intent_id, idempotency_key=f"payment:{payment_id}:cancel"
            )
        except Exception:
            # Harmless if it stays open: nothing will confirm it again.
            logger.warning(
                "payment.cancel_failed payment=%s intent=%s", payment_id, intent_id
            )

    transaction.on_commit(cancel, robust=True)
