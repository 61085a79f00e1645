"""Stripe's truth about an intent becomes ours: apply, refresh, cancel."""

import logging

from django.db import transaction

from bookings import services as booking_services
from bookings.models import Booking
from payments import gateway
from payments.exceptions import (
    GatewayError,
    PaymentError,
    ProviderUnavailable,
)
from payments.gateway import IntentResult
from payments.models import ALLOWED, PRE_CHARGE, Payment, StaffAction
from payments.services import _core
from payments.services.audit import is_staff_actor, staff_action_record
from payments.services.refunds import payment_refund

logger = logging.getLogger("payments")
_S = Payment.Status
# Stripe's intent statuses onto ours. requires_capture never happens: we
# capture automatically.
FROM_STRIPE = {
    "requires_payment_method": _S.REQUIRES_PAYMENT_METHOD,
    "requires_confirmation": _S.REQUIRES_CONFIRMATION,
    "requires_action": _S.REQUIRES_ACTION,
    "processing": _S.PROCESSING,
    "requires_capture": _S.PROCESSING,
    "succeeded": _S.SUCCEEDED,
    "canceled": _S.CANCELED,
}


# --- Apply Stripe's truth ---------------------------------------------------------


def payment_apply_intent_state(
    *,
    payment: Payment,
    intent: IntentResult,
    cause: str,
    actor=None,
    stripe_event_id: str = "",
) -> Payment:
    """Map a Stripe PaymentIntent onto our payment, ledger and booking.

    The single place where Stripe's view becomes ours: used by confirm, status
    refresh, webhooks and reconciliation. Idempotent (the same intent twice
    changes nothing) and order-safe (a move the state machine does not allow,
    such as ``processing`` after ``succeeded``, is logged and ignored).
    """
    with transaction.atomic():
        booking, payment = _core.lock_booking_and_payment(
            payment.pk, booking_id=payment.booking_id
        )
        if (
            intent.id != payment.stripe_payment_intent_id
            or intent.amount != payment.amount
        ):
            logger.error(
                "payment.intent_mismatch payment=%s intent=%s amount=%d expected=%d",
                payment.pk,
                intent.id,
                intent.amount,
                payment.amount,
            )
            return payment
        target = FROM_STRIPE.get(intent.status)
        fields: list[str] = []
        if intent.card_last4 and not payment.card_last4:
            payment.card_brand, payment.card_last4 = (
                intent.card_brand,
                intent.card_last4,
            )
            fields += ["card_brand", "card_last4"]
        if (
            target == _S.REQUIRES_PAYMENT_METHOD
            and intent.last_error_code
            and payment.status in PRE_CHARGE
        ):
            # Authentication failed or the card was declined asynchronously.
            target = _S.FAILED
            payment.last_error_code = intent.last_error_code[:64]
            payment.last_error_message = intent.last_error_message[:500]
            fields += ["last_error_code", "last_error_message"]
        if target is None or (
            target != payment.status and target not in ALLOWED[payment.status]
        ):
            logger.info(
                "payment.transition_ignored payment=%s from=%s to=%s cause=%s event=%s",
                payment.pk,
                payment.status,
                intent.status,
                cause,
                stripe_event_id or "-",
            )
            if fields:
                payment.save(update_fields=[*fields, "updated_at"])
            return payment

        if target == _S.SUCCEEDED and payment.status != _S.SUCCEEDED:
            payment.amount_received = intent.amount_received or payment.amount
            fields.append("amount_received")
        # Confirming the booking bumps its version anyway: one UPDATE, not two.
        confirms = (
            target == _S.SUCCEEDED and booking.status == Booking.Status.PENDING_PAYMENT
        )
        changed = _core.transition(
            payment,
            target,
            cause=cause,
            actor=actor,
            stripe_event_id=stripe_event_id,
            fields=tuple(fields),
            touch_booking=not confirms,
        )
        if changed and target == _S.SUCCEEDED:
            _core.ledger_record_charge(payment)
            _settle_booking(booking, payment, actor=actor, cause=cause)
        if changed and target == _S.FAILED:
            _core.cancel_intent_on_commit(payment)
    return payment


