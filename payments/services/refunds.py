"""Giving money back: who may refund how much, and booking it exactly once."""

import logging

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings import services as booking_services
from bookings.models import Booking, RefundFeeRule
from money.amounts import format_money, to_major
from payments import gateway
from payments.exceptions import (
    EventNotReady,
    GatewayError,
    InvalidRefund,
    PaymentNotFound,
    ProviderUnavailable,
    RefundAmountNotPolicy,
    RefundNotAllowed,
    RefundWindowClosed,
)
from payments.models import CHARGED, REFUNDABLE, Payment, Refund, StaffAction
from payments.services import _core
from payments.services.audit import (
    is_staff_actor,
    refund_record_transition,
    staff_action_record,
)

logger = logging.getLogger("payments")

_S = Payment.Status


def payment_refund(
    *,
    payment: Payment,
    amount: int | None,
    reason: str,
    actor,
    note: str = "",
) -> Refund:
    """Refund part or all of a captured payment.

    ``amount`` (minor units) defaults to everything not yet refunded or
    reserved by a pending refund; it must be > 0 and fit in what is left, also
    under concurrent refunds: the amount is reserved under the payment's lock
    before Stripe is called. Who may: the booking's coach, an admin or the
    system (``actor=None``), any amount (goodwill; the booking stays as it
    is). The payer's only refund is cancelling (DESIGN.md "Policies"): only
    everything left, and only of a booking cancelled before its cancellation
    window closed, which ``booking_cancel_with_refund`` does first. Raises
    PaymentNotFound, RefundWindowClosed (403), RefundNotAllowed (409),
    InvalidRefund (400), ProviderUnavailable (the refund stays pending and
    reserved; reconciliation settles it).
    """
    if reason not in Refund.Reason.values:
        raise InvalidRefund(
            _("Unknown refund reason."),
            field="reason",
            allowed=list(Refund.Reason.values),
        )
    refund = _reserve(
        payment=payment, amount=amount, reason=reason, note=note, actor=actor
    )
    try:
        result = gateway.refund_create(
            intent_id=payment.stripe_payment_intent_id,
            amount=refund.amount,
            reason=reason,
            metadata={"refund_id": str(refund.pk), "payment_id": str(payment.pk)},
            idempotency_key=f"refund:{refund.pk}:create",
            **_connect_params(payment),
        )
    except ProviderUnavailable:
        # Stripe may or may not have refunded: keep the reservation so nothing
        # is refunded twice, and let reconciliation settle it.
        logger.error(
            "refund.outcome_unknown refund=%s payment=%s", refund.pk, payment.pk
        )
        raise
    except GatewayError as exc:
        refund_settle(
            refund=refund,
            stripe_refund_id=None,
            status=Refund.Status.FAILED,
            failure_reason=exc.message,
            cause="refund_rejected",
        )
        raise
    return refund_settle(
        refund=refund, stripe_refund_id=result.id, status=result.status, cause="refund"
    )


def _connect_params(payment: Payment) -> dict:
    """For a destination charge: reverse the coach's transfer, and give back
    the application fee only under the proportional refund-fee rule."""
    if not payment.stripe_destination_account_id:
        return {}
    return {
        "connected": True,
        "refund_application_fee": payment.booking.refund_fee_rule
        == RefundFeeRule.PROPORTIONAL,
    }


def _reserve(
    *, payment: Payment, amount: int | None, reason: str, note: str, actor
) -> Refund:
    with transaction.atomic():
        booking, payment = _core.lock_booking_and_payment(
            payment.pk, booking_id=payment.booking_id
        )
        by_payer = _check_allowed(booking=booking, payment=payment, actor=actor)
        if payment.status not in REFUNDABLE:
            raise RefundNotAllowed(
                _("This payment cannot be refunded in its current state."),
                paymentStatus=payment.status,
            )
        available = payment_refundable_amount(payment=payment)
        amount = available if amount is None else amount
        if by_payer and amount != available:
            # A cancellation gives back everything left, never a part of it.
            raise RefundAmountNotPolicy(
                _("Cancelling this booking refunds %(amount)s.")
                % {"amount": format_money(available, payment.currency)},
                **allowed_refund_details(available, payment.currency),
            )
        if amount <= 0 or amount > available:
            raise InvalidRefund(
                _("The refund amount must be more than zero and at most what is left."),
                field="amount",
                available=available,
            )
        refund = Refund.objects.create(
            payment=payment,
            amount=amount,
            currency=payment.currency,
            reason=reason,
            note=note[:500],
            requested_by=actor,
        )
        refund_record_transition(
            refund=refund, from_status="", cause="requested", actor=actor
        )
        if is_staff_actor(actor):
            staff_action_record(
                actor=actor,
                action=StaffAction.Action.REFUND,
                payment=payment,
                booking=booking,
                details={
                    "refund": str(refund.pk),
                    "amount": amount,
                    "currency": payment.currency,
                    "reason": reason,
                    "note": refund.note,
                },
            )
        _core.announce(payment)
    logger.info(
        "refund.reserved refund=%s payment=%s amount=%d", refund.pk, payment.pk, amount
    )
    return refund


