"""Create, confirm and read the payment of a booking (the seed's endpoints)."""

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings.models import Booking
from coaching.ids import StrictUUIDField
from money.amounts import to_major
from payments import selectors, services
from payments.api.common import (
    PRICE_EXAMPLE,
    MajorAmountField,
    PaymentsThrottle,
    PercentField,
    StripeIdField,
    amount_in_currency,
    intent_object,
    parse_uuid,
    validated,
)
from payments.api.serializers import (
    ConfirmOutputSerializer,
    CreateIntentOutputSerializer,
    StatusOutputSerializer,
    error_responses,
)
from payments.exceptions import PaymentNotFound

_CURRENCY = r"^[A-Za-z]{3}\Z"


class _PriceAmountInput(serializers.Serializer):
    amount = MajorAmountField(required=False)
    currency = serializers.RegexField(_CURRENCY, required=False)


class _VatInput(serializers.Serializer):
    rate = PercentField(required=False)
    included = serializers.BooleanField(required=False)


class _PlatformFeeInput(serializers.Serializer):
    percentage = PercentField(required=False)


@extend_schema_serializer(component_name="PriceInput")
class PriceInputSerializer(serializers.Serializer):
    """The seed's price object as a client may send it, to be checked against
    the booking's price. Every number goes through the bounded parser."""

    base = _PriceAmountInput(required=False)
    final = _PriceAmountInput(required=False)
    currency = serializers.RegexField(_CURRENCY, required=False)
    vat = _VatInput(required=False)
    platformFee = _PlatformFeeInput(required=False)


def _check_price_decimals(price: dict[str, Any], booking: Booking) -> None:
    """The price's amounts have no more decimals than its currency allows."""
    currency = (
        price.get("currency")
        or (price.get("final") or {}).get("currency")
        or booking.currency
    )
    for part in ("base", "final"):
        amount = (price.get(part) or {}).get("amount")
        if amount is not None:
            amount_in_currency(amount, currency, field=f"price.{part}.amount")


class PaymentCreateIntentApi(APIView):
    throttle_classes = [PaymentsThrottle]
    throttle_scope = "payments"

    @extend_schema_serializer(component_name="CreateIntentInput")
    class InputSerializer(serializers.Serializer):
        bookingId = StrictUUIDField()
        price = PriceInputSerializer(required=False)

    @extend_schema(
        summary="Create (or return) the payment intent of a booking",
        description=(
            "Idempotent per booking: while a payment is open, every call returns the "
            "same intent, except one left waiting for 3-D Secure (`requires_action`): "
            "calling again means paying again, so that intent is cancelled at Stripe "
            "(unless it was paid meanwhile) and a fresh one returned. The price comes "
            "from the booking; a `price` that differs is a 400 `price_mismatch`, never "
            "a new price. After a decline, call again for a fresh intent."
        ),
        request=InputSerializer,
        responses={
            200: CreateIntentOutputSerializer,
            **error_responses(400, 401, 403, 404, 409, 429, 502, 503),
        },
        examples=[
            OpenApiExample(
                "Seed request",
                value={
                    "bookingId": "6075e65b-2d34-a344-b1f5-f32c00000000",
                    "price": PRICE_EXAMPLE,
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
        data = validated(self.InputSerializer, request)
        booking = Booking.objects.filter(
            pk=data["bookingId"], client=request.user
        ).first()
        if booking is None:
            raise PaymentNotFound(_("Booking not found."))
        if data.get("price") is not None:
            _check_price_decimals(data["price"], booking)
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
        paymentIntentId = StripeIdField("pi_")
        paymentMethodId = StripeIdField("pm_")
        saveCard = serializers.BooleanField(required=False, default=False)

    @extend_schema(
        summary="Confirm a payment intent with a card (server-side confirmation)",
        description=(
            "Idempotent per intent. `requires_action` (3-D Secure) comes back with "
            "`requiresAction: true`, `clientSecret` and Stripe's `nextAction`: finish it "
            "with Stripe.js `confirmCardPayment(clientSecret)`. A decline is a 402 "
            "`card_declined` with `declineCode`; the booking stays payable. "
            "`saveCard: true` saves the card with the payment (one 3-D Secure "
            "check for both): it joins the payer's saved cards once the payment "
            "has gone through. An expired card is a 400 `payment_method_not_usable`."
        ),
        request=InputSerializer,
        responses={
            200: ConfirmOutputSerializer,
            **error_responses(400, 401, 402, 403, 404, 409, 429, 502, 503),
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
        data = validated(self.InputSerializer, request)
        payment = selectors.payment_get_by_intent_for_payer(
            user=request.user, intent_id=data["paymentIntentId"]
        )
        if payment is None:
            raise PaymentNotFound(_("Payment not found."))
        payment, intent = services.payment_confirm(
            payment=payment,
            payment_method_id=data["paymentMethodId"],
            actor=request.user,
            save_card=data["saveCard"],
        )
        body: dict[str, Any] = {
            "success": True,
            "paymentIntent": intent_object(intent),
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
        description=(
            "For the payer, the booking's coach and admins. An open payment is "
            "re-read from Stripe first, so the answer is current."
        ),
        responses={
            200: StatusOutputSerializer,
            **error_responses(401, 403, 404, 503),
        },
    )
    def get(self, request: Request, booking_id: str) -> Response:
        # The token's user, then the booking with its payment: two queries.
        state = selectors.booking_payment_state(
            booking_id=parse_uuid(booking_id), user=request.user
        )
        if state is None:
            raise PaymentNotFound(_("Booking not found."))
        # Only a payer back from 3-D Secure makes the sync ask Stripe (which
        # locks and reads the payment whole); only then is the state read again.
        if services.payment_sync_for_payer(payment=state.payment, actor=request.user):
            state = selectors.booking_payment_state(booking_id=state.booking_id)
        return Response(
            {
                "success": True,
                "bookingId": str(state.booking_id),
                "bookingStatus": state.booking_status,
                "payment": selectors.payment_status_object(state.payment),
            }
        )
