"""Cancelling: the one path that ends a booking and settles its money.

Every cancel and every released hold, by anyone or any job, ends here: an
unpaid hold's open intent is cancelled at Stripe, a paid booking is refunded
per the policy (DESIGN.md "Policies"). The payer's only refund is this one.
"""

import logging

from django.utils import timezone
from django.utils.translation import gettext as _

from bookings import services as booking_services
from bookings.models import Booking
from money.amounts import format_money
from payments.exceptions import (
    GatewayError,
    PaymentError,
    PaymentNotFound,
    ProviderUnavailable,
    RefundAmountNotPolicy,
    RefundNotAllowed,
    RefundWindowClosed,
)
from payments.models import (
    OPEN,
    REFUNDABLE,
    Notification,
    Payment,
    Refund,
    StaffAction,
)
from payments.services.audit import is_staff_actor, staff_action_record
from payments.services.notifications import notification_create
from payments.services.refunds import (
    allowed_refund_details,
    payment_refund,
    payment_refundable_amount,
)
from payments.services.stripe_state import payment_cancel

logger = logging.getLogger("payments")


def cancellation_refund_amount(*, booking: Booking, actor, at=None) -> int:
    """What cancelling ``booking`` (at ``at``, default now) refunds, in minor units.

    The policy: the coach or an admin cancelling refunds everything left; the
    client gets everything left back until the cancellation window closes and
    nothing after. "Left" is what was received less what is refunded or
    being refunded. A booking without a charged payment refunds nothing.
    """
    payment = booking.payments.filter(status__in=REFUNDABLE).first()
    if payment is None:
        return 0
    left = payment_refundable_amount(payment=payment)
    if actor.is_admin or actor.pk == booking.coach_id:
        return left
    at = at or timezone.now()
    return left if at <= booking.cancellation_closes_at else 0


def booking_cancel_with_refund(
    *,
    booking: Booking,
    actor,
    reason: str = Refund.Reason.REQUESTED_BY_CUSTOMER,
    note: str = "",
    message: str = "",
) -> tuple[Booking, Refund | None]:
    """Cancel a booking and give back what the policy allows.

    An unpaid hold: the booking is cancelled, then its open payment and
    intent (here, so a Stripe failure reaches the caller; the ended-hold
    hook would do it too). A paid booking:
    the booking is cancelled first (so its slot and status are settled
    whatever Stripe does), then the refund of ``cancellation_refund_amount``
    as of the moment it was cancelled is made. If Stripe is unreachable the
    refund stays pending and reserved, and reconciliation settles it; the
    cancellation stands. ``message`` is what the canceller tells the other
    party: kept on the booking; when the coach cancels, the client is
    notified with it (and that everything is refunded). Raises what
    ``booking_cancel`` raises for anyone
    but the client, the coach or an admin, and for bookings that cannot be
    cancelled.
    """
    before = booking.status
    if booking.status == Booking.Status.PENDING_PAYMENT:
        booking = booking_services.booking_cancel(
            booking=booking, actor=actor, reason=message
        )
        _record_staff_cancel(booking, actor=actor, before=before, note=note)
        _notify_if_coach(booking, actor)
        for payment in booking.payments.filter(status__in=OPEN):
            payment_cancel(payment=payment, actor=actor, cause="booking_cancelled")
        return booking, None

    booking = booking_services.booking_cancel_paid(
        booking=booking, actor=actor, reason=message
    )
    _record_staff_cancel(booking, actor=actor, before=before, note=note)
    _notify_if_coach(booking, actor)
    amount = cancellation_refund_amount(
        booking=booking, actor=actor, at=booking.cancelled_at
    )
    if amount == 0:
        return booking, None
    payment = booking.payments.get(status__in=REFUNDABLE)
    try:
        refund = payment_refund(
            payment=payment,
            amount=amount,
            reason=reason,
            note=note or f"Booking cancelled by the {actor.role}.",
            actor=actor,
        )
    except RefundWindowClosed:
        refund = None  # cancelled after the window closed: nothing is due
    except (ProviderUnavailable, GatewayError):
        refund = payment.refunds.order_by("-created_at").first()
    booking.refresh_from_db()
    return booking, refund


