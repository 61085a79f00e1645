"""Payment data and its invariants. Every write goes through payments.services."""

import uuid
from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PaymentStatus(models.TextChoices):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method", _("Awaiting card")
    REQUIRES_CONFIRMATION = "requires_confirmation", _("Awaiting confirmation")
    REQUIRES_ACTION = "requires_action", _("Awaiting authentication")
    PROCESSING = "processing", _("Processing")
    SUCCEEDED = "succeeded", _("Paid")
    FAILED = "failed", _("Failed")
    CANCELED = "canceled", _("Canceled")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")
    DISPUTED = "disputed", _("Disputed")


S = PaymentStatus
# Before a card was charged: the states a confirm may still change.
PRE_CHARGE = frozenset(
    {S.REQUIRES_PAYMENT_METHOD, S.REQUIRES_CONFIRMATION, S.REQUIRES_ACTION}
)

# The one state machine. A move not listed here is refused (by a user) or
# ignored and logged (a late or out-of-order Stripe event).
ALLOWED: dict[str, set[str]] = {
    S.REQUIRES_PAYMENT_METHOD: {
        S.REQUIRES_CONFIRMATION,
        S.REQUIRES_ACTION,
        S.PROCESSING,
        S.SUCCEEDED,
        S.FAILED,
        S.CANCELED,
    },
    S.REQUIRES_CONFIRMATION: {
        S.REQUIRES_PAYMENT_METHOD,
        S.REQUIRES_ACTION,
        S.PROCESSING,
        S.SUCCEEDED,
        S.FAILED,
        S.CANCELED,
    },
    S.REQUIRES_ACTION: {
        S.REQUIRES_PAYMENT_METHOD,
        S.REQUIRES_CONFIRMATION,
        S.PROCESSING,
        S.SUCCEEDED,
        S.FAILED,
        S.CANCELED,
    },
    S.PROCESSING: {S.SUCCEEDED, S.FAILED, S.CANCELED, S.REQUIRES_PAYMENT_METHOD},
    S.SUCCEEDED: {S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED},
    S.PARTIALLY_REFUNDED: {S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED},
    S.DISPUTED: {S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED},
    S.REFUNDED: set(),
    S.FAILED: set(),
    S.CANCELED: set(),
}
OPEN = frozenset({*PRE_CHARGE, S.PROCESSING})
CHARGED = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED})
FINAL = frozenset({S.REFUNDED, S.FAILED, S.CANCELED})
# A payment that ended without money moving; any other payment is "live", and a
# booking has at most one live payment.
ENDED = frozenset({S.FAILED, S.CANCELED})
REFUNDABLE = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED})


class PaymentQuerySet(models.QuerySet):
    def live(self) -> "PaymentQuerySet":
        """Payments that have not ended (not failed, not canceled)."""
        return self.exclude(status__in=ENDED)


class Payment(models.Model):
    """One attempt to collect a booking's price through one Stripe PaymentIntent.

    A booking has at most one payment that is neither failed nor canceled: a
    declined card ends its payment, and paying again starts a fresh one.
    """

    Status = PaymentStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    booking = models.ForeignKey(
        "bookings.Booking", on_delete=models.PROTECT, related_name="payments"
    )
    payer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments_made"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="payments_received",
    )
    status = models.CharField(
        max_length=32, choices=Status.choices, default=Status.REQUIRES_PAYMENT_METHOD
    )
    version = models.PositiveIntegerField(default=1)

    currency = models.CharField(max_length=3)
    amount = models.PositiveBigIntegerField(help_text=_("Gross, minor units."))
    net_amount = models.PositiveBigIntegerField()
    vat_amount = models.PositiveBigIntegerField()
    vat_rate_bps = models.PositiveIntegerField()
    platform_fee_amount = models.PositiveBigIntegerField()
    coach_amount = models.PositiveBigIntegerField()
    amount_received = models.PositiveBigIntegerField(default=0)
    amount_refunded = models.PositiveBigIntegerField(default=0)

    stripe_payment_intent_id = models.CharField(
        max_length=255, unique=True, null=True, blank=True
    )
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    stripe_payment_method_id = models.CharField(max_length=255, blank=True)
    stripe_destination_account_id = models.CharField(max_length=255, blank=True)
    card_brand = models.CharField(max_length=32, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    last_error_code = models.CharField(max_length=64, blank=True)
    last_error_message = models.CharField(max_length=500, blank=True)

    # Leases make one process the only caller of Stripe for a create or a
    # confirm, without holding a row lock across the network call.
    create_lease_until = models.DateTimeField(null=True, blank=True)
    confirm_lease_until = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PaymentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "updated_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["booking"],
                condition=~Q(status__in=["failed", "canceled"]),
                name="payment_one_live_per_booking",
            ),
            models.CheckConstraint(
                condition=Q(net_amount=F("amount") - F("vat_amount")),
                name="payment_net_plus_vat_is_gross",
            ),
            models.CheckConstraint(
                condition=Q(coach_amount=F("amount") - F("platform_fee_amount")),
                name="payment_fee_plus_coach_is_gross",
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded__lte=F("amount_received")),
                name="payment_refunded_at_most_received",
            ),
            models.CheckConstraint(
                condition=Q(amount_received__lte=F("amount")),
                name="payment_received_at_most_amount",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="payment_currency_iso"
            ),
        ]

    def __str__(self) -> str:
        return f"Payment {self.id} {self.amount} {self.currency} ({self.status})"

    @property
    def amount_refundable(self) -> int:
        return self.amount_received - self.amount_refunded


