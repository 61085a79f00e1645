"""Refund part or all of a payment."""

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

from payments import selectors, services
from payments.api.common import (
    MajorAmountField,
    PaymentsThrottle,
    StripeIdField,
    amount_in_currency,
    validated,
)
from payments.api.serializers import RefundOutputSerializer, error_responses
from payments.exceptions import PaymentNotFound
from payments.models import Refund


class PaymentRefundApi(APIView):
    throttle_classes = [PaymentsThrottle]
    throttle_scope = "payments"

    @extend_schema_serializer(component_name="RefundInput")
    class InputSerializer(serializers.Serializer):
        paymentIntentId = StripeIdField("pi_")
        amount = MajorAmountField(required=False)
        reason = serializers.ChoiceField(choices=Refund.Reason.values)
        note = serializers.CharField(max_length=500, required=False, allow_blank=True)

    @extend_schema(
        summary="Refund part or all of a payment",
        description=(
            "`amount` in major units, default: everything not yet refunded.\n\n"
            "**Policy.** The payer's only refund is cancelling: inside the coach's "
            "cancellation window a refund by the payer cancels the booking and "
            "refunds exactly the policy amount (everything not yet refunded); an "
            "`amount` that differs is a 400 `validation_error` whose `details` carry "
            "`allowedAmount` (major units) and `currency`. Outside the window the "
            "payer gets 403 `refund_window_closed` and the booking stays. The "
            "booking's coach and admins may refund any amount up to what is left "
            "(goodwill) without cancelling the booking."
        ),
        request=InputSerializer,
        responses={
            200: RefundOutputSerializer,
            **error_responses(400, 401, 403, 404, 409, 429, 502, 503),
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
        data = validated(self.InputSerializer, request)
        payment = selectors.payment_get_by_intent_for_refund(
            user=request.user, intent_id=data["paymentIntentId"]
        )
        if payment is None:
            raise PaymentNotFound(_("Payment not found."))
        amount = None
        if "amount" in data:
            amount = amount_in_currency(
                data["amount"], payment.currency, field="amount"
            )
        refund = services.payment_refund_request(
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