def _notify_if_coach(booking: Booking, actor) -> None:
    """Tell the client (with the coach's reason) that their coach cancelled."""
    if actor is not None and actor.pk == booking.coach_id:
        notification_create(
            booking_id=booking.pk,
            kind=Notification.Kind.BOOKING_CANCELLED,
            dedupe_key="cancelled_by_coach",
        )


def _record_staff_cancel(booking: Booking, *, actor, before: str, note: str) -> None:
    """A cancellation by staff, once the booking is cancelled, goes on record."""
    if not is_staff_actor(actor):
        return
    staff_action_record(
        actor=actor,
        action=StaffAction.Action.CANCEL,
        payment=booking.payments.live().order_by("-created_at").first(),
        booking=booking,
        details={"bookingStatusBefore": before, "note": note},
    )


def payment_refund_request(
    *, payment: Payment, amount: int | None, reason: str, actor, note: str = ""
) -> Refund | None:
    """Refund as someone asked (``POST /api/payments/refund``), per the policy.

    The booking's coach and admins: ``payment_refund`` of any amount up to
    what is left (``None``: all of it); the booking stays as it is
    (goodwill). The payer: the only refund is cancelling, so inside the
    cancellation window the booking is cancelled and exactly the policy
    amount refunded (``amount`` ``None`` or that amount); outside it,
    nothing. Returns the refund (None only if the window closed in the
    instant between the check and the cancel: the booking is then cancelled
    without one, as the policy says).

    Raises PaymentNotFound (404) for anyone else, RefundWindowClosed (403),
    RefundAmountNotPolicy (400, with the allowed amount), RefundNotAllowed
    (409) for a booking or payment that cannot be cancelled or refunded, and
    what ``payment_refund`` raises.
    """
    if actor is None or actor.is_admin or actor.pk == payment.recipient_id:
        return payment_refund(
            payment=payment, amount=amount, reason=reason, note=note, actor=actor
        )
    if actor.pk != payment.payer_id:
        raise PaymentNotFound(_("Payment not found."))
    booking = Booking.objects.get(pk=payment.booking_id)
    payment.refresh_from_db()
    closes = booking.cancellation_closes_at
    if timezone.now() > closes:
        raise RefundWindowClosed(
            _("The cancellation window for this session has closed."),
            windowClosedAt=closes.isoformat(),
        )
    if booking.status != Booking.Status.CONFIRMED or payment.status not in REFUNDABLE:
        raise RefundNotAllowed(
            _("This booking cannot be cancelled and refunded any more."),
            bookingStatus=booking.status,
            paymentStatus=payment.status,
        )
    allowed = cancellation_refund_amount(booking=booking, actor=actor)
    if amount is not None and amount != allowed:
        raise RefundAmountNotPolicy(
            _(
                "Your refund is a cancellation: cancelling this booking refunds "
                "%(amount)s."
            )
            % {"amount": format_money(allowed, payment.currency)},
            **allowed_refund_details(allowed, payment.currency),
        )
    _booking, refund = booking_cancel_with_refund(
        booking=booking, actor=actor, reason=reason, note=note
    )
    return refund


def payment_cancel_for_ended_hold(booking_id) -> None:
    """Cancel the open payments (and intents) of an unpaid hold that ended.

    Run by the task ``cancel_ended_hold_payments``, which the bookings hook
    (``bookings.services.on_hold_ended``) enqueues after the transaction that
    expired or cancelled the hold has committed, so Stripe is never called
    under the booking's lock; this covers a hold expired on the spot by
    another client's booking. Never raises: a failure is logged, and
    reconciliation (``payments_reconcile``) cancels any open payment of an
    ended hold later.
    """
    for payment in Payment.objects.filter(booking_id=booking_id, status__in=OPEN):
        try:
            payment_cancel(payment=payment, actor=None, cause="hold_ended")
        except PaymentError as exc:
            logger.warning(
                "payment.hold_cancel_failed payment=%s booking=%s error=%s",
                payment.pk,
                booking_id,
                exc,
            )
