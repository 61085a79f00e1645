"""Forms of the coach pages: input shape only; the rules live in services."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from payments.money import exponent


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
        digits = exponent(currency)
        # Built here: its decimals (and the input's step) are the currency's.
        self.fields["price"] = forms.DecimalField(
            label=_("Price (%(currency)s)") % {"currency": currency},
            max_digits=12,
            decimal_places=digits,
            min_value=Decimal(1).scaleb(-digits),
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