class PaymentTransition(models.Model):
    """An append-only record of one status change of a payment."""

    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="transitions"
    )
    from_status = models.CharField(max_length=32, choices=PaymentStatus.choices)
    to_status = models.CharField(max_length=32, choices=PaymentStatus.choices)
    version = models.PositiveIntegerField()
    cause = models.CharField(max_length=64)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    stripe_event_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["payment", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["payment", "version"], name="payment_transition_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.from_status} -> {self.to_status} ({self.cause})"


class Refund(models.Model):
    """Money given back on a payment. Pending refunds reserve their amount."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELED = "canceled", _("Canceled")

    class Reason(models.TextChoices):
        REQUESTED_BY_CUSTOMER = "requested_by_customer", _("Requested by customer")
        DUPLICATE = "duplicate", _("Duplicate")
        FRAUDULENT = "fraudulent", _("Fraudulent")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="refunds"
    )
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=32, choices=Reason.choices)
    note = models.CharField(max_length=500, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    stripe_refund_id = models.CharField(
        max_length=255, unique=True, null=True, blank=True
    )
    failure_reason = models.CharField(max_length=255, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="refund_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Refund {self.amount} {self.currency} ({self.status})"


class LedgerEntry(models.Model):
    """An append-only money movement, signed, in minor units.

    Cash entries (``charge``, ``refund``, ``chargeback``, ``dispute_fee``) sum
    to what Stripe holds for the payment. Allocation entries (the platform's
    and the coach's kinds) split that same amount between the platform and the
    coach; ``vat`` entries record the tax inside it. With the proportional
    refund-fee rule, a full refund nets every kind to zero.

    Coach balance entries (README "Coach balances") never move cash: an
    ``earning_matured`` or ``adjustment`` moves part of the coach's share from
    pending to available, a ``payout`` (no payment) takes it out of available.
    Every entry names its coach, so balances are one sum per coach.
    """

    class Kind(models.TextChoices):
        CHARGE = "charge", _("Charge")
        REFUND = "refund", _("Refund")
        PLATFORM_FEE = "platform_fee", _("Platform fee")
        PLATFORM_FEE_REVERSAL = "platform_fee_reversal", _("Platform fee reversal")
        COACH_EARNING = "coach_earning", _("Coach earning")
        COACH_EARNING_REVERSAL = "coach_earning_reversal", _("Coach earning reversal")
        VAT = "vat", _("VAT")
        VAT_REVERSAL = "vat_reversal", _("VAT reversal")
        CHARGEBACK = "chargeback", _("Chargeback (lost dispute)")
        DISPUTE_FEE = "dispute_fee", _("Stripe dispute fee")
        PLATFORM_CHARGEBACK = "platform_chargeback", _("Platform share of chargeback")
        COACH_CHARGEBACK = "coach_chargeback", _("Coach share of chargeback")
        PLATFORM_DISPUTE_FEE = (
            "platform_dispute_fee",
            _("Platform share of dispute fee"),
        )
        COACH_DISPUTE_FEE = "coach_dispute_fee", _("Coach share of dispute fee")
        EARNING_MATURED = "earning_matured", _("Earning available")
        ADJUSTMENT = "adjustment", _("Adjustment against available")
        PAYOUT = "payout", _("Payout")

    CASH = frozenset({Kind.CHARGE, Kind.REFUND, Kind.CHARGEBACK, Kind.DISPUTE_FEE})
    PLATFORM = frozenset(
        {
            Kind.PLATFORM_FEE,
            Kind.PLATFORM_FEE_REVERSAL,
            Kind.PLATFORM_CHARGEBACK,
            Kind.PLATFORM_DISPUTE_FEE,
        }
    )
    COACH = frozenset(
        {
            Kind.COACH_EARNING,
            Kind.COACH_EARNING_REVERSAL,
            Kind.COACH_CHARGEBACK,
            Kind.COACH_DISPUTE_FEE,
        }
    )
    TAX = frozenset({Kind.VAT, Kind.VAT_REVERSAL})
    # Moves between the coach's pending and available balances.
    MATURING = frozenset({Kind.EARNING_MATURED, Kind.ADJUSTMENT})

    payment = models.ForeignKey(
        Payment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger",
    )
    refund = models.ForeignKey(
        Refund, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger"
    )
    payout = models.ForeignKey(
        "payments.Payout",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger",
    )
    coach = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    amount = models.BigIntegerField(help_text=_("Signed, minor units."))
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["payment", "id"]
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["coach", "currency", "created_at"])]
        constraints = [
            # One charge per payment and one entry of each kind per refund, so
            # a replayed event can never book the same movement twice. The
            # same makes maturing a payment and booking a lost dispute
            # idempotent: a second run hits the constraint.
            models.UniqueConstraint(
                fields=["payment", "kind"],
                condition=Q(refund__isnull=True),
                name="ledger_once_per_payment_kind",
            ),
            models.UniqueConstraint(
                fields=["refund", "kind"],
                condition=Q(refund__isnull=False),
                name="ledger_once_per_refund_kind",
            ),
            models.UniqueConstraint(
                fields=["payout", "kind"],
                condition=Q(payout__isnull=False),
                name="ledger_once_per_payout_kind",
            ),
            models.CheckConstraint(
                condition=Q(payment__isnull=False) | Q(payout__isnull=False),
                name="ledger_payment_or_payout",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency}"


class Payout(models.Model):
    """Money paid to a coach out of their available balance.

    Without a connected Stripe account staff pay by bank transfer and record
    it here (reference and date); the ``payout`` ledger entry takes it out of
    the available balance. Written only by ``payments.services.payouts``.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    coach = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts"
    )
    amount = models.PositiveBigIntegerField(help_text=_("Minor units."))
    currency = models.CharField(max_length=3)
    bank_reference = models.CharField(max_length=100)
    paid_on = models.DateField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-paid_on", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="payout_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Payout {self.amount} {self.currency} ({self.bank_reference})"


class InvoiceCounter(models.Model):
    """The last number issued in one invoice series, locked while issuing.

    Numbers come from this row under ``select_for_update`` in the same
    transaction that creates the invoice, so they have no gaps and no repeats.
    """

    series = models.CharField(max_length=16, unique=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.series}: {self.last_number}"


class AppendOnlyModel(models.Model):
    """A record that is written once: saving it again or deleting it raises."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValueError(f"{type(self).__name__} rows are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError(f"{type(self).__name__} rows are append-only.")


class PlatformFeeInvoice(AppendOnlyModel):
    """The platform's invoice to a coach for one month's platform fee.

    Immutable once issued: the seller's details are copied in, and ``save``
    refuses to change an issued row.
    """

    number = models.CharField(max_length=32, unique=True)
    coach = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    month = models.DateField(help_text=_("First day of the month invoiced."))
    currency = models.CharField(max_length=3)
    fee_net = models.BigIntegerField()
    vat_amount = models.BigIntegerField()
    fee_gross = models.BigIntegerField()
    vat_rate_bps = models.PositiveIntegerField()
    seller_name = models.CharField(max_length=200)
    seller_address = models.TextField()
    seller_vat_number = models.CharField(max_length=64)
    buyer_name = models.CharField(max_length=200)
    issued_at = models.DateTimeField()

    class Meta:
        ordering = ["-month", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["coach", "month", "currency"], name="invoice_once_per_month"
            ),
            models.CheckConstraint(
                condition=Q(fee_gross=F("fee_net") + F("vat_amount")),
                name="invoice_net_plus_vat_is_gross",
            ),
        ]

    def __str__(self) -> str:
        return f"Invoice {self.number}"


class StripeCustomer(models.Model):
    """The Stripe customer that holds a user's saved cards."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="stripe_customer",
    )
    stripe_customer_id = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.stripe_customer_id


