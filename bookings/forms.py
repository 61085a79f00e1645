"""Forms of the coach pages: input shape only; the rules live in services."""

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bookings.models import (
    MAX_BUFFER_MINUTES,
    MAX_CANCELLATION_WINDOW_HOURS,
    MAX_HORIZON_DAYS,
    MAX_NOTICE_HOURS,
    AvailabilityException,
    AvailabilityWindow,
    validate_time_zone,
)
from money.amounts import (
    MAX_AMOUNT_MINOR,
    MoneyError,
    exponent,
    parse_amount,
    to_major,
)


class AmountField(forms.DecimalField):
    """A price in major units of ``currency``, read by the one bounded parser.

    Django's DecimalField hands the text to ``Decimal()``, which takes other
    scripts' digits ("٣" is 3) and exponents; ``money.amounts.parse_amount``
    takes plain ASCII decimals only, up to Stripe's maximum charge.
    """

    def __init__(self, *, currency: str, **kwargs: Any):
        self.currency = currency
        digits = exponent(currency)
        super().__init__(
            decimal_places=digits,
            min_value=Decimal(1).scaleb(-digits),
            max_value=Decimal(MAX_AMOUNT_MINOR).scaleb(-digits),
            **kwargs,
        )

    def to_python(self, value: Any) -> Decimal | None:
        if value in self.empty_values:
            return None
        try:
            minor = parse_amount(str(value).strip(), self.currency)
        except MoneyError as exc:
            raise ValidationError(str(exc), code="invalid") from None
        return Decimal(to_major(minor, self.currency))


