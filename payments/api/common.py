"""Pieces shared by the payment endpoints: fields, throttle, small shapers."""

import uuid
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle

from payments.exceptions import PaymentNotFound
from payments.gateway import IntentResult


@extend_schema_field(OpenApiTypes.NUMBER)
class MajorAmountField(serializers.Field):
    """A money amount in major units (``100``, ``12.5``, ``"12.50"``), kept exact."""

    default_error_messages = {"invalid": _("A number of the currency's major units.")}

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, int | float | str):
            self.fail("invalid")
        try:
            # A JSON float's shortest repr is the decimal the client wrote.
            value = Decimal(repr(data) if isinstance(data, float) else str(data))
        except ArithmeticError:
            self.fail("invalid")
        if not value.is_finite() or value <= 0:
            self.fail("invalid")
        return value

    def to_representation(self, value):
        return value


class StrictUUIDField(serializers.UUIDField):
    """A UUID given as a string (DRF would also turn the number 12 into one)."""

    def to_internal_value(self, data: Any) -> uuid.UUID:
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


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
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise PaymentNotFound(_("Not found.")) from exc


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
