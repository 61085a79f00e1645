"""Every write to payment data. Re-exports the public services of the package."""

from payments.services.balances import refund_split
from payments.services.cancellation import (
    booking_cancel_with_refund,
    cancellation_refund_amount,
    payment_cancel_for_ended_hold,
    payment_refund_request,
)
from payments.services.intents import (
    payment_confirm,
    payment_create_intent,
    payment_record_decline,
    payment_settle_abandoned_challenge,
)
from payments.services.methods import (
    customer_get_or_create,
    payment_method_attach,
    payment_method_detach,
    payment_method_set_default,
    setup_intent_create,
)
from payments.services.refunds import (
    payment_refund,
    refund_settle,
)
from payments.services.stripe_state import (
    payment_apply_intent_state,
    payment_cancel,
    payment_refresh_from_stripe,
    payment_sync_for_payer,
)

__all__ = [
    "booking_cancel_with_refund",
    "cancellation_refund_amount",
    "customer_get_or_create",
    "payment_apply_intent_state",
    "payment_cancel",
    "payment_cancel_for_ended_hold",
    "payment_confirm",
    "payment_create_intent",
    "payment_method_attach",
    "payment_method_detach",
    "payment_method_set_default",
    "payment_record_decline",
    "payment_refresh_from_stripe",
    "payment_refund",
    "payment_refund_request",
    "payment_settle_abandoned_challenge",
    "payment_sync_for_payer",
    "refund_settle",
    "refund_split",
    "setup_intent_create",
]