class OfferingForm(forms.Form):
    """Title, duration and price (major units of ``currency``) of an offering."""

    title = forms.CharField(
        label=_("Title"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=2000,
        help_text=_("Shown on your page: what the session is for."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    duration_minutes = forms.IntegerField(
        label=_("Duration (minutes)"),
        min_value=15,
        max_value=8 * 60,
        help_text=_("From 15 minutes to 8 hours. Sessions start on the half hour."),
        widget=forms.NumberInput(attrs={"step": 15, "inputmode": "numeric"}),
    )

    # Which field the service's ValidationError keys belong to.
    MODEL_FIELDS = {
        "title": "title",
        "description": "description",
        "duration_minutes": "duration_minutes",
        "price_amount": "price",
    }

    def __init__(self, *args, currency: str, vat_included: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency
        # Built here: its decimals (and the input's step) are the currency's.
        self.fields["price"] = AmountField(
            currency=currency,
            label=_("Price (%(currency)s)") % {"currency": currency},
            help_text=(
                _("What the client pays, VAT included.")
                if vat_included
                else _("Before VAT; VAT is added on top.")
            ),
            widget=forms.NumberInput(attrs={"inputmode": "decimal"}),
        )

    def add_service_errors(self, error_dict: dict[str, list]) -> None:
        """Put a service's ``full_clean`` errors next to the fields they are about."""
        for model_field, errors in error_dict.items():
            field = self.MODEL_FIELDS.get(model_field)
            for error in errors:
                self.add_error(field, error)


class CoachProfileForm(forms.Form):
    """The coach's public profile and the terms of new bookings."""

    name = forms.CharField(
        label=_("Display name"),
        max_length=150,
        help_text=_("The name clients see."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    bio = forms.CharField(
        label=_("About you"),
        max_length=4000,
        help_text=_("Shown on your page: who you help and how."),
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    time_zone = forms.CharField(
        label=_("Your time zone"),
        max_length=64,
        help_text=_("Your hours are in this zone. Example: Europe/Zurich."),
        widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off"}),
    )
    cancellation_window_hours = forms.IntegerField(
        label=_("Free cancellation up to (hours before)"),
        min_value=0,
        max_value=MAX_CANCELLATION_WINDOW_HOURS,
        help_text=_(
            "Clients who cancel earlier get everything back. Applies to new "
            "bookings only."
        ),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    buffer_minutes = forms.IntegerField(
        label=_("Break between sessions (minutes)"),
        min_value=0,
        max_value=MAX_BUFFER_MINUTES,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "step": 5}),
    )
    booking_horizon_days = forms.IntegerField(
        label=_("Clients may book up to (days ahead)"),
        min_value=1,
        max_value=MAX_HORIZON_DAYS,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    min_notice_hours = forms.IntegerField(
        label=_("Minimum notice (hours)"),
        min_value=0,
        max_value=MAX_NOTICE_HOURS,
        help_text=_("How long before a session it can still be booked."),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )

    def clean_time_zone(self) -> str:
        value = self.cleaned_data["time_zone"].strip()
        try:
            validate_time_zone(value)
        except ValidationError:
            raise ValidationError(
                _("Choose a time zone from the list, such as Europe/Zurich.")
            ) from None
        return value

    def add_service_errors(self, error_dict: dict[str, list]) -> None:
        for field, errors in error_dict.items():
            for error in errors:
                self.add_error(field if field in self.fields else None, error)


# Rows per weekday on the hours page: enough for a split day; an extra empty
# row appears when all are used.
HOURS_ROWS_PER_DAY = 3


class WeeklyHoursForm(forms.Form):
    """Ranges per weekday: fields ``d<weekday>-<row>-start`` / ``-end``."""

    def __init__(self, *args, windows=(), **kwargs):
        super().__init__(*args, **kwargs)
        by_day: dict[int, list] = {}
        for window in windows:
            by_day.setdefault(window.weekday, []).append(window)
        self.days = []
        for weekday, day_name in AvailabilityWindow.Weekday.choices:
            existing = by_day.get(weekday, [])
            rows = max(HOURS_ROWS_PER_DAY, len(existing) + 1)
            day_rows = []
            for row in range(rows):
                window = existing[row] if row < len(existing) else None
                start = forms.TimeField(
                    label=_("%(day)s, range %(row)d, from")
                    % {"day": day_name, "row": row + 1},
                    required=False,
                    initial=window.start_time if window else None,
                    widget=forms.TimeInput(
                        attrs={"type": "time", "step": 1800}, format="%H:%M"
                    ),
                )
                end = forms.TimeField(
                    label=_("%(day)s, range %(row)d, until")
                    % {"day": day_name, "row": row + 1},
                    required=False,
                    initial=window.end_time if window else None,
                    widget=forms.TimeInput(
                        attrs={"type": "time", "step": 1800}, format="%H:%M"
                    ),
                )
                self.fields[f"d{weekday}-{row}-start"] = start
                self.fields[f"d{weekday}-{row}-end"] = end
                day_rows.append((f"d{weekday}-{row}-start", f"d{weekday}-{row}-end"))
            self.days.append({"weekday": weekday, "name": day_name, "rows": day_rows})

    def day_fields(self):
        """Per weekday: its name, error key and bound (from, until) field pairs."""
        return [
            {
                "weekday": day["weekday"],
                "name": day["name"],
                "errors": self.errors.get(f"weekday-{day['weekday']}", []),
                "rows": [(self[start], self[end]) for start, end in day["rows"]],
            }
            for day in self.days
        ]

    def clean(self):
        cleaned = super().clean()
        ranges = []
        for day in self.days:
            for start_name, end_name in day["rows"]:
                start, end = cleaned.get(start_name), cleaned.get(end_name)
                if start is None and end is None:
                    continue
                if start is None or end is None:
                    self.add_error(
                        end_name if end is None else start_name,
                        _("Give both times, or leave both empty."),
                    )
                    continue
                ranges.append((day["weekday"], start, end))
        cleaned["ranges"] = ranges
        return cleaned

    def add_service_errors(self, error_dict: dict[str, list]) -> None:
        """Day-level errors (``weekday-<n>``) are shown with their day."""
        for key, errors in error_dict.items():
            self._errors.setdefault(key, self.error_class()).extend(errors)


class AvailabilityExceptionForm(forms.Form):
    """A dated exception: a day off, or extra hours on one date."""

    date = forms.DateField(
        label=_("Date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    kind = forms.ChoiceField(
        label=_("What"),
        choices=AvailabilityException.Kind.choices,
        widget=forms.RadioSelect,
        initial=AvailabilityException.Kind.DAY_OFF,
    )
    start_time = forms.TimeField(
        label=_("From (extra hours only)"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time", "step": 1800}, format="%H:%M"),
    )
    end_time = forms.TimeField(
        label=_("Until (extra hours only)"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time", "step": 1800}, format="%H:%M"),
    )
    note = forms.CharField(
        label=_("Note (only you see it)"), max_length=200, required=False
    )

    def add_service_errors(self, error_dict: dict[str, list]) -> None:
        for field, errors in error_dict.items():
            for error in errors:
                self.add_error(field if field in self.fields else None, error)


class CoachCancelForm(forms.Form):
    """The coach's reason for cancelling a session; the client is sent it."""

    reason = forms.CharField(
        label=_("Message to the client"),
        max_length=1000,
        help_text=_("Why you cancel. The client receives it with the cancellation."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
