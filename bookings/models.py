"""Coaches, what they sell, and the sessions clients book with them."""

import datetime as dt
import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from money.pricing import MAX_RATE_BPS, Breakdown, PriceTerms


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("%(value)s is not a known time zone."), params={"value": value}
        )


# Bounds of the terms a coach sets on their profile page.
MAX_CANCELLATION_WINDOW_HOURS = 14 * 24
MAX_BUFFER_MINUTES = 4 * 60
MAX_HORIZON_DAYS = 365
MAX_NOTICE_HOURS = 14 * 24


class RefundFeeRule(models.TextChoices):
    """Who absorbs the platform fee when money goes back to the client."""

    # The platform returns its fee in proportion to the refund (the default,
    # and the behaviour before the rule existed).
    PROPORTIONAL = "proportional", _("Platform returns its fee in proportion")
    # The platform keeps its fee: the coach's share bears the whole refund.
    PLATFORM_KEEPS = "platform_keeps", _("Platform keeps its fee")


class CoachProfile(models.Model):
    """A coach's public page and the commercial terms of their sessions."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coach_profile"
    )
    bio = models.TextField(blank=True)
    time_zone = models.CharField(
        max_length=64, default="Europe/Zurich", validators=[validate_time_zone]
    )
    currency = models.CharField(max_length=3, default="CHF")
    vat_rate_bps = models.PositiveIntegerField(
        default=810,
        validators=[MaxValueValidator(MAX_RATE_BPS)],
        help_text=_("VAT rate in hundredths of a percent: 810 = 8.1 %."),
    )
    vat_included = models.BooleanField(
        default=True, help_text=_("Whether offering prices already include VAT.")
    )
    platform_fee_bps = models.PositiveIntegerField(
        default=1500,
        validators=[MaxValueValidator(MAX_RATE_BPS)],
        help_text=_("Platform fee in hundredths of a percent: 1500 = 15 %."),
    )
    cancellation_window_hours = models.PositiveIntegerField(
        default=24,
        validators=[MaxValueValidator(MAX_CANCELLATION_WINDOW_HOURS)],
        help_text=_(
            "Clients may cancel with a full refund up to this many hours before."
        ),
    )
    buffer_minutes = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_BUFFER_MINUTES)],
        help_text=_("Free minutes kept between two sessions."),
    )
    booking_horizon_days = models.PositiveIntegerField(
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_HORIZON_DAYS)],
        help_text=_("How many days ahead clients may book."),
    )
    min_notice_hours = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_NOTICE_HOURS)],
        help_text=_("How many hours before its start a session can still be booked."),
    )
    stripe_account_id = models.CharField(
        max_length=255,
        blank=True,
        help_text=_(
            "Connected Stripe account; empty: the platform holds the coach's share."
        ),
    )
    refund_fee_rule = models.CharField(
        max_length=20,
        choices=RefundFeeRule.choices,
        default=RefundFeeRule.PROPORTIONAL,
        help_text=_("Who bears the platform fee on refunds and lost disputes."),
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(vat_rate_bps__lte=MAX_RATE_BPS)
                & Q(platform_fee_bps__lte=MAX_RATE_BPS),
                name="coachprofile_rates_at_most_100_percent",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"),
                name="coachprofile_currency_iso",
            ),
        ]

    def __str__(self) -> str:
        return f"Coach {self.user}"

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class AvailabilityWindow(models.Model):
    """A weekly window, in the coach's time zone, in which sessions may fall."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    coach = models.ForeignKey(
        CoachProfile, on_delete=models.CASCADE, related_name="availability"
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["weekday", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_time__lt=F("end_time")),
                name="availability_start_before_end",
            ),
            models.CheckConstraint(
                condition=Q(weekday__lte=6), name="availability_weekday"
            ),
        ]

    def __str__(self) -> str:
        hours = f"{self.start_time:%H:%M}-{self.end_time:%H:%M}"
        return f"{self.get_weekday_display()} {hours}"


