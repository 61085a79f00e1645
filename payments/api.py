"""The seed's payment endpoints: thin views over payments.services."""

import uuid
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.models import User
from bookings.models import Booking
from payments import selectors, services
from payments.exceptions import InvalidRefund, PaymentNotFound
from payments.gateway import IntentResult
from payments.models import Refund, SavedPaymentMethod
from payments.money import MoneyError, to_major, to_minor


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


def _payment_for_booking(booking: Booking) -> dict | None:
    return selectors.payment_status_object(
        selectors.payment_current_for_booking(booking_id=booking.pk)
    )


def _intent_object(intent: IntentResult) -> dict[str, Any]:
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


def _parse_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise PaymentNotFound(_("Not found.")) from exc


_PRICE_EXAMPLE = {
    "base": {"amount": 100, "currency": "CHF"},
    "final": {"amount": 100, "currency": "CHF"},
    "currency": "CHF",
    "vat": {"rate": 8.1, "included": True},
    "platformFee": {"percentage": 15},
}


class PaymentCreateIntentApi(APIView):
    throttle_classes = [PaymentsThrottle]
    throttle_scope = "payments"

    @extend_schema_serializer(component_name="CreateIntentInput")
    class InputSerializer(serializers.Serializer):
        bookingId = StrictUUIDField()
        price = serializers.DictField(required=False)

    @extend_schema(
        summary="Create (or return) the payment intent of a booking",
        description=(
            "Idempotent per booking: while a payment is open, every call returns the "
            "same intent. The price comes from the booking; a `price` that differs is "
            "a 400 `price_mismatch`, never a new price. After a decline, call again "
            "for a fresh intent."
        ),
        request=InputSerializer,
        responses={
            200: inline_serializer(
                "CreateIntentOutput",
                {
                    "success": serializers.BooleanField(),
                    "clientSecret": serializers.CharField(),
                    "paymentIntent": serializers.DictField(),
                },
            )
        },
        examples=[
            OpenApiExample(
                "Seed request",
                value={
                    "bookingId": "6075e65b-2d34-a344-b1f5-f32c00000000",
                    "price": _PRICE_EXAMPLE,
                },
                request_only=True,
            ),
            OpenApiExample(
                "Seed response",
                value={
                    "success": True,
                    "clientSecret": "pi_3NhTy2HWMvEUw1Qt1RFnFvEG_secret_FkJeiasWvK8SWx5Q8aSx8QNnA",
                    "paymentIntent": {
                        "id": "pi_3NhTy2HWMvEUw1Qt1RFnFvEG",
                        "amount": 10000,
                        "currency": "chf",
                    },
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = _validated(self.InputSerializer, request)
        booking = Booking.objects.filter(
            pk=data["bookingId"], client=request.user
        ).first()
        if booking is None:
            raise PaymentNotFound(_("Booking not found."))
        payment, intent = services.payment_create_intent(
            booking=booking, actor=request.user, requested_price=data.get("price")
        )
        return Response(
            {
                "success": True,
                "clientSecret": intent.client_secret,
                "paymentIntent": {
                    "id": intent.id,
                    "amount": intent.amount,
                    "currency": intent.currency.lower(),
                },
                "bookingId": str(booking.pk),
                "payment": selectors.payment_status_object(payment),
            }
        )


class PaymentConfirmApi(APIView):
    throttle_classes = [PaymentsThrottle]
    throttle_scope = "payments"

    @extend_schema_serializer(component_name="ConfirmInput")
    class InputSerializer(serializers.Serializer):
        paymentIntentId = serializers.CharField(max_length=255)
        paymentMethodId = serializers.CharField(max_length=255)

    @extend_schema(
        summary="Confirm a payment intent with a card (server-side confirmation)",
        description=(
            "Idempotent per intent. `requires_action` (3-D Secure) comes back with "
            "`requiresAction: true`, `clientSecret` and Stripe's `nextAction`: finish it "
            "with Stripe.js `confirmCardPayment(clientSecret)`. A decline is a 402 "
            "`card_declined` with `declineCode`; the booking stays payable."
        ),
        request=InputSerializer,
        responses={
            200: inline_serializer(
                "ConfirmOutput",
                {
                    "success": serializers.BooleanField(),
                    "paymentIntent": serializers.DictField(),
                    "recipientId": serializers.CharField(),
                    "bookingId": serializers.CharField(),
                    "amount": serializers.DecimalField(max_digits=20, decimal_places=3),
                    "currency": serializers.CharField(),
                },
            )
        },
        examples=[
            OpenApiExample(
                "Seed request",
                value={
                    "paymentIntentId": "pi_3NhTy2HWMvEUw1Qt1RFnFvEG",
                    "paymentMethodId": "pm_1NhU1WHWMvEUw1QtYU2FfQX2",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Seed response",
                value={
                    "success": True,
                    "paymentIntent": {
                        "id": "pi_3NhTy2HWMvEUw1Qt1RFnFvEG",
                        "object": "payment_intent",
                        "amount": 10000,
                        "amount_received": 10000,
                        "currency": "chf",
                        "status": "succeeded",
                        "charges": {
                            "data": [
                                {
                                    "id": "ch_3NhTy2HWMvEUw1Qt1TUrP8qD",
                                    "object": "charge",
                                    "amount": 10000,
                                    "currency": "chf",
                                    "status": "succeeded",
                                }
                            ]
                        },
                    },
                    "recipientId": "6075e65b2d34a344b1f5f32a",
                    "bookingId": "6075e65b2d34a344b1f5f32c",
                    "amount": 100,
                    "currency": "chf",
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = _validated(self.InputSerializer, request)
        payment = selectors.payment_get_by_intent_for_payer(
            user=request.user, intent_id=data["paymentIntentId"]
        )
        if payment is None:
            raise PaymentNotFound(_("Payment not found."))
        payment, intent = services.payment_confirm(
            payment=payment,
            payment_method_id=data["paymentMethodId"],
            actor=request.user,
        )
        body: dict[str, Any] = {
            "success": True,
            "paymentIntent": _intent_object(intent),
            "recipientId": str(payment.recipient_id),
            "bookingId": str(payment.booking_id),
            "amount": to_major(payment.amount, payment.currency),
            "currency": payment.currency.lower(),
            "payment": selectors.payment_status_object(payment),
        }
        if intent.status == "requires_action":
            body |= {
                "requiresAction": True,
                "clientSecret": intent.client_secret,
                "nextAction": intent.next_action,
            }
        return Response(body)


class PaymentStatusApi(APIView):
    @extend_schema(
        summary="Payment status of a booking",
        responses={
            200: inline_serializer(
                "StatusOutput",
                {
                    "success": serializers.BooleanField(),
                    "bookingId": serializers.CharField(),
                    "bookingStatus": serializers.CharField(),
                    "payment": serializers.DictField(allow_null=True),
                },
            )
        },
    )
    def get(self, request: Request, booking_id: str) -> Response:
        booking = selectors.booking_get_for_payment_status(
            user=request.user, booking_id=_parse_uuid(booking_id)
        )
        if booking is None:
            raise PaymentNotFound(_("Booking not found."))
        services.payment_sync_for_payer(booking=booking, actor=request.user)
        booking.refresh_from_db()
        return Response(
            {
                "success": True,
                "bookingId": str(booking.pk),
                "bookingStatus": booking.status,
                "payment": _payment_for_booking(booking),
            }
        )


class PaymentRefundApi(APIView):
    throttle_classes = [PaymentsThrottle]
    throttle_scope = "payments"

    @extend_schema_serializer(component_name="RefundInput")
    class InputSerializer(serializers.Serializer):
        paymentIntentId = serializers.CharField(max_length=255)
        amount = MajorAmountField(required=False)
        reason = serializers.ChoiceField(choices=Refund.Reason.values)
        note = serializers.CharField(max_length=500, required=False, allow_blank=True)

    @extend_schema(
        summary="Refund part or all of a payment",
        description=(
            "`amount` in major units, default: everything not yet refunded. The payer "
            "may refund until the booking's cancellation window closes; the booking's "
            "coach and admins any amount up to what is left."
        ),
        request=InputSerializer,
        responses={
            200: inline_serializer(
                "RefundOutput",
                {
                    "success": serializers.BooleanField(),
                    "refund": serializers.DictField(),
                    "payment": serializers.DictField(),
                },
            )
        },
        examples=[
            OpenApiExample(
                "Partial refund",
                value={
                    "paymentIntentId": "pi_3NhTy2HWMvEUw1Qt1RFnFvEG",
                    "amount": 30,
                    "reason": "requested_by_customer",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = _validated(self.InputSerializer, request)
        payment = selectors.payment_get_by_intent_for_refund(
            user=request.user, intent_id=data["paymentIntentId"]
        )
        if payment is None:
            raise PaymentNotFound(_("Payment not found."))
        amount = None
        if "amount" in data:
            try:
                amount = to_minor(data["amount"], payment.currency)
            except MoneyError as exc:
                raise InvalidRefund(str(exc), field="amount") from exc
        refund = services.payment_refund(
            payment=payment,
            amount=amount,
            reason=data["reason"],
            note=data.get("note", ""),
            actor=request.user,
        )
        payment.refresh_from_db()
        return Response(
            {
                "success": True,
                "refund": selectors.refund_object(refund),
                "payment": selectors.payment_status_object(payment),
            }
        )


# --- Saved cards ---------------------------------------------------------------------


def _method_object(method: SavedPaymentMethod) -> dict[str, Any]:
    return {
        "id": method.stripe_payment_method_id,
        "brand": method.brand,
        "last4": method.last4,
        "expMonth": method.exp_month,
        "expYear": method.exp_year,
        "isDefault": method.is_default,
    }


def _methods_body(user: User) -> dict[str, Any]:
    methods = selectors.payment_methods_for_user(user=user)
    return {"success": True, "paymentMethods": [_method_object(m) for m in methods]}


_METHOD_OUTPUT = inline_serializer(
    "PaymentMethodOutput",
    {"success": serializers.BooleanField(), "paymentMethod": serializers.DictField()},
)
_METHODS_OUTPUT = inline_serializer(
    "PaymentMethodListOutput",
    {"success": serializers.BooleanField(), "paymentMethods": serializers.ListField()},
)


class PaymentMethodCreateApi(APIView):
    throttle_classes = [PaymentsThrottle]
    throttle_scope = "payments"

    @extend_schema_serializer(component_name="PaymentMethodInput")
    class InputSerializer(serializers.Serializer):
        paymentMethodId = serializers.CharField(max_length=255)
        isDefault = serializers.BooleanField(required=False, default=False)

    @extend_schema(
        summary="Save a card (a pm_ id from Stripe.js) for later",
        request=InputSerializer,
        responses={201: _METHOD_OUTPUT},
    )
    def post(self, request: Request) -> Response:
        data = _validated(self.InputSerializer, request)
        method = services.payment_method_attach(
            user=request.user,
            payment_method_id=data["paymentMethodId"],
            make_default=data["isDefault"],
            actor=request.user,
        )
        method.refresh_from_db()
        return Response(
            {"success": True, "paymentMethod": _method_object(method)},
            status=status.HTTP_201_CREATED,
        )


class PaymentMethodItemApi(APIView):
    """``GET methods/{userId}`` lists a user's cards; ``DELETE methods/{methodId}``
    removes one. The seed gives both the same path shape."""

    @extend_schema(
        summary="List a user's saved cards (that user or an admin)",
        responses={200: _METHODS_OUTPUT},
    )
    def get(self, request: Request, item_id: str) -> Response:
        user_id = _parse_uuid(item_id)
        if user_id != request.user.pk and not request.user.is_admin:
            raise PaymentNotFound(_("Not found."))
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            raise PaymentNotFound(_("Not found."))
        return Response(_methods_body(user))

    @extend_schema(
        summary="Remove one of your saved cards; the newest other card becomes default",
        responses={200: _METHODS_OUTPUT},
    )
    def delete(self, request: Request, item_id: str) -> Response:
        services.payment_method_detach(
            user=request.user, payment_method_id=item_id, actor=request.user
        )
        return Response(_methods_body(request.user))


class PaymentMethodDefaultApi(APIView):
    @extend_schema_serializer(component_name="DefaultPaymentMethodInput")
    class InputSerializer(serializers.Serializer):
        paymentMethodId = serializers.CharField(max_length=255)

    @extend_schema(
        summary="Make one of your saved cards the default",
        request=InputSerializer,
        responses={200: _METHODS_OUTPUT},
    )
    def post(self, request: Request) -> Response:
        data = _validated(self.InputSerializer, request)
        services.payment_method_set_default(
            user=request.user,
            payment_method_id=data["paymentMethodId"],
            actor=request.user,
        )
        return Response(_methods_body(request.user))


class SetupIntentCreateApi(APIView):
    throttle_classes = [PaymentsThrottle]
    throttle_scope = "payments"

    @extend_schema(
        summary="Start collecting a new card with Stripe.js (confirmCardSetup)",
        request=None,
        responses={
            200: inline_serializer(
                "SetupIntentOutput",
                {
                    "success": serializers.BooleanField(),
                    "setupIntentId": serializers.CharField(),
                    "clientSecret": serializers.CharField(),
                },
            )
        },
    )
    def post(self, request: Request) -> Response:
        setup = services.setup_intent_create(user=request.user)
        return Response(
            {
                "success": True,
                "setupIntentId": setup.id,
                "clientSecret": setup.client_secret,
            }
        )


def _validated(
    serializer_class: type[serializers.Serializer], request: Request
) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
