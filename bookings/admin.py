"""Admin for coaches, offerings and bookings.

Bookings are read-only here: their status moves only through the services
(the admin action below uses them), and their price is a snapshot.
"""

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from bookings.models import (
    AvailabilityException,
    AvailabilityWindow,
    Booking,
    BookingTransition,
    CoachProfile,
    Offering,
)
from money.amounts import (
    MoneyError,
    charge_limits,
    exponent,
    format_money,
    parse_amount,
    parse_rate_bps,
)
from money.pricing import bps_to_percent


class PercentRateField(forms.CharField):
    """A rate typed in percent (``8.1``) and stored in basis points (``810``),
    read by the one bounded parser (``money.amounts``): Django's IntegerField
    would take other scripts' digits ("٣" is 3)."""

    def prepare_value(self, value: Any) -> Any:
        # Stored basis points shown as the percentage people type.
        return bps_to_percent(value) if isinstance(value, int) else value

    def to_python(self, value: Any) -> int | None:
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        try:
            return parse_rate_bps(text)
        except MoneyError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None


class CoachProfileAdminForm(forms.ModelForm):
    vat_rate_bps = PercentRateField(label=_("VAT rate (%)"))
    platform_fee_bps = PercentRateField(label=_("Platform fee (%)"))

    class Meta:
        model = CoachProfile
        fields = [
            "user",
            "bio",
            "time_zone",
            "currency",
            "vat_rate_bps",
            "vat_included",
            "platform_fee_bps",
            "cancellation_window_hours",
            "buffer_minutes",
            "booking_horizon_days",
            "min_notice_hours",
            "stripe_account_id",
        ]


class OfferingAdminForm(forms.ModelForm):
    """The price typed in major units of the offering's currency (``49.90``)
    and read by the bounded parser, like the coach's own form and the API."""

    price = forms.CharField(
        label=_("Price"),
        max_length=32,
        help_text=_("In the currency's major units, e.g. 49.90."),
    )

    class Meta:
        model = Offering
        # price_amount (minor units) is set from ``price`` in clean().
        fields = [
            "coach",
            "title",
            "description",
            "duration_minutes",
            "currency",
            "active",
        ]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            digits = exponent(self.instance.currency)
            major = Decimal(self.instance.price_amount).scaleb(-digits)
            self.initial["price"] = f"{major:.{digits}f}"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        currency, price = cleaned.get("currency"), cleaned.get("price")
        if currency and price is not None:
            # Within what Stripe can charge in the currency, as the coach's form.
            minimum, maximum = charge_limits(currency)
            try:
                self.instance.price_amount = parse_amount(
                    price, currency, minimum=minimum, maximum=maximum
                )
            except MoneyError as exc:
                self.add_error("price", str(exc))
        return cleaned


class AvailabilityWindowInline(admin.TabularInline):
    model = AvailabilityWindow
    extra = 0


class AvailabilityExceptionInline(admin.TabularInline):
    model = AvailabilityException
    extra = 0
    fields = ["date", "kind", "start_time", "end_time", "note"]


def _money(field: str, description: str):
    """A read-only column showing ``field`` (minor units) as ``CHF 55.00``."""

    @admin.display(description=description, ordering=field)
    def show(self, obj) -> str:
        return format_money(getattr(obj, field), obj.currency)

    show.__name__ = f"{field}_money"
    return show


@admin.register(CoachProfile)
class CoachProfileAdmin(admin.ModelAdmin):
    form = CoachProfileAdminForm
    list_display = [
        "user",
        "time_zone",
        "currency",
        "vat_rate_bps",
        "vat_included",
        "platform_fee_bps",
    ]
    list_select_related = ["user"]
    search_fields = ["user__email", "user__name"]
    raw_id_fields = ["user"]
    inlines = [AvailabilityWindowInline, AvailabilityExceptionInline]


@admin.register(Offering)
class OfferingAdmin(admin.ModelAdmin):
    form = OfferingAdminForm
    list_display = [
        "title",
        "coach",
        "duration_minutes",
        "price_amount_money",
        "active",
    ]
    price_amount_money = _money("price_amount", _("Price"))
    list_filter = ["active", "currency"]
    list_select_related = ["coach"]
    search_fields = ["title", "coach__email", "coach__name"]
    raw_id_fields = ["coach"]
    readonly_fields = ["created_at", "updated_at"]


class BookingTransitionInline(admin.TabularInline):
    model = BookingTransition
    extra = 0
    can_delete = False
    fields = ["created_at", "from_status", "to_status", "cause", "actor"]
    readonly_fields = fields
    ordering = ["created_at", "id"]

    def has_add_permission(
        self, request: HttpRequest, obj: Booking | None = None
    ) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: Booking | None = None
    ) -> bool:
        return False


# The snapshot's amounts, shown as money (the columns hold minor units).
PRICE_MONEY = {
    "price_base": _("Base"),
    "price_gross": _("Price"),
    "price_net": _("Net"),
    "vat_amount": _("VAT"),
    "platform_fee_amount": _("Platform fee"),
    "coach_amount": _("Coach's share"),
}
PRICE_FIELDS = [
    *(f"{field}_money" for field in PRICE_MONEY),
    "vat_rate_bps",
    "vat_included",
    "platform_fee_bps",
    "cancellation_window_hours",
]


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = [
        "starts_at",
        "offering",
        "client",
        "coach",
        "status",
        "price_gross_money",
    ]
    list_filter = ["status", "starts_at"]
    list_select_related = ["offering", "client", "coach"]
    search_fields = ["client__email", "coach__email", "id"]
    date_hierarchy = "starts_at"
    ordering = ["-starts_at"]
    fieldsets = [
        (None, {"fields": ["id", "status", "version", "client", "coach", "offering"]}),
        (
            _("Time"),
            {
                "fields": [
                    "starts_at",
                    "ends_at",
                    "expires_at",
                    "cancelled_at",
                    "cancel_reason",
                ]
            },
        ),
        (_("Price snapshot"), {"fields": PRICE_FIELDS}),
        (_("Record"), {"fields": ["created_at", "updated_at"]}),
    ]
    readonly_fields = [
        "id",
        "status",
        "version",
        "client",
        "coach",
        "offering",
        "starts_at",
        "ends_at",
        "expires_at",
        "cancelled_at",
        "cancel_reason",
        *PRICE_FIELDS,
        "created_at",
        "updated_at",
    ]
    inlines = [BookingTransitionInline]
    # Cancelling settles money (it cancels the hold's payment intent): the
    # action is added by the payments app's registration (payments.admin).

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # bookings are made through booking_create, which checks the slot

    def has_delete_permission(
        self, request: HttpRequest, obj: Booking | None = None
    ) -> bool:
        return False  # the audit trail and payments refer to them


for _field, _label in PRICE_MONEY.items():
    setattr(BookingAdmin, f"{_field}_money", _money(_field, _label))
