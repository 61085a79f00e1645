"""Pieces shared by the payment endpoints: fields, throttle, small shapers."""

import re
import uuid
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle

from coaching.ids import as_uuid
from money.amounts import (
    RATE_DECIMALS,
    MoneyError,
    parse_amount,
    parse_major,
    parse_rate_bps,
)
from payments.exceptions import PaymentNotFound
from payments.gateway import IntentResult

# Stripe promises ids of at most 255 characters.
STRIPE_ID_MAX_LENGTH = 255


_NUMBER_SCHEMA = {
    "oneOf": [
        {
            "type": "number",
            "minimum": 0,
            "exclusiveMinimum": True,
            "maximum": 99999999,
        },
        {"type": "string", "pattern": r"^[0-9]{1,8}(\.[0-9]{1,3})?$"},
    ]
}


@extend_schema_field(_NUMBER_SCHEMA)
class MajorAmountField(serializers.Field):
    """A money amount in major units (``100``, ``12.5``, ``"12.50"``), kept exact.

    Checked by the bounded parser (``money.amounts``) at once: plain ASCII
    digits, no exponent, no sign, at most three decimals and Stripe's maximum
    charge. The view checks the currency's own decimals once it knows the
    currency (``amount_in_currency``).
    """

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            return parse_major(data)
        except MoneyError as exc:
            raise serializers.ValidationError(str(exc), code="invalid") from None

    def to_representation(self, value):
        return value


@extend_schema_field(
    {
        "oneOf": [
            {"type": "number", "minimum": 0, "maximum": 100},
            {"type": "string", "pattern": r"^[0-9]{1,3}(\.[0-9]{1,2})?$"},
        ]
    }
)
class PercentField(serializers.Field):
    """A rate in percent (``8.1``, ``"15"``): at most two decimals, 0 to 100."""

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            return Decimal(parse_rate_bps(data)).scaleb(-RATE_DECIMALS)
        except MoneyError as exc:
            raise serializers.ValidationError(str(exc), code="invalid") from None

    def to_representation(self, value):
        return value


def amount_in_currency(value: Decimal, currency: str, *, field: str) -> int:
    """A ``MajorAmountField`` value in minor units of ``currency``.

    Raises a DRF ValidationError naming ``field`` (400 ``validation_error``)
    when the amount has more decimals than the currency or is out of range.
    """
    try:
        return parse_amount(value, currency)
    except MoneyError as exc:
        raise serializers.ValidationError({field: [str(exc)]}) from None


class StripeIdField(serializers.RegexField):
    """A Stripe object id of one kind (``pm_...``, ``pi_...``), checked for shape.

    Ids from outside end up in Stripe's URLs: only the prefix, ASCII letters,
    digits and underscores, and a bounded length get that far.
    """

    def __init__(self, prefix: str, **kwargs: Any):
        kwargs.setdefault(
            "error_messages",
            {
                "invalid": _("Not a valid Stripe id (%(prefix)s...).")
                % {"prefix": prefix}
            },
        )
        super().__init__(
            stripe_id_pattern(prefix), max_length=STRIPE_ID_MAX_LENGTH, **kwargs
        )


def stripe_id_pattern(prefix: str) -> re.Pattern:
    return re.compile(rf"^{re.escape(prefix)}[A-Za-z0-9_]+\Z", re.ASCII)


def check_stripe_id(value: str, prefix: str, *, field: str) -> str:
    """``value`` if it has the shape of a Stripe id with ``prefix``, else a
    DRF ValidationError naming ``field`` (for ids that come in URLs)."""
    if len(value) > STRIPE_ID_MAX_LENGTH or not stripe_id_pattern(prefix).match(value):
        raise serializers.ValidationError(
            {field: [_("Not a valid Stripe id (%(prefix)s...).") % {"prefix": prefix}]}
        )
    return value


class PaymentsThrottle(ScopedRateThrottle):
    """Per-user limit on operations that reach Stripe."""


def intent_object(intent: IntentResult) -> dict[str, Any]:
    """A PaymentIntent in Stripe's own conventions (minor units, lowercase)."""
    return {
        "id": intent.id,
        "object": "payment_intent",
        "amount": intent.amount,
        "amount_received": intent.amount_received,
        "currency": intent.currency.lower(),
        "status": intent.status,
        "charges": {"object": "list", "data": list(intent.charges)},
    }


def parse_uuid(value: str) -> uuid.UUID:
    """An id from the URL, or a 404 (the one reader: ``coaching.ids``)."""
    parsed = as_uuid(value)
    if parsed is None:
        raise PaymentNotFound(_("Not found."))
    return parsed


PRICE_EXAMPLE = {
    "base": {"amount": 100, "currency": "CHF"},
    "final": {"amount": 100, "currency": "CHF"},
    "currency": "CHF",
    "vat": {"rate": 8.1, "included": True},
    "platformFee": {"percentage": 15},
}


def validated(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
