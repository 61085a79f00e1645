"""Output shapes shared across apps: the seed's ``price`` object, the error body.

Money goes out in major units as JSON numbers exact to the currency's decimals
(``100``, ``12.5``, ``7.49``), with the uppercase ISO code. Payments reuses
``price_object`` and ``PriceOutputSerializer`` for its own bodies.
"""

from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from money.amounts import to_major
from money.pricing import Breakdown, bps_to_percent

PRICE_EXAMPLE: dict[str, Any] = {
    "base": {"amount": 100, "currency": "CHF"},
    "final": {"amount": 100, "currency": "CHF"},
    "currency": "CHF",
    "vat": {"rate": 8.1, "included": True, "amount": 7.49},
    "platformFee": {"percentage": 15, "amount": 15},
}


def price_object(price: Breakdown) -> dict[str, Any]:
    """Render a breakdown as the seed's ``price`` object.

    ``base`` is the listed amount, ``final`` what the client pays; VAT and the
    platform fee carry their rate in percent and their amount.
    """
    currency = price.currency
    return {
        "base": {"amount": to_major(price.base, currency), "currency": currency},
        "final": {"amount": to_major(price.gross, currency), "currency": currency},
        "currency": currency,
        "vat": {
            "rate": bps_to_percent(price.vat_rate_bps),
            "included": price.vat_included,
            "amount": to_major(price.vat, currency),
        },
        "platformFee": {
            "percentage": bps_to_percent(price.platform_fee_bps),
            "amount": to_major(price.platform_fee, currency),
        },
    }


def _major_units(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=20, decimal_places=3, coerce_to_string=False, **kwargs
    )


class MoneyOutputSerializer(serializers.Serializer):
    amount = _major_units(help_text="Major units: 100 = CHF 100.00.")
    currency = serializers.CharField(help_text="ISO 4217, uppercase.")


class VatOutputSerializer(serializers.Serializer):
    rate = _major_units(help_text="Percent: 8.1 = 8.1 %.")
    included = serializers.BooleanField(help_text="Whether base already includes VAT.")
    amount = _major_units()


class PlatformFeeOutputSerializer(serializers.Serializer):
    percentage = _major_units()
    amount = _major_units()


class PriceOutputSerializer(serializers.Serializer):
    """The seed's price object; serialises a ``money.pricing.Breakdown``."""

    base = MoneyOutputSerializer()
    final = MoneyOutputSerializer()
    currency = serializers.CharField()
    vat = VatOutputSerializer()
    platformFee = PlatformFeeOutputSerializer()

    def to_representation(self, instance: Breakdown) -> dict[str, Any]:
        return price_object(instance)


class _ErrorDetailOutputSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: slot_taken.")
    message = serializers.CharField(help_text="For people, in the user's language.")
    details = serializers.DictField(help_text="Context for the code; may be empty.")


@extend_schema_serializer(component_name="ErrorResponse")
class ErrorOutputSerializer(serializers.Serializer):
    """Documents ``coaching.api_errors``' envelope; never used to render."""

    success = serializers.BooleanField(default=False)
    error = _ErrorDetailOutputSerializer()
