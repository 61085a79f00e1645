"""Monthly statements of a coach's money, read from the ledger.

A statement covers one calendar month on the coach's clock and one currency.
Its balance is what the platform owes the coach (pending + available):

    closing = opening + (gross - platform fee) + refunds + adjustments + payouts

where ``refunds`` is the coach's share of the month's refunds, ``adjustments``
the coach's share of chargebacks and dispute fees, and ``payouts`` what was
paid out (the last three negative). VAT is inside the gross, shown for the
coach's own VAT return. The page, the CSV and the PDF all render this one
object, so they cannot disagree.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from django.db.models import Q, Sum
from django.utils import timezone

from accounts.models import User
from bookings.models import CoachProfile
from payments.models import LedgerEntry
from payments.services import balances

K = LedgerEntry.Kind


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def coach_zone(coach: User) -> ZoneInfo:
    name = (
        CoachProfile.objects.filter(user=coach)
        .values_list("time_zone", flat=True)
        .first()
    )
    return ZoneInfo(name or "UTC")


def month_bounds(coach: User, month: date) -> tuple[datetime, datetime]:
    """The month as aware datetimes [start, end) on the coach's clock."""
    zone = coach_zone(coach)
    start = datetime.combine(month_start(month), time(), tzinfo=zone)
    end = datetime.combine(next_month(month_start(month)), time(), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass(frozen=True)
class SessionLine:
    """One charge of the month: a session paid for."""

    when: datetime
    offering: str
    gross: int
    vat: int
    platform_fee: int
    coach: int


@dataclass(frozen=True)
class Statement:
    """One month of a coach's money in one currency, minor units."""

    coach: User
    month: date
    currency: str
    opening: int
    sessions: int
    gross: int
    vat: int
    platform_fee: int
    refunds_gross: int
    refunds: int
    adjustments: int
    payouts: int
    closing: int
    lines: list[SessionLine] = field(default_factory=list)

    @property
    def earned(self) -> int:
        """The coach's share of the month's charges: gross less the fee."""
        return self.gross - self.platform_fee

    def summary(self) -> list[tuple[str, str, int]]:
        """(key, label, amount) in statement order: what every format shows."""
        return [
            ("opening", "Opening balance", self.opening),
            ("gross", "Gross charged", self.gross),
            ("vat", "of which VAT", self.vat),
            ("platform_fee", "Platform fee", -self.platform_fee),
            ("refunds", "Refunds (your share)", self.refunds),
            ("adjustments", "Adjustments (disputes)", self.adjustments),
            ("payouts", "Payouts", self.payouts),
            ("closing", "Closing balance", self.closing),
        ]


def _sum(entries, *kinds) -> int:
    return entries.filter(kind__in=kinds).aggregate(total=Sum("amount"))["total"] or 0


def statement_for_month(*, coach: User, month: date, currency: str) -> Statement:
    """The coach's statement for ``month`` (any day of it) in ``currency``."""
    start, end = month_bounds(coach, month)
    opening_bal = balances.coach_balances(coach=coach, currency=currency, before=start)
    entries = LedgerEntry.objects.filter(
        coach=coach, currency=currency, created_at__gte=start, created_at__lt=end
    )
    gross = _sum(entries, K.CHARGE)
    fee = _sum(entries, K.PLATFORM_FEE)
    refunds = _sum(entries, K.COACH_EARNING_REVERSAL)
    adjustments = _sum(entries, K.COACH_CHARGEBACK, K.COACH_DISPUTE_FEE)
    payouts = _sum(entries, K.PAYOUT)
    opening = opening_bal.pending + opening_bal.available
    closing = opening + (gross - fee) + refunds + adjustments + payouts
    zone = coach_zone(coach)
    charges = (
        entries.filter(kind=K.CHARGE)
        .select_related("payment__booking__offering")
        .order_by("created_at", "id")
    )
    per_payment = {
        (row["payment_id"], row["kind"]): row["total"]
        for row in LedgerEntry.objects.filter(
            payment__in=[c.payment_id for c in charges],
            refund__isnull=True,
            kind__in=[K.VAT, K.PLATFORM_FEE, K.COACH_EARNING],
        )
        .values("payment_id", "kind")
        .annotate(total=Sum("amount"))
    }
    lines = [
        SessionLine(
            when=charge.payment.booking.starts_at.astimezone(zone),
            offering=charge.payment.booking.offering.title,
            gross=charge.amount,
            vat=per_payment.get((charge.payment_id, K.VAT), 0),
            platform_fee=per_payment.get((charge.payment_id, K.PLATFORM_FEE), 0),
            coach=per_payment.get((charge.payment_id, K.COACH_EARNING), 0),
        )
        for charge in charges
    ]
    return Statement(
        coach=coach,
        month=month_start(month),
        currency=currency,
        opening=opening,
        sessions=len(lines),
        gross=gross,
        vat=_sum(entries, K.VAT, K.VAT_REVERSAL),
        platform_fee=fee,
        refunds_gross=-_sum(entries, K.REFUND),
        refunds=refunds,
        adjustments=adjustments,
        payouts=payouts,
        closing=closing,
        lines=lines,
    )


def statement_months(*, coach: User, currency: str) -> list[date]:
    """Months (first days, newest first) from the coach's first entry to now."""
    first = (
        LedgerEntry.objects.filter(coach=coach, currency=currency)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if first is None:
        return []
    zone = coach_zone(coach)
    month = month_start(first.astimezone(zone).date())
    last = month_start(timezone.now().astimezone(zone).date())
    months = []
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months[::-1]


def platform_fee_for_month(*, coach: User, month: date, currency: str) -> int:
    """The platform fee the coach paid in ``month``, net of fee given back."""
    start, end = month_bounds(coach, month)
    entries = LedgerEntry.objects.filter(
        Q(kind=K.PLATFORM_FEE) | Q(kind=K.PLATFORM_FEE_REVERSAL),
        coach=coach,
        currency=currency,
        created_at__gte=start,
        created_at__lt=end,
    )
    return entries.aggregate(total=Sum("amount"))["total"] or 0
