"""Response shapes of the payment endpoints, for the OpenAPI schema.

The views build their bodies with the selectors' shapers
(``payment_status_object``, ``refund_object``) and ``_method_object``; these
serializers describe every field of those bodies, so ``/api/schema/`` says
exactly what comes back and the schema fuzzer (tests/test_fuzz_api.py) can
check each response against it. They document; they do not render.

Money of our own objects is in major units as a JSON number (``100``,
``12.5``) with the uppercase ISO code; a ``paymentIntent`` keeps Stripe's
conventions (minor units, lowercase currency).
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema_serializer
from rest_framework import serializers

from bookings.models import Booking
from bookings.serializers import ErrorOutputSerializer
from payments.models import Payment, Refund


def _major_units(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=20,
        decimal_places=3,
        coerce_to_string=False,
        help_text="Major units: 100 = CHF 100.00.",
        **kwargs,
    )


def _success() -> serializers.BooleanField:
    return serializers.BooleanField(default=True, help_text="Always true here.")


@extend_schema_serializer(component_name="Payment")
class PaymentObjectSerializer(serializers.Serializer):
    """``selectors.payment_status_object``: the booking's current payment."""

    paymentIntentId = serializers.CharField(help_text="Stripe's pi_ id.")
    status = serializers.ChoiceField(choices=Payment.Status.choices)
    amount = _major_units()
    amountRefunded = _major_units()
    currency = serializers.CharField(help_text="ISO 4217, uppercase.")
    version = serializers.IntegerField(
        help_text="Grows with every change; drop updates whose version is not newer."
    )
    updatedAt = serializers.DateTimeField()


@extend_schema_serializer(component_name="Refund")
class RefundObjectSerializer(serializers.Serializer):
    """``selectors.refund_object``."""

    id = serializers.UUIDField()
    amount = _major_units()
    currency = serializers.CharField(help_text="ISO 4217, uppercase.")
    reason = serializers.ChoiceField(choices=Refund.Reason.choices)
    status = serializers.ChoiceField(choices=Refund.Status.choices)


@extend_schema_serializer(component_name="PaymentMethod")
class PaymentMethodObjectSerializer(serializers.Serializer):
    """A saved card: never more of it than Stripe lets us show."""

    id = serializers.CharField(help_text="Stripe's pm_ id.")
    brand = serializers.CharField()
    last4 = serializers.CharField()
    expMonth = serializers.IntegerField()
    expYear = serializers.IntegerField()
    isDefault = serializers.BooleanField()


class _StripeChargeSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    amount = serializers.IntegerField(help_text="Minor units, as Stripe gives it.")
    currency = serializers.CharField(help_text="Lowercase, as Stripe gives it.")
    status = serializers.CharField()


class _StripeChargeListSerializer(serializers.Serializer):
    object = serializers.CharField()
    data = _StripeChargeSerializer(many=True)


@extend_schema_serializer(component_name="StripePaymentIntent")
class IntentObjectSerializer(serializers.Serializer):
    """``payments.api.common.intent_object``: a PaymentIntent in Stripe's terms."""

    id = serializers.CharField(help_text="Stripe's pi_ id.")
    object = serializers.CharField()
    amount = serializers.IntegerField(help_text="Minor units: 10000 = CHF 100.00.")
    amount_received = serializers.IntegerField(help_text="Minor units.")
    currency = serializers.CharField(help_text="Lowercase, as Stripe gives it.")
    status = serializers.CharField(help_text="Stripe's PaymentIntent status.")
    charges = _StripeChargeListSerializer()


@extend_schema_serializer(component_name="StripePaymentIntentSummary")
class IntentSummarySerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Stripe's pi_ id.")
    amount = serializers.IntegerField(help_text="Minor units: 10000 = CHF 100.00.")
    currency = serializers.CharField(help_text="Lowercase, as Stripe gives it.")


@extend_schema_serializer(component_name="StripeNextAction")
class NextActionSerializer(serializers.Serializer):
    """Stripe's ``next_action``, passed on as Stripe gives it (3-D Secure)."""

    type = serializers.CharField(help_text="e.g. use_stripe_sdk, redirect_to_url.")


@extend_schema_serializer(component_name="CreateIntentOutput")
class CreateIntentOutputSerializer(serializers.Serializer):
    success = _success()
    clientSecret = serializers.CharField(help_text="For Stripe.js.")
    paymentIntent = IntentSummarySerializer()
    bookingId = serializers.UUIDField()
    payment = PaymentObjectSerializer()


@extend_schema_serializer(component_name="ConfirmOutput")
class ConfirmOutputSerializer(serializers.Serializer):
    success = _success()
    paymentIntent = IntentObjectSerializer()
    recipientId = serializers.UUIDField(help_text="The coach's user id.")
    bookingId = serializers.UUIDField()
    amount = _major_units()
    currency = serializers.CharField(help_text="Lowercase, as in the seed.")
    payment = PaymentObjectSerializer()
    requiresAction = serializers.BooleanField(
        required=False, help_text="Only when 3-D Secure must be finished."
    )
    clientSecret = serializers.CharField(
        required=False, help_text="Only with requiresAction."
    )
    nextAction = NextActionSerializer(
        required=False, allow_null=True, help_text="Only with requiresAction."
    )


@extend_schema_serializer(component_name="PaymentStatusOutput")
class StatusOutputSerializer(serializers.Serializer):
    success = _success()
    bookingId = serializers.UUIDField()
    bookingStatus = serializers.ChoiceField(choices=Booking.Status.choices)
    payment = PaymentObjectSerializer(allow_null=True)


@extend_schema_serializer(component_name="RefundOutput")
class RefundOutputSerializer(serializers.Serializer):
    success = _success()
    refund = RefundObjectSerializer()
    payment = PaymentObjectSerializer()


@extend_schema_serializer(component_name="PaymentMethodOutput")
class MethodOutputSerializer(serializers.Serializer):
    success = _success()
    paymentMethod = PaymentMethodObjectSerializer()


@extend_schema_serializer(component_name="PaymentMethodListOutput")
class MethodListOutputSerializer(serializers.Serializer):
    success = _success()
    paymentMethods = PaymentMethodObjectSerializer(many=True)


@extend_schema_serializer(component_name="SetupIntentOutput")
class SetupIntentOutputSerializer(serializers.Serializer):
    success = _success()
    setupIntentId = serializers.CharField(help_text="Stripe's seti_ id.")
    clientSecret = serializers.CharField(help_text="For Stripe.js confirmCardSetup.")


_ERRORS = {
    400: "Invalid input (`validation_error`, `malformed_request`) or a refused value.",
    401: "Not logged in, or the token is not valid.",
    402: "The card was declined: `card_declined` with `declineCode` in `details`.",
    403: "Not allowed (also a failed CSRF check on cookie-authenticated requests).",
    404: "No such object visible to you (someone else's is a 404 too).",
    409: "The object's state does not allow it now.",
    429: "Too many requests: wait `Retry-After` seconds.",
    502: "Stripe refused the request for a reason other than the card.",
    503: "Stripe or the database is unavailable: retry after `Retry-After`.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The error envelope (``coaching.api_errors``) for each status in ``codes``."""
    return {
        code: OpenApiResponse(ErrorOutputSerializer, description=_ERRORS[code])
        for code in codes
    }