def payment_refundable_amount(*, payment: Payment) -> int:
    """What is left to refund: received, less refunded, less pending refunds."""
    pending = (
        payment.refunds.filter(status=Refund.Status.PENDING).aggregate(
            total=Sum("amount")
        )["total"]
        or 0
    )
    return payment.amount_refundable - pending


def allowed_refund_details(amount: int, currency: str) -> dict:
    """The allowed refund as the API shows money: major units, ISO code."""
    return {
        "field": "amount",
        "allowedAmount": to_major(amount, currency),
        "currency": currency,
    }


def _check_allowed(*, booking: Booking, payment: Payment, actor) -> bool:
    """Refuse who may not refund; return whether the refund is the payer's."""
    if actor is None or actor.is_admin or actor.pk == payment.recipient_id:
        return False
    if actor.pk != payment.payer_id:
        raise PaymentNotFound(_("Payment not found."))
    closes = booking.cancellation_closes_at
    if booking.status != Booking.Status.CANCELLED:
        if timezone.now() > closes:
            raise RefundWindowClosed(
                _("The cancellation window for this session has closed."),
                windowClosedAt=closes.isoformat(),
            )
        # Refunding without cancelling would keep the session for less.
        raise RefundNotAllowed(
            _("Cancel the booking to get your money back."),
            bookingStatus=booking.status,
        )
    # Judged at the moment of cancelling, so a refund Stripe settles a
    # little later is still due.
    if booking.cancelled_at is None or booking.cancelled_at > closes:
        raise RefundWindowClosed(
            _("The cancellation window for this session has closed."),
            windowClosedAt=closes.isoformat(),
        )
    return True


