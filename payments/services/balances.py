"""A coach's balances, read from the ledger, and the writes that move them.

The three balances are sums of ledger entries, never a stored number
(DESIGN.md "Money", README "Coach balances"):

- ``pending``: the coach's share of payments (earnings, less their refund,
  chargeback and dispute-fee shares) not yet matured, i.e. the coach
  allocation entries less ``earning_matured`` and ``adjustment`` entries;
- ``available``: what matured (``earning_matured``), less what was taken
  back after maturity (``adjustment``, negative), less payouts;
- ``paid_out``: the payouts (a positive number).

So ``pending + available + paid_out`` equals the sum of the coach allocation
entries, always. A payment matures once, when its session was completed
``EARNINGS_HOLD_HOURS`` ago: an ``earning_matured`` entry moves what is left
of its share to available. A refund or lost dispute after that books an
``adjustment`` with the coach's part, which moves the reduction from pending
to available, so pending stays what is still maturing and available may go
below zero (the next earnings cover it).

Also here: ``refund_split``, the one computation of who gives back what on a
refund (used by the ledger and by every refund confirmation page).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Min, Q, Sum
from django.utils import timezone

from accounts.models import User
from bookings.models import Booking, BookingTransition, RefundFeeRule
from money.pricing import round_half_up_div
from payments.models import LedgerEntry, Payment

logger = logging.getLogger("payments")

K = LedgerEntry.Kind


# --- Who gives back what -------------------------------------------------------


@dataclass(frozen=True)
class RefundSplit:
    """How a refund of ``amount`` (minor units) is shared.

    ``platform_fee`` is the part of the platform's fee it gives back,
    ``coach`` the part taken from the coach's share, ``vat`` the tax inside
    the refund; ``platform_fee + coach == amount``. ``matured`` says whether
    the coach's part comes out of the available balance (the earning already
    matured) rather than the pending one.
    """

    amount: int
    currency: str
    rule: str
    platform_fee: int
    coach: int
    vat: int
    matured: bool


def _payment_totals(payment: Payment) -> dict[str, int]:
    return dict(
        LedgerEntry.objects.filter(payment=payment)
        .values_list("kind")
        .annotate(total=Sum("amount"))
        .values_list("kind", "total")
    )


def refund_split(*, payment: Payment, amount: int) -> RefundSplit:
    """Split a refund of ``amount`` on ``payment`` between platform and coach.

    Under the booking's refund-fee rule (snapshotted at booking time): with
    ``proportional`` the platform gives back its fee in proportion to the
    refund (the last refund gives back exactly what is left, so a full refund
    nets every kind to zero); with ``platform_keeps`` the coach's share bears
    the whole refund. VAT goes back in proportion either way. Reads only.
    """
    totals = _payment_totals(payment)
    fee_left = totals.get(K.PLATFORM_FEE, 0) + totals.get(K.PLATFORM_FEE_REVERSAL, 0)
    vat_left = totals.get(K.VAT, 0) + totals.get(K.VAT_REVERSAL, 0)
    received = payment.amount_received or payment.amount
    rule = payment.booking.refund_fee_rule
    last = payment.amount_refunded + amount >= received
    if last:
        vat_back = vat_left
    else:
        vat_back = min(
            vat_left, round_half_up_div(amount * payment.vat_amount, received)
        )
    if rule == RefundFeeRule.PLATFORM_KEEPS:
        fee_back = 0
    elif last:
        fee_back = fee_left
    else:
        fee_back = min(
            fee_left, round_half_up_div(amount * payment.platform_fee_amount, received)
        )
    return RefundSplit(
        amount=amount,
        currency=payment.currency,
        rule=rule,
        platform_fee=fee_back,
        coach=amount - fee_back,
        vat=vat_back,
        matured=K.EARNING_MATURED in totals,
    )


def dispute_split(*, payment: Payment, amount: int, fee: int) -> tuple[int, int]:
    """(platform part, coach part) of a lost dispute's chargeback plus fee.

    Same rule as refunds: ``proportional`` shares the chargeback and Stripe's
    dispute fee in the proportion of the platform fee to the charge;
    ``platform_keeps`` puts both on the coach.
    """
    total = amount + fee
    if payment.booking.refund_fee_rule == RefundFeeRule.PLATFORM_KEEPS:
        return 0, total
    received = payment.amount_received or payment.amount
    platform = round_half_up_div(total * payment.platform_fee_amount, received)
    return platform, total - platform


# --- Balances ------------------------------------------------------------------


@dataclass(frozen=True)
class Balances:
    """A coach's balances in one currency, minor units."""

    currency: str
    pending: int
    available: int
    paid_out: int

    @property
    def total(self) -> int:
        """Everything the coach earned, net of what went back."""
        return self.pending + self.available + self.paid_out