def intent_as_recorded(payment: Payment) -> IntentResult:
    """A charged payment's intent as our database recorded it (from the
    webhook or an earlier read), for an answer when Stripe cannot be asked."""
    return IntentResult(
        id=payment.stripe_payment_intent_id,
        status="processing" if payment.status == _S.PROCESSING else "succeeded",
        amount=payment.amount,
        amount_received=payment.amount_received,
        currency=payment.currency.lower(),
        client_secret="",
        customer_id=payment.stripe_customer_id or None,
        payment_method_id=payment.stripe_payment_method_id or None,
        card_brand=payment.card_brand,
        card_last4=payment.card_last4,
    )


def _settle_booking(booking: Booking, payment: Payment, *, actor, cause: str) -> None:
    if booking.status == Booking.Status.PENDING_PAYMENT:
        booking_services.booking_confirm(
            booking=booking, actor=actor, cause=f"payment_{cause}", locked=True
        )
        return
    # Paid after the hold was released or the booking cancelled: the slot is no
    # longer the client's, so the money goes straight back.
    logger.warning(
        "payment.succeeded_for_unpayable_booking payment=%s booking=%s status=%s",
        payment.pk,
        booking.pk,
        booking.status,
    )
    payment_id = payment.pk

    def refund_in_full() -> None:
        payment_refund(
            payment=Payment.objects.get(pk=payment_id),
            amount=None,
            reason="requested_by_customer",
            note="Automatic refund: paid after the booking was no longer held.",
            actor=None,
        )

    transaction.on_commit(refund_in_full, robust=True)


def payment_refresh_from_stripe(
    *, payment: Payment, cause: str = "refresh", actor=None
) -> Payment:
    """Re-read the intent from Stripe and apply it (reconciliation, admin re-sync).

    A re-sync by staff is recorded as a staff action first, so it is on the
    record even when Stripe cannot be reached.
    """
    if not payment.stripe_payment_intent_id:
        return payment
    if is_staff_actor(actor):
        staff_action_record(
            actor=actor,
            action=StaffAction.Action.RESYNC,
            payment=payment,
            details={"cause": cause, "statusBefore": payment.status},
        )
    intent = gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
    return payment_apply_intent_state(
        payment=payment, intent=intent, cause=cause, actor=actor
    )


def payment_cancel(*, payment: Payment, actor, cause: str) -> Payment:
    """Cancel an open payment and its intent (hold expiry, booking cancelled)."""
    payment.refresh_from_db()
    if payment.status not in PRE_CHARGE:
        return payment
    if payment.stripe_payment_intent_id:
        try:
            intent = gateway.payment_intent_cancel(
                intent_id=payment.stripe_payment_intent_id,
                idempotency_key=f"payment:{payment.pk}:cancel",
            )
        except ProviderUnavailable:
            raise
        except GatewayError:
            # Stripe refuses to cancel an intent that was paid (or is being
            # paid) meanwhile: take its word for what happened instead.
            intent = gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
        return payment_apply_intent_state(
            payment=payment, intent=intent, cause=cause, actor=actor
        )
    with transaction.atomic():
        _booking, payment = _core.lock_booking_and_payment(payment.pk)
        if payment.status in PRE_CHARGE:
            _core.transition(payment, _S.CANCELED, cause=cause, actor=actor)
    return payment


def payment_sync_for_payer(*, payment: Payment | None, actor) -> bool:
    """Catch up on a 3-D Secure check the payer just finished at Stripe.

    The check happens between the browser and Stripe, and localstripe sends
    no webhook for a failed one; when the payer asks for the status of a
    payment awaiting authentication, read its outcome from Stripe. Anyone
    else, or any other state, reads only our database. ``payment`` is the
    booking's current payment as the caller already read it (so the common
    case costs no query here). Returns whether Stripe was asked, i.e.
    whether the caller's copies of the payment and booking may be stale.
    Never raises for Stripe trouble: the status is then simply what we knew.
    """
    if (
        payment is None
        or payment.status != _S.REQUIRES_ACTION
        or payment.payer_id != getattr(actor, "pk", None)
    ):
        return False
    try:
        payment_refresh_from_stripe(payment=payment, cause="status_check", actor=actor)
    except PaymentError as exc:
        logger.warning(
            "payment.status_sync_failed payment=%s error=%s", payment.pk, exc
        )
    return True
