"""Payment errors. Services raise them; coaching/api_errors.py renders them."""

from django.utils.translation import gettext_lazy as _

from coaching.errors import DomainError


class PaymentError(DomainError):
    code = "payment_error"
    http_status = 400


class PaymentNotFound(PaymentError):
    code = "not_found"
    http_status = 404


class PaymentForbidden(PaymentError):
    code = "forbidden"
    http_status = 403


class InvalidTransition(PaymentError):
    code = "invalid_transition"
    http_status = 409


class BookingNotPayable(PaymentError):
    code = "booking_not_payable"
    http_status = 409


class PriceMismatch(PaymentError):
    code = "price_mismatch"
    http_status = 400


class InvalidRefund(PaymentError):
    code = "invalid_refund"
    http_status = 400


class RefundAmountNotPolicy(InvalidRefund):
    """The payer asked for another amount than cancelling refunds.

    ``details`` carry ``allowedAmount`` (major units) and ``currency``.
    """

    code = "validation_error"
    http_status = 400


class RefundNotAllowed(PaymentError):
    code = "refund_not_allowed"
    http_status = 409


class RefundWindowClosed(PaymentError):
    code = "refund_window_closed"
    http_status = 403


class PaymentInProgress(PaymentError):
    """Another request is talking to Stripe about this payment right now."""

    code = "payment_in_progress"
    http_status = 409


class GatewayError(PaymentError):
    """Stripe refused the request for a reason other than the card."""

    code = "gateway_error"
    http_status = 502


class StripeObjectMissing(GatewayError):
    """Stripe has no object with the id we were given (``resource_missing``)."""

    code = "not_found"
    http_status = 404


class CardDeclined(GatewayError):
    code = "card_declined"
    http_status = 402

    def __init__(
        self, message: str, *, decline_code: str, stripe_code: str = "card_declined"
    ):
        super().__init__(message, declineCode=decline_code, stripeCode=stripe_code)
        self.decline_code = decline_code


class ProviderUnavailable(GatewayError):
    """Stripe did not answer (timeouts, 5xx, 429) after our retries."""

    code = "provider_unavailable"
    http_status = 503
    retry_after_seconds = 5

    def __init__(
        self, message: str = str(_("The payment provider is unavailable.")), **details
    ):
        super().__init__(
            message, headers={"Retry-After": str(self.retry_after_seconds)}, **details
        )


class WebhookSignatureInvalid(PaymentError):
    code = "invalid_signature"
    http_status = 400


class WebhookEventInvalid(PaymentError):
    """A correctly signed body that is not a Stripe event we can store."""

    code = "invalid_event"
    http_status = 400


class EventNotReady(PaymentError):
    """The event concerns an object we do not know yet: retry it later."""

    code = "event_not_ready"
    http_status = 409


class PayoutInvalid(PaymentError):
    code = "validation_error"
    http_status = 400


class PayoutExceedsAvailable(PaymentError):
    """A payout would take more than the coach's available balance."""

    code = "payout_exceeds_available"
    http_status = 409