def _balance_sums(entries) -> dict[str, int]:
    row = entries.aggregate(
        share=Sum("amount", filter=Q(kind__in=LedgerEntry.COACH)),
        matured=Sum("amount", filter=Q(kind__in=LedgerEntry.MATURING)),
        payouts=Sum("amount", filter=Q(kind=K.PAYOUT)),
    )
    return {key: value or 0 for key, value in row.items()}


def coach_balances(
    *, coach: User, currency: str, before: datetime | None = None
) -> Balances:
    """The coach's pending, available and paid-out balances in ``currency``.

    ``before``: as they stood at that moment (entries created earlier).
    """
    entries = LedgerEntry.objects.filter(coach=coach, currency=currency)
    if before is not None:
        entries = entries.filter(created_at__lt=before)
    sums = _balance_sums(entries)
    return Balances(
        currency=currency,
        pending=sums["share"] - sums["matured"],
        available=sums["matured"] + sums["payouts"],
        paid_out=-sums["payouts"],
    )


def coach_balance_currencies(*, coach: User) -> list[str]:
    return list(
        LedgerEntry.objects.filter(coach=coach)
        .values_list("currency", flat=True)
        .distinct()
        .order_by("currency")
    )


def payment_pending_share(payment: Payment) -> int:
    """The part of the payment's coach share that has not matured."""
    totals = _payment_totals(payment)
    share = sum(totals.get(kind, 0) for kind in LedgerEntry.COACH)
    return share - sum(totals.get(kind, 0) for kind in LedgerEntry.MATURING)


# --- Maturity ------------------------------------------------------------------


def _lock(payment_id) -> Payment:
    """Lock the payment's booking, then the payment: the payment core's lock
    order (``_core.lock_booking_and_payment``), so maturing never deadlocks
    with a refund or a webhook."""
    booking_id = Payment.objects.values_list("booking_id", flat=True).get(pk=payment_id)
    Booking.objects.select_for_update().get(pk=booking_id)
    return Payment.objects.select_for_update().get(pk=payment_id)


def hold() -> timedelta:
    return timedelta(hours=settings.EARNINGS_HOLD_HOURS)


# A booking's session is settled when it was held (completed) or will never
# be (cancelled, or refunded in full without either): its earning then starts
# its hold. A cancelled booking may leave the coach a share (a refund-fee rule
# that keeps the fee, a late cancellation): it matures too, never stays
# pending for ever.
_SETTLED = (
    Booking.Status.COMPLETED,
    Booking.Status.CANCELLED,
    Booking.Status.REFUNDED,
)


def _completed_at(booking_ids) -> dict:
    """When each booking's session was settled (its first move to completed,
    cancelled or refunded)."""
    return dict(
        BookingTransition.objects.filter(
            booking_id__in=booking_ids, to_status__in=_SETTLED
        )
        .values("booking_id")
        .annotate(at=Min("created_at"))
        .values_list("booking_id", "at")
    )


