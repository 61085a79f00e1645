"""Bookings API: coaches to book, and a client's bookings. Thin views.

Cancelling a booking settles its money, so its endpoint is the payments app's
(``payments.api.cancel``), in the same ``bookings_api`` namespace.

Each view validates input, calls one selector or service and serialises the
result in camelCase. Errors are domain exceptions, rendered by
``coaching.api_errors``.
"""

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from bookings import selectors, services
from bookings.exceptions import BookingNotFound, OfferingNotFound
from bookings.models import Booking, Offering
from bookings.serializers import (
    PRICE_EXAMPLE,
    ErrorOutputSerializer,
    PriceOutputSerializer,
)
from coaching.ids import StrictUUIDField
from money.pricing import breakdown

BOOKING_EXAMPLE = {
    "id": "3f0c8a4e-6f0b-4c63-9a51-2d0c1f6b7e21",
    "status": "pending_payment",
    "clientId": "8b1d2c3e-0a4f-4b5e-9c6d-7e8f9a0b1c2d",
    "coachId": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    "offeringId": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
    "startsAt": "2026-12-01T09:00:00Z",
    "endsAt": "2026-12-01T10:00:00Z",
    "expiresAt": "2026-11-26T13:30:00Z",
    "price": PRICE_EXAMPLE,
}


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorOutputSerializer, description=description)