class SavedPaymentMethod(models.Model):
    """A card a user keeps for later; the card data itself stays at Stripe."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="payment_methods",
    )
    stripe_payment_method_id = models.CharField(max_length=255, unique=True)
    brand = models.CharField(max_length=32)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    # Stripe's card.fingerprint (the same card number gives the same value for
    # one account): the same card is not saved twice. Empty if Stripe gave none.
    fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(is_default=True),
                name="one_default_card_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.brand} •••• {self.last4}"

    @property
    def is_expired(self) -> bool:
        return card_expired(self.exp_month, self.exp_year)


def card_expired(exp_month: int, exp_year: int, today: date | None = None) -> bool:
    """A card is good through the last day of its expiry month (UTC)."""
    today = today or timezone.now().date()
    return (exp_year, exp_month) < (today.year, today.month)


class WebhookEvent(models.Model):
    """A Stripe event, stored raw and once, then processed (and retried) by us."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed, will retry")
        DEAD = "dead", _("Dead-lettered")

    stripe_event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField()
    livemode = models.BooleanField(default=False)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # The full traceback of the last failed attempt (tail kept if long): the
    # one-line error above says what, this says where.
    last_traceback = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker holds the event while it processes it; a lapsed lease means
    # the worker died and another may take over.
    locked_until = models.DateTimeField(null=True, blank=True)
    stripe_created_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_event_id} ({self.status})"

    @property
    def object_id(self) -> str:
        return ((self.payload.get("data") or {}).get("object") or {}).get("id", "")


