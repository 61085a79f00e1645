"""Reads of payment data, scoped to what the asking user may see."""

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.db.models import Count, DateField, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from accounts.models import User
from bookings import selectors as booking_selectors
from bookings.models import Booking, CoachProfile
from money.amounts import normalize_currency, to_major
from payments.models import (
    CHARGED,
    ENDED,
    OPEN,
    LedgerEntry,
    Notification,
    Payment,
    Refund,
    RefundTransition,
    SavedPaymentMethod,
    StaffAction,
    StripeCall,
    WebhookEvent,
)


def payment_current_for_bookings(*, booking_ids) -> dict:
    """Each booking's current payment, by booking id, in one query: its live
    one, else its latest ended one (failed/canceled); bookings without a
    payment are left out."""
    current: dict = {}
    for payment in Payment.objects.filter(booking_id__in=booking_ids).order_by(
        "-created_at"
    ):
        # Newest first: the first seen is kept unless a live one comes later
        # (a booking has at most one live payment).
        seen = current.get(payment.booking_id)
        if seen is None or (seen.status in ENDED and payment.status not in ENDED):
            current[payment.booking_id] = payment
    return current


def refund_pending_totals(*, payment_ids) -> dict:
    """The amount of each payment's refunds still pending, by payment id, in one
    query; payments with none are left out."""
    rows = (
        Refund.objects.filter(payment_id__in=payment_ids, status=Refund.Status.PENDING)
        .values("payment_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    return {row["payment_id"]: row["total"] for row in rows}


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


_STATE_PAYMENT_FIELDS = (
    "id",
    "stripe_payment_intent_id",
    "status",
    "amount",
    "amount_refunded",
    "currency",
    "version",
    "booking_id",
    "payer_id",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True)
class BookingPaymentState:
    """A booking's status and its current payment, as one read returned them.

    ``payment`` is an unsaved ``Payment`` holding only the fields of
    ``_STATE_PAYMENT_FIELDS``: enough for ``payment_status_object`` and for
    ``payment_sync_for_payer``, whose service locks and reads the row whole.
    """

    booking_id: uuid.UUID
    booking_status: str
    booking_version: int
    booking_updated_at: datetime
    payment: Payment | None


def booking_payment_state(
    *, booking_id, user: User | None = None
) -> BookingPaymentState | None:
    """The status API's and the socket's read of a booking and its payment.

    None when the booking does not exist or, with ``user``, when that user
    may not see it: the permission check and the read are one query, on
    primary and foreign keys: the booking LEFT JOIN its payments (a handful
    at most), the current one picked as ``payment_current_for_bookings``
    picks it.
    """
    bookings = (
        Booking.objects.all()
        if user is None
        else booking_selectors.booking_list_for_user(user=user)
    )
    rows = list(
        bookings.filter(pk=booking_id)
        .order_by()
        .values(
            "id",
            "status",
            "version",
            "updated_at",
            *(f"payments__{field}" for field in _STATE_PAYMENT_FIELDS),
        )
    )
    if not rows:
        return None
    booking = rows[0]
    payments = [row for row in rows if row["payments__id"] is not None]
    current = None
    for row in sorted(payments, key=lambda r: r["payments__created_at"], reverse=True):
        # Newest first; a live one (at most one per booking) wins over ended.
        if current is None or (
            current["payments__status"] in ENDED
            and row["payments__status"] not in ENDED
        ):
            current = row
    return BookingPaymentState(
        booking_id=booking["id"],
        booking_status=booking["status"],
        booking_version=booking["version"],
        booking_updated_at=booking["updated_at"],
        payment=Payment(
            **{field: current[f"payments__{field}"] for field in _STATE_PAYMENT_FIELDS}
        )
        if current
        else None,
    )


def payment_status_message(*, booking_id, user: User | None = None) -> dict | None:
    """The WebSocket ``payment.status`` message for a booking.

    None when the booking does not exist or, with ``user``, when that user
    may not see it: the socket's permission check and snapshot are the same
    read (``booking_payment_state``, one query).
    """
    state = booking_payment_state(booking_id=booking_id, user=user)
    if state is None:
        return None
    fields = payment_status_object(state.payment) or dict.fromkeys(_STATUS_FIELDS)
    return {
        "type": "payment.status",
        "bookingId": str(state.booking_id),
        **fields,
        "bookingStatus": state.booking_status,
        # The booking's version, not the payment's: a booking's payments come
        # and go (a declined card ends one, the next starts at 1), so only the
        # booking's version always grows, and clients order messages by it.
        "version": state.booking_version,
        "updatedAt": fields["updatedAt"] or state.booking_updated_at.isoformat(),
    }


# The keys of payment_status_object, all None when there is no payment yet.
_STATUS_FIELDS = (
    "paymentIntentId",
    "status",
    "amount",
    "amountRefunded",
    "currency",
    "version",
    "updatedAt",
)


def payment_status_object(payment: Payment | None) -> dict | None:
    """The ``payment`` object of the status endpoint, in major units. The one
    builder of a payment's status fields: ``payment_status_message`` (the
    socket's) is built from it."""
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


def payment_for_receipt(*, booking_id) -> Payment | None:
    """The booking's charged payment (paid, refunded or disputed), or None.

    ``paid_at`` is set on it: when it moved to ``succeeded``.
    """
    payment = (
        Payment.objects.filter(booking_id=booking_id, status__in=CHARGED)
        .prefetch_related("refunds")
        .first()
    )
    if payment is not None:
        paid = payment.transitions.filter(to_status=Payment.Status.SUCCEEDED).first()
        payment.paid_at = paid.created_at if paid else payment.updated_at
    return payment


def notification_list_for_user(*, user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user).select_related("booking")


def notification_get_for_user(*, user: User, notification_id) -> Notification | None:
    return Notification.objects.filter(recipient=user, pk=notification_id).first()


def notification_unread_count(*, user: User) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read=False).count()


# --- Coach earnings ---------------------------------------------------------------
#
# Read from the ledger, never from the payments' own amounts: the ledger is what
# happened (charges, refunds and their reversals), each entry on the day it
# happened. Sums are taken by the database and only ever within one currency.

_K = LedgerEntry.Kind

# Each figure a page shows, as the entries it sums.
_EARNINGS_SUMS = {
    "gross": Q(kind=_K.CHARGE),
    "refunds": Q(kind=_K.REFUND),
    "platform_fees": Q(kind__in=[_K.PLATFORM_FEE, _K.PLATFORM_FEE_REVERSAL]),
    "vat": Q(kind__in=[_K.VAT, _K.VAT_REVERSAL]),
    "coach_net": Q(kind__in=[_K.COACH_EARNING, _K.COACH_EARNING_REVERSAL]),
}
_EARNINGS_GROUPS = {
    "month": ("month",),
    "offering": ("offering_id", "offering_title"),
}
# Newest month first; offerings by title (the id keeps namesakes apart).
_EARNINGS_ORDER = {
    "month": ("-month",),
    "offering": ("offering_title", "offering_id"),
}


@dataclass(frozen=True)
class EarningsRow:
    """A coach's money in one currency, for a month, an offering, both or all.

    Amounts are in minor units. ``gross`` is what was charged and ``refunds``
    what was given back (a positive number). ``platform_fees``, ``vat`` and
    ``coach_net`` are net of their reversals, so ``gross - refunds ==
    platform_fees + coach_net``; VAT is inside the gross (the coach owes it out
    of ``coach_net``). ``month`` is the first day of the month on the coach's
    clock, or None when not grouped by month; likewise the offering fields.
    """

    currency: str
    month: date | None
    offering_id: uuid.UUID | None
    offering_title: str
    charges: int
    gross: int
    refunds: int
    platform_fees: int
    vat: int
    coach_net: int


def _coach_time_zone(coach: User) -> ZoneInfo:
    name = (
        CoachProfile.objects.filter(user=coach)
        .values_list("time_zone", flat=True)
        .first()
    )
    return ZoneInfo(name or "UTC")


def _earnings(*, coach: User, currency: str, by: tuple[str, ...]) -> list[EarningsRow]:
    currency = normalize_currency(currency)
    entries = LedgerEntry.objects.filter(
        payment__recipient=coach, currency=currency
    ).annotate(
        month=TruncMonth(
            "created_at", output_field=DateField(), tzinfo=_coach_time_zone(coach)
        ),
        offering_id=F("payment__booking__offering_id"),
        offering_title=F("payment__booking__offering__title"),
    )
    sums = {
        name: Coalesce(Sum("amount", filter=condition), 0)
        for name, condition in _EARNINGS_SUMS.items()
    }
    sums["charges"] = Count("pk", filter=Q(kind=_K.CHARGE))
    fields = [field for key in by for field in _EARNINGS_GROUPS[key]]
    if fields:
        ordering = [field for key in by for field in _EARNINGS_ORDER[key]]
        rows = list(entries.values(*fields).annotate(**sums).order_by(*ordering))
    else:
        rows = [entries.aggregate(**sums)]
    return [
        EarningsRow(
            currency=currency,
            month=row.get("month"),
            offering_id=row.get("offering_id"),
            offering_title=row.get("offering_title") or "",
            charges=row["charges"],
            gross=row["gross"],
            refunds=-row["refunds"],
            platform_fees=row["platform_fees"],
            vat=row["vat"],
            coach_net=row["coach_net"],
        )
        for row in rows
    ]


def earnings_currencies_for_coach(*, coach: User) -> list[str]:
    """The currencies the coach's ledger has entries in, alphabetically."""
    return list(
        LedgerEntry.objects.filter(payment__recipient=coach)
        .values_list("currency", flat=True)
        .distinct()
        .order_by("currency")
    )


def earnings_for_coach(*, coach: User, currency: str) -> list[EarningsRow]:
    """The coach's earnings in ``currency`` per month and offering.

    Newest month first, offerings by title within a month. Months are those
    of the coach's time zone; an entry counts in the month it was booked, so a
    refund lowers the month it was made in, not the month of the charge.
    """
    return _earnings(coach=coach, currency=currency, by=("month", "offering"))


def earnings_by_month_for_coach(*, coach: User, currency: str) -> list[EarningsRow]:
    """The coach's earnings in ``currency`` per month, newest first."""
    return _earnings(coach=coach, currency=currency, by=("month",))


def earnings_by_offering_for_coach(*, coach: User, currency: str) -> list[EarningsRow]:
    """The coach's earnings in ``currency`` per offering, by title."""
    return _earnings(coach=coach, currency=currency, by=("offering",))


def earnings_total_for_coach(*, coach: User, currency: str) -> EarningsRow:
    """All of the coach's earnings in ``currency`` (zeros when there are none)."""
    return _earnings(coach=coach, currency=currency, by=())[0]


# --- Staff dashboard --------------------------------------------------------------


def payment_totals_by_status(*, since: datetime) -> list[dict]:
    """Payments created since ``since``, counted and summed per status and currency.

    Each row: ``status``, ``currency``, ``count``, ``amount`` (gross),
    ``received`` and ``refunded`` (minor units of that row's currency).
    """
    return list(
        Payment.objects.filter(created_at__gte=since)
        .values("status", "currency")
        .annotate(
            count=Count("pk"),
            amount=Sum("amount"),
            received=Sum("amount_received"),
            refunded=Sum("amount_refunded"),
        )
        .order_by("status", "currency")
    )


def payment_list_stuck(
    *, older_than: datetime, now: datetime | None = None
) -> QuerySet[Payment]:
    """Payments still open (not charged, not ended) and untouched since
    ``older_than``, and any payment still in ``requires_action`` after its
    booking's hold ended (the client never finished 3-D Secure, and the hold
    is gone, however recently reconciliation touched the row).

    Oldest first, with their booking and payer joined.
    """
    now = now or timezone.now()
    past_hold = Q(status=Payment.Status.REQUIRES_ACTION, booking__expires_at__lte=now)
    return (
        Payment.objects.filter(
            Q(pk__in=payments_stuck(older_than=older_than).values("pk")) | past_hold
        )
        .select_related("booking", "payer")
        .order_by("updated_at")
    )


def webhook_event_list_dead() -> QuerySet[WebhookEvent]:
    """Dead-lettered Stripe events, newest first."""
    return WebhookEvent.objects.filter(status=WebhookEvent.Status.DEAD).order_by(
        "-received_at"
    )


def webhook_event_count_retrying() -> int:
    """Events whose processing failed and that are waiting for another try."""
    return WebhookEvent.objects.filter(status=WebhookEvent.Status.FAILED).count()


def refund_list_pending() -> QuerySet[Refund]:
    """Refunds whose outcome at Stripe is not known yet, oldest first."""
    return (
        Refund.objects.filter(status=Refund.Status.PENDING)
        .select_related("payment", "payment__payer", "requested_by")
        .order_by("created_at")
    )


def coach_share_for_bookings(*, booking_ids) -> dict:
    """What the coach receives now for each booking, from the ledger: their
    earning less the reversals of refunds (booking id -> minor units).
    Bookings without ledger entries (never charged) are left out."""
    rows = (
        LedgerEntry.objects.filter(
            payment__booking_id__in=list(booking_ids), kind__in=LedgerEntry.COACH
        )
        .values("payment__booking_id")
        .annotate(total=Sum("amount"))
    )
    return {row["payment__booking_id"]: row["total"] for row in rows}


# --- Audit timeline --------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a payment's history, whatever record it comes from."""

    at: datetime
    kind: str  # transition | refund | stripe_call | webhook | ledger | staff
    title: str
    detail: str
    actor: str
    rank: tuple


# Within one instant, cause before effect.
_KIND_ORDER = {
    "staff": 0,
    "stripe_call": 1,
    "webhook": 2,
    "transition": 3,
    "refund": 4,
    "ledger": 5,
}


def payment_timeline(*, payment: Payment) -> list[TimelineEntry]:
    """Everything that happened to a payment, oldest first, in one list.

    Merges its transitions, its refunds' transitions, the requests we sent to
    Stripe about it, the webhook events about its intent (or named by its
    transitions), its ledger entries and staff actions. Records made in the
    same instant go cause first, then by id. For admins: the caller has
    checked the reader may see the payment. Six queries.
    """
    entries: list[TimelineEntry] = []

    def add(at, kind: str, pk: int, title: str, detail: str = "", actor=None):
        entries.append(
            TimelineEntry(
                at=at,
                kind=kind,
                title=title,
                detail=detail,
                actor=getattr(actor, "email", "") if actor else "",
                rank=(at, _KIND_ORDER[kind], pk),
            )
        )

    event_ids: set[str] = set()
    for row in payment.transitions.select_related("actor"):
        event_ids.add(row.stripe_event_id)
        add(
            row.created_at,
            "transition",
            row.pk,
            f"Payment {row.from_status or 'created'} → {row.to_status}",
            f"v{row.version} · {row.cause}"
            + (f" · {row.stripe_event_id}" if row.stripe_event_id else ""),
            row.actor,
        )
    for row in RefundTransition.objects.filter(refund__payment=payment).select_related(
        "refund", "actor"
    ):
        event_ids.add(row.stripe_event_id)
        add(
            row.created_at,
            "refund",
            row.pk,
            f"Refund {row.from_status or 'requested'} → {row.to_status}",
            f"{to_major(row.refund.amount, row.refund.currency)} "
            f"{row.refund.currency} · {row.cause}"
            + (f" · {row.stripe_event_id}" if row.stripe_event_id else ""),
            row.actor,
        )
    for row in StripeCall.objects.filter(payment=payment):
        status = row.http_status or "no answer"
        add(
            row.created_at,
            "stripe_call",
            row.pk,
            f"Stripe {row.operation} → {status}",
            " · ".join(
                part
                for part in (
                    row.object_id,
                    row.idempotency_key,
                    row.stripe_request_id,
                    f"{row.duration_ms} ms",
                    f"attempt {row.attempt}" if row.attempt > 1 else "",
                    row.error_code,
                )
                if part
            ),
        )
    event_ids.discard("")
    intent_id = payment.stripe_payment_intent_id
    about = Q(stripe_event_id__in=event_ids)
    if intent_id:
        about |= Q(payload__data__object__id=intent_id) | Q(
            payload__data__object__payment_intent=intent_id
        )
    for row in WebhookEvent.objects.filter(about):
        add(
            row.received_at,
            "webhook",
            row.pk,
            f"Webhook {row.type} ({row.status})",
            f"{row.stripe_event_id} · {row.attempts} attempt(s)"
            + (f" · {row.last_error}" if row.last_error else ""),
        )
    for row in payment.ledger.all():
        add(
            row.created_at,
            "ledger",
            row.pk,
            f"Ledger {row.kind}",
            f"{to_major(row.amount, row.currency)} {row.currency}",
        )
    for row in StaffAction.objects.filter(payment=payment).select_related("actor"):
        add(
            row.created_at,
            "staff",
            row.pk,
            f"Staff: {row.get_action_display()}",
            ", ".join(f"{k}: {v}" for k, v in sorted(row.details.items()) if v != ""),
            row.actor,
        )
    entries.sort(key=lambda entry: entry.rank)
    return entries
