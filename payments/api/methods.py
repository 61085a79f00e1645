"""Saved cards and the SetupIntent that collects a new one."""

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from payments import selectors, services
from payments.api.common import (
    PaymentsThrottle,
    StripeIdField,
    check_stripe_id,
    parse_uuid,
    validated,
)
from payments.api.serializers import (
    MethodListOutputSerializer,
    MethodOutputSerializer,
    SetupIntentOutputSerializer,
    error_responses,
)
from payments.exceptions import PaymentNotFound
from payments.models import SavedPaymentMethod


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


class PaymentMethodCreateApi(APIView):
    throttle_classes = [PaymentsThrottle]
    throttle_scope = "payments"

    @extend_schema_serializer(component_name="PaymentMethodInput")
    class InputSerializer(serializers.Serializer):
        paymentMethodId = StripeIdField("pm_")
        isDefault = serializers.BooleanField(required=False, default=False)

    @extend_schema(
        summary="Save a card (a pm_ id from Stripe.js) for later",
        request=InputSerializer,
        responses={
            201: MethodOutputSerializer,
            **error_responses(400, 401, 402, 403, 404, 409, 429, 502, 503),
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(self.InputSerializer, request)
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

    throttle_classes = [PaymentsThrottle]
    throttle_scope = "payments"

    def get_throttles(self):
        # Removing a card calls Stripe; listing reads our database only.
        return super().get_throttles() if self.request.method == "DELETE" else []

    @extend_schema(
        summary="List a user's saved cards (that user or an admin)",
        responses={200: MethodListOutputSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, item_id: str) -> Response:
        user_id = parse_uuid(item_id)
        if user_id != request.user.pk and not request.user.is_admin:
            raise PaymentNotFound(_("Not found."))
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            raise PaymentNotFound(_("Not found."))
        return Response(_methods_body(user))

    @extend_schema(
        summary="Remove one of your saved cards; the newest other card becomes default",
        responses={
            200: MethodListOutputSerializer,
            **error_responses(400, 401, 403, 404, 429, 502, 503),
        },
    )
    def delete(self, request: Request, item_id: str) -> Response:
        services.payment_method_detach(
            user=request.user,
            payment_method_id=check_stripe_id(item_id, "pm_", field="methodId"),
            actor=request.user,
        )
        return Response(_methods_body(request.user))


class PaymentMethodDefaultApi(APIView):
    throttle_classes = [PaymentsThrottle]  # calls Stripe
    throttle_scope = "payments"

    @extend_schema_serializer(component_name="DefaultPaymentMethodInput")
    class InputSerializer(serializers.Serializer):
        paymentMethodId = StripeIdField("pm_")

    @extend_schema(
        summary="Make one of your saved cards the default",
        request=InputSerializer,
        responses={
            200: MethodListOutputSerializer,
            **error_responses(400, 401, 403, 404, 429, 502, 503),
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(self.InputSerializer, request)
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
            200: SetupIntentOutputSerializer,
            **error_responses(401, 403, 429, 502, 503),
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
