"""Periodic work: release unpaid holds, heal payments whose webhook was lost."""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from bookings import services as booking_services
from bookings.exceptions import InvalidTransition as BookingInvalidTransition
from bookings.models import Booking
from payments.exceptions import PaymentError
from payments.models import OPEN, PRE_CHARGE, Notification, Payment, Refund
from payments.services.notifications import notification_create
from payments.services.refunds import refund_resume
from payments.services.stripe_state import (
    payment_cancel,
    payment_refresh_from_stripe,
)

logger = logging.getLogger("payments")

_HOLD_ENDED = (Booking.Status.EXPIRED, Booking.Status.CANCELLED)


def bookings_release_expired_holds(*, now=None) -> int:
    """Release every unpaid hold past ``expires_at``; return how many.

    For each: first cancel its open intent at Stripe, so nothing can charge
    it afterwards (if Stripe says it was paid meanwhile, the payment is
    applied and the booking is confirmed instead); then expire the booking
    and notify the client and coach. Safe to run concurrently and repeatedly.
    """
    now = now or timezone.now()
    overdue = Booking.objects.filter(
        status=Booking.Status.PENDING_PAYMENT, expires_at__lte=now
    ).values_list("pk", flat=True)
    released = 0
    for booking_id in list(overdue[:500]):
        try:
            for payment in Payment.objects.filter(
                booking_id=booking_id, status__in=OPEN
            ):
                payment_cancel(payment=payment, actor=None, cause="hold_expired")
            booking = Booking.objects.get(pk=booking_id)
            if booking.status != Booking.Status.PENDING_PAYMENT:
                continue  # paid at the last second: the payment confirmed it
            booking_services.booking_expire(booking=booking, actor=None)
        except (PaymentError, BookingInvalidTransition) as exc:
            logger.warning(
                "booking.release_failed booking=%s error=%s", booking_id, exc
            )
            continue
        notification_create(
            booking_id=booking_id, kind=Notification.Kind.HOLD_EXPIRED, dedupe_key=""
        )
        released += 1
        logger.info("booking.hold_released booking=%s", booking_id)
    return released


def payments_reconcile(*, now=None) -> int:
    """Re-read from Stripe every payment stuck before its outcome; return how many.

    A payment in a pre-charge or processing state untouched for
    ``RECONCILE_AFTER_MINUTES`` is refreshed from its intent and the truth
    applied, so a lost ``payment_intent.succeeded`` webhook heals itself.
    One whose hold has ended (expired or cancelled) is cancelled at Stripe
    instead: the safety net under the after-commit cancel of ended holds.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.RECONCILE_AFTER_MINUTES)
    stuck = Payment.objects.filter(
        status__in=OPEN, updated_at__lt=cutoff, stripe_payment_intent_id__isnull=False
    ).values_list("pk", flat=True)
    healed = 0
    for payment_id in list(stuck[:500]):
        payment = Payment.objects.select_related("booking").get(pk=payment_id)
        hold_ended = payment.booking.status in _HOLD_ENDED
        try:
            if hold_ended and payment.status in PRE_CHARGE:
                after = payment_cancel(
                    payment=payment, actor=None, cause="reconcile_hold_ended"
                )
            else:
                after = payment_refresh_from_stripe(payment=payment, cause="reconcile")
        except PaymentError as exc:
            logger.warning(
                "payment.reconcile_failed payment=%s error=%s", payment_id, exc
            )
            continue
        if after.status != payment.status:
            healed += 1
            logger.info(
                "payment.reconciled payment=%s from=%s to=%s",
                payment_id,
                payment.status,
                after.status,
            )
    return healed + refunds_reconcile(now=now)


def refunds_reconcile(*, now=None) -> int:
    """Settle refunds left pending longer than ``RECONCILE_AFTER_MINUTES``.

    Their amounts stay reserved meanwhile, so nothing can be refunded twice;
    this finds out from Stripe what happened and books it.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.RECONCILE_AFTER_MINUTES)
    stale = Refund.objects.filter(status=Refund.Status.PENDING, updated_at__lt=cutoff)
    settled = 0
    for refund in list(stale.select_related("payment")[:500]):
        try:
            after = refund_resume(refund=refund)
        except PaymentError as exc:
            logger.warning("refund.reconcile_failed refund=%s error=%s", refund.pk, exc)
            continue
        if after.status != Refund.Status.PENDING:
            settled += 1
            logger.info(
                "refund.reconciled refund=%s status=%s", refund.pk, after.status
            )
    return settled
