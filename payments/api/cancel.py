"""Cancelling a booking through the API: it releases an unpaid hold or refunds
a paid booking per the policy, so it lives with the money (bookings never
imports payments). Its route stays ``bookings_api:booking-cancel``
(``/api/bookings/<id>/cancel``), composed by ``coaching.urls``.
"""

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings.api import (
    BOOKING_EXAMPLE,
    BookingResponseSerializer,
    _booking_response,
    _error,
    _visible_booking,
)
from payments import services as payment_services
from payments.api.common import PaymentsThrottle
from payments.api.serializers import RefundObjectSerializer
from payments.selectors import refund_object


@extend_schema_serializer(component_name="BookingCancelResponse")
class BookingCancelResponseSerializer(BookingResponseSerializer):
    refund = RefundObjectSerializer(
        allow_null=True, help_text="Null when nothing was refunded."
    )


class BookingCancelApi(APIView):
    permission_classes = [IsAuthenticated]
    # Cancelling calls Stripe (the intent's cancel or a refund).
    throttle_classes = [PaymentsThrottle]
    throttle_scope = "payments"

    @extend_schema(
        operation_id="bookings_cancel",
        summary="Cancel a booking",
        description="Releases an unpaid hold (its open payment intent is cancelled "
        "at Stripe). A paid booking is cancelled and refunded per the policy: in "
        "full when the coach or an admin cancels, or when the client cancels before "
        "the cancellation window closes; nothing after. `refund` is null when "
        "nothing is refunded, `pending` while Stripe has not confirmed it.",
        request=None,
        responses={
            200: BookingCancelResponseSerializer,
            401: _error("Not logged in."),
            403: _error("CSRF check failed (cookie-authenticated requests)."),
            404: _error("No such booking visible to you."),
            409: _error("The booking cannot be cancelled."),
            429: _error("Too many requests (the payments rate limit)."),
            502: _error("Stripe refused the refund."),
            503: _error("Stripe is unavailable: retry after `Retry-After`."),
        },
        examples=[
            OpenApiExample(
                "Cancelled",
                value={
                    "success": True,
                    "booking": {**BOOKING_EXAMPLE, "status": "cancelled"},
                    "refund": None,
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
        tags=["bookings"],
    )
    def post(self, request: Request, booking_id: str) -> Response:
        booking = _visible_booking(request, booking_id)
        booking, refund = payment_services.booking_cancel_with_refund(
            booking=booking, actor=request.user
        )
        response = _booking_response(booking)
        response.data["refund"] = refund_object(refund)
        return response