class Notification(models.Model):
    """An in-app message about a booking's money, also sent by email."""

    class Kind(models.TextChoices):
        PAYMENT_SUCCEEDED = "payment_succeeded", _("Payment received")
        PAYMENT_FAILED = "payment_failed", _("Payment failed")
        REFUNDED = "refunded", _("Refund issued")
        HOLD_EXPIRED = "hold_expired", _("Booking hold expired")
        DISPUTE_OPENED = "dispute_opened", _("Payment disputed")
        BOOKING_CANCELLED = "booking_cancelled", _("Booking cancelled")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    booking = models.ForeignKey(
        "bookings.Booking", on_delete=models.CASCADE, related_name="notifications"
    )
    # One notification per (recipient, kind, booking, dedupe key): retried
    # tasks and replayed events never notify twice.
    dedupe_key = models.CharField(max_length=255)
    title = models.CharField(max_length=200)
    body = models.TextField()
    read = models.BooleanField(default=False)
    emailed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "kind", "booking", "dedupe_key"],
                name="notification_once",
            )
        ]
        indexes = [models.Index(fields=["recipient", "read", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient}"


# --- Audit trail ---------------------------------------------------------------------
# Append-only records of who and what changed money, and of every request we
# sent to Stripe. Rows are written by the services (and, for Stripe calls, by
# the recorder the app registers with the gateway), never edited.


class RefundTransition(AppendOnlyModel):
    """One status change of a refund; ``from_status`` is empty at creation."""

    refund = models.ForeignKey(
        Refund, on_delete=models.PROTECT, related_name="transitions"
    )
    from_status = models.CharField(
        max_length=16, choices=Refund.Status.choices, blank=True
    )
    to_status = models.CharField(max_length=16, choices=Refund.Status.choices)
    cause = models.CharField(max_length=64)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    stripe_event_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["refund", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status} ({self.cause})"


class StaffAction(AppendOnlyModel):
    """Something staff did to money or Stripe's records, and who did it.

    ``actor`` is empty for a management command (no user behind it); the
    ``details`` then say where it came from.
    """

    class Action(models.TextChoices):
        REFUND = "refund", _("Refund")
        RESYNC = "resync", _("Re-sync from Stripe")
        REPLAY = "replay", _("Webhook replay")
        CANCEL = "cancel", _("Booking cancellation")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    payment = models.ForeignKey(
        Payment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff_actions",
    )
    booking = models.ForeignKey(
        "bookings.Booking",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    webhook_event = models.ForeignKey(
        WebhookEvent,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff_actions",
    )
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor or 'command'}"


class StripeCall(AppendOnlyModel):
    """One HTTP request we sent to Stripe (each retry is a row of its own).

    Ids, codes and timings only: never card data, keys or request bodies.
    """

    operation = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=255, blank=True)
    object_id = models.CharField(max_length=255, blank=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    stripe_request_id = models.CharField(max_length=255, blank=True)
    duration_ms = models.PositiveIntegerField()
    error_code = models.CharField(max_length=64, blank=True)
    payment = models.ForeignKey(
        Payment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stripe_calls",
    )
    refund = models.ForeignKey(
        Refund,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stripe_calls",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["operation", "created_at"])]

    def __str__(self) -> str:
        return f"{self.operation} {self.http_status or '-'} ({self.duration_ms} ms)"
