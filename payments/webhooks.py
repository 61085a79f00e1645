"""``POST /api/payments/webhook``: verify, store once, answer, then process."""

import logging

from django.db import DatabaseError, DataError, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from coaching.api_errors import error_body
from payments import gateway
from payments.exceptions import WebhookEventInvalid, WebhookSignatureInvalid
from payments.services.events import webhook_event_store
from payments.tasks import process_webhook_event

logger = logging.getLogger("payments.webhooks")


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """Stripe's endpoint. 400 and nothing stored for a bad signature or a
    signed body that is not an event; 503 only when the database could not
    store the event (so Stripe delivers it again); never another 5xx."""
    signature = request.headers.get("Stripe-Signature", "")
    try:
        event = gateway.parse_webhook(request.body, signature)
    except WebhookSignatureInvalid as exc:
        logger.warning("webhook.rejected reason=signature")
        return JsonResponse(error_body(exc.code, exc.message), status=400)
    except WebhookEventInvalid as exc:
        logger.warning("webhook.rejected reason=malformed detail=%s", exc.details)
        return JsonResponse(error_body(exc.code, exc.message, exc.details), status=400)
    try:
        row, created = webhook_event_store(event=event)
    except DataError:
        # The database refused a value of the event (not that it is down):
        # redelivering the same body cannot help.
        logger.warning("webhook.rejected reason=unstorable event=%s", event.id)
        return JsonResponse(
            error_body("invalid_event", "The event could not be stored."), status=400
        )
    except DatabaseError:
        logger.exception("webhook.store_failed event=%s", event.id)
        return JsonResponse(
            error_body("store_failed", "The event could not be stored."), status=503
        )
    if created and row.status == row.Status.PENDING:
        transaction.on_commit(lambda: process_webhook_event.delay(row.pk), robust=True)
    return JsonResponse({"success": True, "received": True, "duplicate": not created})
