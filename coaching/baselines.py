"""Baselines for ``make bench`` (bench/hotpaths.py): the floor a hot path is
measured against in the same run. They answer 404 unless ``BENCH_BASELINES``
is on, which only the bench sets.

- ``POST /bench/webhook``: verify the Stripe signature and insert one row,
  nothing else (what the webhook ingest could cost at the least).
- ``GET /bench/auth``: the status API's authentication and nothing else.
"""

from django.conf import settings
from django.http import Http404, HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments import gateway
from payments.exceptions import WebhookEventInvalid, WebhookSignatureInvalid
from payments.models import WebhookEvent


def _enabled() -> None:
    if not settings.BENCH_BASELINES:
        raise Http404


@csrf_exempt
@require_POST
def webhook_baseline(request: HttpRequest) -> JsonResponse:
    _enabled()
    try:
        event = gateway.parse_webhook(
            request.body, request.headers.get("Stripe-Signature", "")
        )
    except (WebhookSignatureInvalid, WebhookEventInvalid):
        return JsonResponse({"success": False}, status=400)
    WebhookEvent.objects.create(
        stripe_event_id=event.id,
        type=event.type,
        payload=event.payload,
        status=WebhookEvent.Status.IGNORED,
        processed_at=timezone.now(),
    )
    return JsonResponse({"success": True})


@extend_schema(exclude=True)
class AuthBaselineApi(APIView):
    """The status API's authentication and permission classes, no work."""

    def get(self, request: Request) -> Response:
        _enabled()
        return Response({"success": True, "userId": str(request.user.pk)})
