"""The gateway's call recorder: one ``StripeCall`` row per request to Stripe.

The gateway may not touch the ORM (STYLE.md), so it reports each request to
the recorders registered with it; ``PaymentsConfig.ready`` registers
``record_stripe_call``. The gateway refuses to run inside our transactions, so
each row is written in its own autocommit, and stays even when the service
that made the call fails afterwards.
"""

import logging
import uuid

from payments.gateway import CallRecord
from payments.models import Payment, Refund, StripeCall

logger = logging.getLogger("payments")


def _uuid_after(prefix: str, key: str) -> uuid.UUID | None:
    """The id in an idempotency key of ours, ``<prefix>:<uuid>:<action>``."""
    head, _sep, rest = key.partition(":")
    if head != prefix:
        return None
    try:
        return uuid.UUID(rest.split(":", 1)[0])
    except ValueError:
        return None


def _links(record: CallRecord) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """Ids of the payment and refund a call was about, from our key or
    Stripe's id; only of rows that exist (a row a failed create never kept
    cannot be linked)."""
    refunds = Refund.objects.values_list("pk", "payment_id")
    found = None
    refund_id = _uuid_after("refund", record.idempotency_key)
    if refund_id:
        found = refunds.filter(pk=refund_id).first()
    elif record.object_id.startswith("re_"):
        found = refunds.filter(stripe_refund_id=record.object_id).first()
    if found is not None:
        return found[1], found[0]
    payments = Payment.objects.values_list("pk", flat=True)
    payment_id = _uuid_after("payment", record.idempotency_key)
    if payment_id:
        return payments.filter(pk=payment_id).first(), None
    if record.object_id.startswith("pi_"):
        return payments.filter(stripe_payment_intent_id=record.object_id).first(), None
    return None, None


def record_stripe_call(record: CallRecord) -> None:
    """Store one request to Stripe, linked to its payment or refund if known."""
    payment_id, refund_id = _links(record)
    StripeCall.objects.create(
        operation=record.operation[:64],
        idempotency_key=record.idempotency_key[:255],
        object_id=record.object_id[:255],
        attempt=min(record.attempt, 32767),
        http_status=record.http_status,
        stripe_request_id=record.stripe_request_id[:255],
        duration_ms=record.duration_ms,
        error_code=record.error_code[:64],
        payment_id=payment_id,
        refund_id=refund_id,
    )
