"""Forms of the coach pages: input shape only; the rules live in services."""

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from payments.money import (
    MAX_AMOUNT_MINOR,
    MoneyError,
    exponent,
    parse_amount,
    to_major,
)


class AmountField(forms.DecimalField):
    """A price in major units of ``currency``, read by the one bounded parser.

    Django's DecimalField hands the text to ``Decimal()``, which takes other
    scripts' digits ("٣" is 3) and exponents; ``payments.money.parse_amount``
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
