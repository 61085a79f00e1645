"""Reads of payment data, scoped to what the asking user may see."""

from django.db.models import Q, QuerySet

from accounts.models import User
from bookings.models import Booking
from payments.models import CHARGED, OPEN, Payment, Refund, SavedPaymentMethod
from payments.money import to_major


def _visible_bookings(user: User) -> QuerySet[Booking]:
    if user.is_admin:
        return Booking.objects.all()
    return Booking.objects.filter(Q(client=user) | Q(coach=user))


def booking_get_for_payment_status(*, user: User, booking_id) -> Booking | None:
    """The booking, if ``user`` is its payer, its coach or an admin."""
    return _visible_bookings(user).filter(pk=booking_id).first()


def payment_current_for_booking(*, booking_id) -> Payment | None:
    """The booking's live payment, else its latest ended one (failed/canceled)."""
    payments = Payment.objects.filter(booking_id=booking_id)
    live = payments.exclude(status__in=[Payment.Status.FAILED, Payment.Status.CANCELED])
    return live.first() or payments.order_by("-created_at").first()


def payment_get_by_intent_for_payer(*, user: User, intent_id: str) -> Payment | None:
    return (
        Payment.objects.select_related("booking")
        .filter(stripe_payment_intent_id=intent_id, payer=user)
        .first()
    )


def payment_get_by_intent_for_refund(*, user: User, intent_id: str) -> Payment | None:
    """A payment the user could ask to refund: as payer, coach or admin."""
    payments = Payment.objects.select_related("booking", "booking__coach")
    if not user.is_admin:
        payments = payments.filter(Q(payer=user) | Q(recipient=user))
    return payments.filter(stripe_payment_intent_id=intent_id).first()


def payment_status_message(*, booking_id) -> dict | None:
    """The WebSocket ``payment.status`` message for a booking."""
    booking = (
        Booking.objects.filter(pk=booking_id).only("id", "status", "version").first()
    )
    if booking is None:
        return None
    payment = payment_current_for_booking(booking_id=booking_id)
    return {
        "type": "payment.status",
        "bookingId": str(booking.pk),
        "paymentIntentId": payment.stripe_payment_intent_id if payment else None,
        "status": payment.status if payment else None,
        "bookingStatus": booking.status,
        "version": booking.version,
        "amount": to_major(payment.amount, payment.currency) if payment else None,
        "currency": payment.currency if payment else None,
        "updatedAt": (
            payment.updated_at if payment else booking.updated_at
        ).isoformat(),
    }


def payment_status_object(payment: Payment | None) -> dict | None:
    """The ``payment`` object of the status endpoint, in major units."""
    if payment is None:
        return None
    return {
        "paymentIntentId": payment.stripe_payment_intent_id,
        "status": payment.status,
        "amount": to_major(payment.amount, payment.currency),
        "amountRefunded": to_major(payment.amount_refunded, payment.currency),
        "currency": payment.currency,
        "version": payment.version,
        "updatedAt": payment.updated_at.isoformat(),
    }


def refund_object(refund: Refund | None) -> dict | None:
    """A refund as the API shows it, in major units."""
    if refund is None:
        return None
    return {
        "id": str(refund.pk),
        "amount": to_major(refund.amount, refund.currency),
        "currency": refund.currency,
        "reason": refund.reason,
        "status": refund.status,
    }


def payment_methods_for_user(*, user: User) -> QuerySet[SavedPaymentMethod]:
    return SavedPaymentMethod.objects.filter(user=user).order_by(
        "-is_default", "-created_at"
    )


def payments_stuck(*, older_than) -> QuerySet[Payment]:
    """Payments in a non-final pre-charge state last touched before ``older_than``."""
    return Payment.objects.filter(status__in=OPEN, updated_at__lt=older_than)


def payments_charged_for_coach(*, coach: User) -> QuerySet[Payment]:
    return Payment.objects.filter(recipient=coach, status__in=CHARGED)