def refund_settle(
    *,
    refund: Refund,
    stripe_refund_id: str | None,
    status: str,
    cause: str,
    failure_reason: str = "",
    stripe_event_id: str = "",
) -> Refund:
    """Record Stripe's outcome of a refund. Idempotent; a settled refund stays.

    On success: ``amount_refunded`` grows, the ledger books the refund and its
    reversals once, the payment becomes partially_refunded or refunded, and a
    fully refunded booking becomes refunded.
    """
    with transaction.atomic():
        booking, payment = _core.lock_booking_and_payment(refund.payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        if refund.status != Refund.Status.PENDING:
            return refund
        if stripe_refund_id:
            refund.stripe_refund_id = stripe_refund_id
        if status == Refund.Status.PENDING:
            refund.save(update_fields=["stripe_refund_id", "updated_at"])
            return refund
        before = refund.status
        if status != Refund.Status.SUCCEEDED:
            refund.status = (
                Refund.Status.FAILED if status != "canceled" else Refund.Status.CANCELED
            )
            refund.failure_reason = failure_reason[:255]
            refund.save(
                update_fields=[
                    "status",
                    "stripe_refund_id",
                    "failure_reason",
                    "updated_at",
                ]
            )
            refund_record_transition(
                refund=refund,
                from_status=before,
                cause=cause,
                actor=refund.requested_by,
                stripe_event_id=stripe_event_id,
            )
            logger.warning("refund.failed refund=%s payment=%s", refund.pk, payment.pk)
            _core.announce(payment)
            return refund
        refund.status = Refund.Status.SUCCEEDED
        refund.save(update_fields=["status", "stripe_refund_id", "updated_at"])
        refund_record_transition(
            refund=refund,
            from_status=before,
            cause=cause,
            actor=refund.requested_by,
            stripe_event_id=stripe_event_id,
        )
        payment.amount_refunded += refund.amount
        fully = payment.amount_refunded >= payment.amount_received
        _core.ledger_record_refund(payment, refund)
        target = _S.REFUNDED if fully else _S.PARTIALLY_REFUNDED
        # partially_refunded -> partially_refunded is still a change to record.
        _core.transition(
            payment,
            target,
            cause=cause,
            actor=refund.requested_by,
            stripe_event_id=stripe_event_id,
            fields=("amount_refunded",),
            record_repeat=True,
        )
        # An expired or never-confirmed booking keeps its status: only a paid
        # booking becomes "refunded".
        if fully and booking.can_move_to(Booking.Status.REFUNDED):
            booking_services.booking_mark_refunded(
                booking=booking, actor=refund.requested_by, cause=cause
            )
    logger.info(
        "refund.succeeded refund=%s payment=%s amount=%d total_refunded=%d",
        refund.pk,
        payment.pk,
        refund.amount,
        payment.amount_refunded,
    )
    return refund


_REFUND_STATUS = {
    "succeeded": Refund.Status.SUCCEEDED,
    "failed": Refund.Status.FAILED,
    "canceled": Refund.Status.CANCELED,
    "pending": Refund.Status.PENDING,
    "requires_action": Refund.Status.PENDING,
}


def refund_apply_stripe(*, refund: dict, stripe_event_id: str, cause: str) -> Refund:
    """Apply a Stripe refund object (from a webhook) to our records.

    Ours are found by Stripe id or by the ``refund_id`` we put in its
    metadata; a refund made outside the platform (Stripe's dashboard) is
    recorded as a new Refund. Idempotent. Raises EventNotReady while the
    payment is unknown or not yet charged, so the event is retried.
    """
    stripe_id = refund["id"]
    ours = Refund.objects.filter(stripe_refund_id=stripe_id).first()
    local_id = (refund.get("metadata") or {}).get("refund_id")
    if ours is None and local_id:
        ours = Refund.objects.filter(pk=local_id).first()
    if ours is None:
        payment = _core.payment_for_stripe_object(refund)
        if payment.status not in CHARGED:
            raise EventNotReady(f"Payment {payment.pk} is not charged yet.")
        with transaction.atomic():
            _booking, payment = _core.lock_booking_and_payment(payment.pk)
            ours = Refund.objects.filter(stripe_refund_id=stripe_id).first()
            if ours is None:
                reason = refund.get("reason")
                ours = Refund.objects.create(
                    payment=payment,
                    amount=int(refund["amount"]),
                    currency=payment.currency,
                    reason=reason
                    if reason in Refund.Reason.values
                    else Refund.Reason.REQUESTED_BY_CUSTOMER,
                    note="Refund made outside the platform.",
                    stripe_refund_id=stripe_id,
                )
                refund_record_transition(
                    refund=ours,
                    from_status="",
                    cause=f"webhook:{cause}",
                    stripe_event_id=stripe_event_id,
                )
                logger.warning(
                    "refund.external refund=%s payment=%s amount=%d",
                    ours.pk,
                    payment.pk,
                    ours.amount,
                )
    status = _REFUND_STATUS.get(
        refund.get("status") or "pending", Refund.Status.PENDING
    )
    return refund_settle(
        refund=ours,
        stripe_refund_id=stripe_id,
        status=status,
        cause=f"webhook:{cause}",
        failure_reason=refund.get("failure_reason") or "",
        stripe_event_id=stripe_event_id,
    )


def refund_resume(*, refund: Refund) -> Refund:
    """Finish a refund left pending by a lost or failed answer from Stripe.

    First look for it at Stripe (by the ``refund_id`` in its metadata): if it
    exists, settle it with Stripe's outcome. If Stripe never got it, send it
    again with the same idempotency key, so real Stripe can still not create
    it twice. Raises ProviderUnavailable while Stripe stays unreachable.
    """
    refund.refresh_from_db()
    if refund.status != Refund.Status.PENDING:
        return refund
    payment = refund.payment
    for found in gateway.refunds_for_intent(payment.stripe_payment_intent_id):
        if (found.get("metadata") or {}).get("refund_id") == str(refund.pk) or (
            refund.stripe_refund_id and found["id"] == refund.stripe_refund_id
        ):
            return refund_apply_stripe(
                refund=found, stripe_event_id="", cause="reconcile"
            )
    try:
        result = gateway.refund_create(
            intent_id=payment.stripe_payment_intent_id,
            amount=refund.amount,
            reason=refund.reason,
            metadata={"refund_id": str(refund.pk), "payment_id": str(payment.pk)},
            idempotency_key=f"refund:{refund.pk}:create",
            **_connect_params(payment),
        )
    except ProviderUnavailable:
        raise
    except GatewayError as exc:
        return refund_settle(
            refund=refund,
            stripe_refund_id=None,
            status=Refund.Status.FAILED,
            failure_reason=exc.message,
            cause="reconcile_rejected",
        )
    return refund_settle(
        refund=refund,
        stripe_refund_id=result.id,
        status=result.status,
        cause="reconcile",
    )