class AvailabilityException(models.Model):
    """A dated change to the weekly hours, in the coach's time zone.

    ``day_off``: no sessions on that date (a holiday), whatever the weekly
    hours say. ``extra``: sessions may also fall between ``start_time`` and
    ``end_time`` on that date. A day off wins over extra hours on the same date.
    """

    class Kind(models.TextChoices):
        DAY_OFF = "day_off", _("Day off")
        EXTRA = "extra", _("Extra hours")

    coach = models.ForeignKey(
        CoachProfile, on_delete=models.CASCADE, related_name="exceptions"
    )
    date = models.DateField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["date", "start_time"]
        indexes = [models.Index(fields=["coach", "date"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="day_off", start_time__isnull=True, end_time__isnull=True)
                    | Q(kind="extra", start_time__lt=F("end_time"))
                ),
                name="availabilityexception_kind_times",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.DAY_OFF:
            return f"{self.date} {self.get_kind_display()}"
        return f"{self.date} {self.start_time:%H:%M}-{self.end_time:%H:%M}"


class Offering(models.Model):
    """A kind of session a coach sells, at a price in minor units."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    coach = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="offerings"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=2000)
    duration_minutes = models.PositiveIntegerField(
        validators=[MinValueValidator(15), MaxValueValidator(8 * 60)]
    )
    price_amount = models.PositiveBigIntegerField(
        help_text=_(
            "Minor units; gross if the coach's prices include VAT, else the base."
        )
    )
    currency = models.CharField(max_length=3)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["coach", "duration_minutes", "title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="offering_currency_iso"
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=15), name="offering_duration_min"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.duration_minutes} min)"

    def price_terms(self, profile: CoachProfile) -> PriceTerms:
        return PriceTerms(
            amount=self.price_amount,
            currency=self.currency,
            vat_rate_bps=profile.vat_rate_bps,
            vat_included=profile.vat_included,
            platform_fee_bps=profile.platform_fee_bps,
        )


_BOOKING_STATUSES = [
    "pending_payment",
    "confirmed",
    "completed",
    "expired",
    "cancelled",
    "refunded",
]


class Booking(models.Model):
    """A session a client booked, with the price frozen at booking time."""

    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("Awaiting payment")
        CONFIRMED = "confirmed", _("Confirmed")
        COMPLETED = "completed", _("Completed")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")
        REFUNDED = "refunded", _("Refunded")

    # Statuses whose time slot is taken.
    LIVE = frozenset({Status.PENDING_PAYMENT, Status.CONFIRMED, Status.COMPLETED})
    FINAL = frozenset({Status.EXPIRED, Status.CANCELLED, Status.REFUNDED})
    ALLOWED = {
        Status.PENDING_PAYMENT: {Status.CONFIRMED, Status.EXPIRED, Status.CANCELLED},
        Status.CONFIRMED: {Status.COMPLETED, Status.CANCELLED, Status.REFUNDED},
        Status.COMPLETED: {Status.REFUNDED},
        Status.CANCELLED: {Status.REFUNDED},
        Status.EXPIRED: set(),
        Status.REFUNDED: set(),
    }

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="bookings_as_client",
    )
    coach = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="bookings_as_coach",
    )
    offering = models.ForeignKey(
        Offering, on_delete=models.PROTECT, related_name="bookings"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT
    )
    version = models.PositiveIntegerField(default=1)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When an unpaid hold is released.")
    )

    # Price snapshot, taken once at booking time and never updated.
    currency = models.CharField(max_length=3)
    price_base = models.PositiveBigIntegerField()
    price_gross = models.PositiveBigIntegerField()
    price_net = models.PositiveBigIntegerField()
    vat_amount = models.PositiveBigIntegerField()
    vat_rate_bps = models.PositiveIntegerField()
    vat_included = models.BooleanField()
    platform_fee_amount = models.PositiveBigIntegerField()
    platform_fee_bps = models.PositiveIntegerField()
    coach_amount = models.PositiveBigIntegerField()
    cancellation_window_hours = models.PositiveIntegerField()
    # Snapshot of the coach's rule at booking time (DESIGN.md "Terms are
    # snapshots"): a later change of the rule applies to new bookings only.
    refund_fee_rule = models.CharField(
        max_length=20,
        choices=RefundFeeRule.choices,
        default=RefundFeeRule.PROPORTIONAL,
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(
        blank=True,
        max_length=1000,
        help_text=_("What the coach told the client when cancelling."),
    )

    class Meta:
        ordering = ["-starts_at"]
        indexes = [
            models.Index(fields=["coach", "starts_at"]),
            models.Index(fields=["client", "-starts_at"]),
            models.Index(fields=["status", "expires_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")),
                name="booking_starts_before_ends",
            ),
            models.CheckConstraint(
                condition=Q(price_net__gte=0)
                & Q(price_net=F("price_gross") - F("vat_amount")),
                name="booking_net_plus_vat_is_gross",
            ),
            models.CheckConstraint(
                condition=Q(coach_amount=F("price_gross") - F("platform_fee_amount")),
                name="booking_fee_plus_coach_is_gross",
            ),
            models.CheckConstraint(
                condition=Q(status__in=_BOOKING_STATUSES), name="booking_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(coach=F("client")), name="booking_client_is_not_coach"
            ),
            # The slot-overlap exclusion constraint is PostgreSQL-only and lives
            # in migration 0002 (btree_gist).
        ]

    def __str__(self) -> str:
        return (
            f"{self.offering.title} on {self.starts_at:%Y-%m-%d %H:%M} ({self.status})"
        )

    @property
    def cancellation_closes_at(self) -> dt.datetime:
        """When the client's free cancellation (with a full refund) ends: the
        booking's snapshot of its coach's window before the session. The one
        place this deadline is computed (pages, refunds and the API use it)."""
        return self.starts_at - dt.timedelta(hours=self.cancellation_window_hours)

    def can_move_to(self, status: str) -> bool:
        return status in self.ALLOWED[self.Status(self.status)]

    @property
    def price_breakdown(self) -> Breakdown:
        """The price snapshot as the pricing module's Breakdown."""
        return Breakdown(
            base=self.price_base,
            gross=self.price_gross,
            net=self.price_net,
            vat=self.vat_amount,
            platform_fee=self.platform_fee_amount,
            coach_amount=self.coach_amount,
            currency=self.currency,
            vat_rate_bps=self.vat_rate_bps,
            vat_included=self.vat_included,
            platform_fee_bps=self.platform_fee_bps,
        )


class BookingTransition(models.Model):
    """One status change of a booking: an append-only audit row.

    Written only by ``bookings.services``; never updated or deleted. The row
    for a new booking has an empty ``from_status``.
    """

    booking = models.ForeignKey(
        Booking, on_delete=models.PROTECT, related_name="transitions"
    )
    from_status = models.CharField(
        max_length=20, choices=Booking.Status.choices, blank=True
    )
    to_status = models.CharField(max_length=20, choices=Booking.Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Who caused the change; empty for the system."),
    )
    cause = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["booking", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_status=F("to_status")),
                name="bookingtransition_changes_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status} ({self.cause})"