def _error_example(
    name: str, code: str, message: str, status_code: int
) -> OpenApiExample:
    return OpenApiExample(
        name,
        value={
            "success": False,
            "error": {"code": code, "message": message, "details": {}},
        },
        response_only=True,
        status_codes=[str(status_code)],
    )


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time that must carry its UTC offset.

    DRF would read a naive value in the server's zone; a booking made from
    another zone would then land hours off, so it is refused instead.
    """

    default_error_messages = {
        "naive": gettext_lazy(
            "Give the time with its UTC offset, e.g. 2026-12-01T10:00:00+01:00."
        )
    }

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


@extend_schema_serializer(component_name="BookingOutput")
class BookingOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Booking.Status.choices)
    clientId = serializers.UUIDField(source="client_id")
    coachId = serializers.UUIDField(source="coach_id")
    offeringId = serializers.UUIDField(source="offering_id")
    startsAt = serializers.DateTimeField(source="starts_at")
    endsAt = serializers.DateTimeField(source="ends_at")
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    price = PriceOutputSerializer(source="price_breakdown")


@extend_schema_serializer(component_name="BookingResponse")
class BookingResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField(default=True)
    booking = BookingOutputSerializer()


def _booking_response(
    booking: Booking, status_code: int = status.HTTP_200_OK
) -> Response:
    return Response(
        {"success": True, "booking": BookingOutputSerializer(booking).data},
        status=status_code,
    )


@extend_schema_serializer(component_name="OfferingOutput")
class OfferingOutputSerializer(serializers.Serializer):
    """An active offering of a coach whose ``coach.coach_profile`` is loaded."""

    id = serializers.UUIDField()
    title = serializers.CharField()
    durationMinutes = serializers.IntegerField(source="duration_minutes")
    price = serializers.SerializerMethodField()

    @extend_schema_field(PriceOutputSerializer)
    def get_price(self, offering: Offering) -> dict:
        terms = offering.price_terms(offering.coach.coach_profile)
        return PriceOutputSerializer(breakdown(terms)).data


class CoachListApi(APIView):
    permission_classes = [AllowAny]
    pagination_class = api_settings.DEFAULT_PAGINATION_CLASS

    @extend_schema_serializer(component_name="CoachOutput")
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        name = serializers.CharField(source="display_name")
        bio = serializers.CharField(source="coach_profile.bio")
        timeZone = serializers.CharField(source="coach_profile.time_zone")
        offerings = OfferingOutputSerializer(source="active_offerings", many=True)

    @extend_schema(
        operation_id="coaches_list",
        summary="List bookable coaches",
        description="Public. Coaches with at least one active offering, each with "
        "its active offerings and their prices.",
        responses={
            200: OutputSerializer(many=True),
            404: _error("`page` is not a page of the list (e.g. 0 or past the end)."),
        },
        examples=[
            OpenApiExample(
                "Coaches",
                # One item: drf-spectacular wraps it in the paginated envelope.
                value={
                    "id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                    "name": "Anna Keller",
                    "bio": "Career coach.",
                    "timeZone": "Europe/Zurich",
                    "offerings": [
                        {
                            "id": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
                            "title": "Deep-dive session",
                            "durationMinutes": 60,
                            "price": PRICE_EXAMPLE,
                        }
                    ],
                },
                response_only=True,
            )
        ],
        tags=["bookings"],
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.coach_list_public(), request, view=self
        )
        return paginator.get_paginated_response(
            self.OutputSerializer(page, many=True).data
        )


class BookingListApi(APIView):
    permission_classes = [IsAuthenticated]
    pagination_class = api_settings.DEFAULT_PAGINATION_CLASS

    @extend_schema(
        operation_id="bookings_list",
        summary="List my bookings",
        description="A client's own bookings, a coach's bookings with them, every "
        "booking for an admin; latest start first.",
        responses={
            200: BookingOutputSerializer(many=True),
            401: _error("Not logged in."),
            404: _error("`page` is not a page of the list (e.g. 0 or past the end)."),
        },
        examples=[
            OpenApiExample(
                "My bookings",
                value=BOOKING_EXAMPLE,
                response_only=True,
                status_codes=["200"],
            )
        ],
        tags=["bookings"],
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.booking_list_for_user(user=request.user), request, view=self
        )
        return paginator.get_paginated_response(
            BookingOutputSerializer(page, many=True).data
        )


class BookingCreateApi(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "bookings"

    @extend_schema_serializer(component_name="BookingCreateInput")
    class InputSerializer(serializers.Serializer):
        # Only these two: price, status and the client come from the server.
        offeringId = StrictUUIDField()
        startsAt = AwareDateTimeField(
            help_text="ISO 8601 with UTC offset, on a full or half hour."
        )

    @extend_schema(
        operation_id="bookings_create",
        summary="Book a session",
        description="Holds the slot as `pending_payment` until `expiresAt`; pay "
        "through `/api/payments/create-intent`. The price comes from the offering.",
        request=InputSerializer,
        responses={
            201: BookingResponseSerializer,
            400: _error("Invalid input or time."),
            401: _error("Not logged in."),
            403: _error("Only clients can book."),
            404: _error("Unknown offering."),
            409: _error(
                "The slot is taken (`slot_taken`), or the client already holds "
                "`MAX_OPEN_HOLDS` unpaid bookings (`too_many_holds`)."
            ),
            429: _error("Too many requests (shared with the booking page)."),
        },
        examples=[
            OpenApiExample(
                "Book a session",
                value={
                    "offeringId": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
                    "startsAt": "2026-12-01T10:00:00+01:00",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Booked",
                value={"success": True, "booking": BOOKING_EXAMPLE},
                response_only=True,
                status_codes=["201"],
            ),
            _error_example(
                "Slot taken",
                "slot_taken",
                "This time is already booked. Choose another one.",
                409,
            ),
            _error_example(
                "Too many unpaid holds",
                "too_many_holds",
                "You already hold 3 unpaid bookings, the most at once. Pay for one "
                "or cancel one first.",
                409,
            ),
            _error_example(
                "Outside availability",
                "outside_availability",
                "The coach is not available at that time.",
                400,
            ),
        ],
        tags=["bookings"],
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        offering = selectors.offering_get(offering_id=data["offeringId"])
        if offering is None:
            raise OfferingNotFound(_("There is no offering with this id."))
        booking = services.booking_create(
            client=request.user,
            offering=offering,
            starts_at=data["startsAt"],
            actor=request.user,
        )
        return _booking_response(booking, status.HTTP_201_CREATED)


class BookingCollectionApi(BookingListApi, BookingCreateApi):
    """``/api/bookings/``: one URL for two actions, each defined by its own view."""

    def get_throttles(self):
        # Listing is not rate limited; only creating counts against "bookings".
        return super().get_throttles() if self.request.method == "POST" else []


class BookingDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="bookings_retrieve",
        summary="Get one of my bookings",
        responses={
            200: BookingResponseSerializer,
            401: _error("Not logged in."),
            404: _error("No such booking visible to you."),
        },
        examples=[
            OpenApiExample(
                "Booking",
                value={"success": True, "booking": BOOKING_EXAMPLE},
                response_only=True,
                status_codes=["200"],
            )
        ],
        tags=["bookings"],
    )
    def get(self, request: Request, booking_id: str) -> Response:
        return _booking_response(_visible_booking(request, booking_id))


def _visible_booking(request: Request, booking_id: str) -> Booking:
    booking = selectors.booking_get_for_user(user=request.user, booking_id=booking_id)
    if booking is None:
        raise BookingNotFound(_("There is no such booking."))
    return booking
