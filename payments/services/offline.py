"""Money history recorded without Stripe: demo data and tests of the past.

``seed_demo`` needs months of past sessions, and Stripe cannot charge a card
last March. These functions write the same rows the live flow writes, through
the same services (booking confirm and complete, ``refund_settle``, the
ledger), only without the call to Stripe, and then date the new rows at the
given past moment so statements and charts place them in their month. Never
called by a view, an API or a task.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max

from bookings import services as booking_services
from bookings.models import Booking, BookingTransition, Offering
from money.pricing import breakdown
from payments.models import LedgerEntry, Payment, PaymentTransition, Refund
from payments.services import _core, balances, payouts
from payments.services.refunds import refund_settle


def _last_ids() -> tuple[int, int, int]:
    return (
        LedgerEntry.objects.aggregate(m=Max("pk"))["m"] or 0,
        PaymentTransition.objects.aggregate(m=Max("pk"))["m"] or 0,
        BookingTransition.objects.aggregate(m=Max("pk"))["m"] or 0,
    )


def _date_since(marks: tuple[int, int, int], at: datetime) -> None:
    """Date the rows written since ``marks`` at ``at`` (they happened then)."""
    ledger, payment_moves, booking_moves = marks
    LedgerEntry.objects.filter(pk__gt=ledger).update(created_at=at)
    PaymentTransition.objects.filter(pk__gt=payment_moves).update(created_at=at)
    BookingTransition.objects.filter(pk__gt=booking_moves).update(created_at=at)


@transaction.atomic
def booking_paid_offline(
    *, client, offering: Offering, starts_at: datetime, paid_at: datetime
) -> Payment:
    """A booking of ``offering`` at ``starts_at`` paid in full at ``paid_at``.

    The booking takes its price and terms from the coach's profile as
    ``booking_create`` does (which refuses the past, hence the direct row);
    the payment succeeds through ``_core.transition`` and the ledger books the
    charge; ``booking_confirm`` confirms the booking.
    """
    profile = offering.coach.coach_profile
    price = breakdown(offering.price_terms(profile))
    marks = _last_ids()
    booking = Booking.objects.create(
        client=client,
        coach_id=offering.coach_id,
        offering=offering,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=offering.duration_minutes),
        status=Booking.Status.PENDING_PAYMENT,
        currency=price.currency,
        price_base=price.base,
        price_gross=price.gross,
        price_net=price.net,
        vat_amount=price.vat,
        vat_rate_bps=price.vat_rate_bps,
        vat_included=price.vat_included,
        platform_fee_amount=price.platform_fee,
        platform_fee_bps=price.platform_fee_bps,
        coach_amount=price.coach_amount,
        cancellation_window_hours=profile.cancellation_window_hours,
        refund_fee_rule=profile.refund_fee_rule,
    )
    payment = Payment.objects.create(
        booking=booking,
        payer=client,
        recipient_id=offering.coach_id,
        currency=price.currency,
        amount=price.gross,
        net_amount=price.net,
        vat_amount=price.vat,
        vat_rate_bps=price.vat_rate_bps,
        platform_fee_amount=price.platform_fee,
        coach_amount=price.coach_amount,
        status=Payment.Status.PROCESSING,
    )
    _core.record_creation(payment, actor=None)
    booking, payment = _core.lock_booking_and_payment(payment.pk)
    payment.amount_received = payment.amount
    _core.transition(
        payment,
        Payment.Status.SUCCEEDED,
        cause="offline_history",
        fields=("amount_received",),
    )
    _core.ledger_record_charge(payment)
    booking_services.booking_confirm(
        booking=booking, actor=None, cause="payment_offline_history"
    )
    _date_since(marks, paid_at)
    Booking.objects.filter(pk=booking.pk).update(created_at=paid_at)
    Payment.objects.filter(pk=payment.pk).update(created_at=paid_at)
    payment.refresh_from_db()
    return payment


def booking_complete_offline(*, payment: Payment, at: datetime) -> None:
    """Complete the payment's session (it has ended) as of ``at``."""
    marks = _last_ids()
    booking_services.booking_complete(
        booking=payment.booking, actor=None, cause="session_ended"
    )
    _date_since(marks, at)


def refund_offline(
    *, payment: Payment, amount: int, at: datetime, actor=None
) -> Refund:
    """A refund of ``amount`` settled at ``at`` through ``refund_settle``."""
    marks = _last_ids()
    refund = Refund.objects.create(
        payment=payment,
        amount=amount,
        currency=payment.currency,
        reason=Refund.Reason.REQUESTED_BY_CUSTOMER,
        note="Offline history.",
        requested_by=actor,
    )
    refund = refund_settle(
        refund=refund,
        stripe_refund_id=None,
        status=Refund.Status.SUCCEEDED,
        cause="offline_history",
    )
    _date_since(marks, at)
    return refund


def earning_mature_offline(*, payment: Payment, at: datetime) -> bool:
    """Mature the payment's earning as the periodic job would at ``at``."""
    marks = _last_ids()
    booked = balances.earning_mature(payment=payment, now=at)
    _date_since(marks, at)
    return booked


def payout_offline(*, coach, amount: int, currency: str, reference: str, at: datetime):
    """A manual payout through ``payout_record``, dated ``at``."""
    marks = _last_ids()
    payout = payouts.payout_record(
        coach=coach,
        amount=amount,
        currency=currency,
        bank_reference=reference,
        paid_on=at.date(),
        actor=None,
    )
    _date_since(marks, at)
    return payout