def payments_due_to_mature(*, now: datetime | None = None) -> list:
    """Ids of charged payments whose session was settled (completed, or
    cancelled) at least a hold ago and that have no ``earning_matured`` entry
    yet."""
    now = now or timezone.now()
    completed = BookingTransition.objects.filter(
        to_status__in=_SETTLED, created_at__lte=now - hold()
    ).values("booking_id")
    return list(
        Payment.objects.filter(booking_id__in=completed, ledger__kind=K.CHARGE)
        .exclude(ledger__kind=K.EARNING_MATURED)
        .values_list("pk", flat=True)
        .distinct()
    )


def earning_mature(*, payment: Payment, now: datetime | None = None) -> bool:
    """Move what is left of the payment's coach share from pending to available.

    Once per payment: under the payment's lock (refunds and disputes book
    under it too, so the amount is exact), and the ledger's unique
    (payment, kind) constraint makes a second run, even a concurrent one on
    another worker, a no-op. Returns whether this call booked it. A payment
    whose session is not completed a hold ago is left alone.
    """
    now = now or timezone.now()
    with transaction.atomic():
        payment = _lock(payment.pk)
        at = _completed_at([payment.booking_id]).get(payment.booking_id)
        if at is None or at + hold() > now:
            return False
        if payment.ledger.filter(kind=K.EARNING_MATURED).exists():
            return False
        if not payment.ledger.filter(kind=K.CHARGE).exists():
            return False
        amount = payment_pending_share(payment)
        try:
            with transaction.atomic():
                LedgerEntry.objects.create(
                    payment=payment,
                    coach_id=payment.recipient_id,
                    kind=K.EARNING_MATURED,
                    amount=amount,
                    currency=payment.currency,
                )
        except IntegrityError:
            return False  # matured by a concurrent run
    logger.info(
        "ledger.earning_matured payment=%s coach=%s amount=%d",
        payment.pk,
        payment.recipient_id,
        amount,
    )
    return True


def earnings_mature_due(*, now: datetime | None = None) -> int:
    """Mature every payment that is due; return how many were booked.

    Each payment is its own transaction, so one failure does not hold back
    the others. Meant for the periodic job; safe to run twice or at once.
    """
    booked = 0
    for pk in payments_due_to_mature(now=now):
        booked += earning_mature(payment=Payment(pk=pk), now=now)
    return booked


@dataclass(frozen=True)
class NextMaturity:
    """The earliest time some pending money becomes available, and how much."""

    at: datetime
    amount: int
    estimated: bool  # the session has not been completed yet


def next_maturity(*, coach: User, currency: str) -> NextMaturity | None:
    """When the next pending earning becomes available, with its amount.

    For completed sessions the date is exact (completion plus the hold);
    for sessions still to come it is estimated from their end.
    """
    payments = list(
        Payment.objects.filter(
            recipient=coach, currency=currency, ledger__kind=K.CHARGE
        )
        .exclude(ledger__kind=K.EARNING_MATURED)
        .select_related("booking")
        .distinct()
    )
    if not payments:
        return None
    completed = _completed_at([p.booking_id for p in payments])
    dates: dict[datetime, list] = {}
    for payment in payments:
        done = completed.get(payment.booking_id)
        if done is None and payment.booking.status != Booking.Status.CONFIRMED:
            continue  # cancelled or refunded without a session: never matures
        at = (done or payment.booking.ends_at) + hold()
        dates.setdefault(at, []).append((payment, done is None))
    if not dates:
        return None
    first = min(dates)
    amount = sum(payment_pending_share(p) for p, _ in dates[first])
    return NextMaturity(
        at=first, amount=amount, estimated=any(est for _, est in dates[first])
    )


def ledger_record_after_maturity(
    payment: Payment, *, coach_part: int, refund=None
) -> None:
    """Book an ``adjustment`` when money leaves an already matured earning.

    ``coach_part`` is the (positive) amount taken from the coach's share. The
    caller holds the payment's lock inside its transaction.
    """
    if coach_part == 0 or not payment.ledger.filter(kind=K.EARNING_MATURED).exists():
        return
    LedgerEntry.objects.create(
        payment=payment,
        refund=refund,
        coach_id=payment.recipient_id,
        kind=K.ADJUSTMENT,
        amount=-coach_part,
        currency=payment.currency,
    )
