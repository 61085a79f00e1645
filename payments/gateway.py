"""The Stripe boundary: the only module that imports ``stripe``.

Plain functions that take our values and return frozen dataclasses. Every
mutating call carries an idempotency key derived from our own ids; network
errors, 429 and 5xx are retried with exponential backoff and jitter; card
errors are not retried. Settings are read at call time, so tests and the
embedded mode can point the SDK at localstripe (``STRIPE_API_BASE``).
"""

import functools
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import stripe
from django.conf import settings
from django.db import connection

from coaching import metrics
from payments.exceptions import (
    CardDeclined,
    GatewayError,
    ProviderUnavailable,
    StripeObjectMissing,
    WebhookEventInvalid,
    WebhookSignatureInvalid,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

_BACKOFF_BASE_SECONDS = 0.25
_BACKOFF_CAP_SECONDS = 4.0


# --- Results -----------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    payment_method_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    customer_id: str | None
    fingerprint: str = ""


@dataclass(frozen=True)
class IntentResult:
    id: str
    status: str
    amount: int
    amount_received: int
    currency: str  # lowercase, as Stripe gives it
    client_secret: str
    customer_id: str | None
    payment_method_id: str | None
    card_brand: str = ""
    card_last4: str = ""
    next_action: dict[str, Any] | None = None
    last_error_code: str = ""
    last_error_message: str = ""
    charges: tuple[dict[str, Any], ...] = field(default=())


@dataclass(frozen=True)
class SetupIntentResult:
    id: str
    client_secret: str
    status: str


@dataclass(frozen=True)
class RefundResult:
    id: str
    status: str
    amount: int
    currency: str


# --- Client and call policy ---------------------------------------------------


def _client() -> stripe.StripeClient:
    # Settings are read at every call (tests and the embedded mode repoint
    # them); the client for one combination is built once and reused, keeping
    # its per-thread HTTP connections alive.
    return _client_for(
        settings.STRIPE_SECRET_KEY or "sk_test_missing",
        settings.STRIPE_API_VERSION or None,
        settings.STRIPE_API_BASE or None,
        settings.STRIPE_TIMEOUT_SECONDS,
    )


@functools.lru_cache(maxsize=8)
def _client_for(
    api_key: str, version: str | None, base: str | None, timeout: float
) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        stripe_version=version,
        base_addresses={"api": base} if base else None,
        # Retries are ours (below), so every one of them is logged and bounded.
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def _is_transient(exc: stripe.StripeError) -> bool:
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return True
    return (exc.http_status or 0) >= 500 or (exc.http_status == 429)


def backoff_bound(attempts: int) -> float:
    """The longest total backoff between ``attempts`` attempts of one call."""
    return sum(
        min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2**attempt)
        for attempt in range(attempts - 1)
    )


def _backoff(attempt: int) -> float:
    """Full jitter: a random wait up to base * 2**attempt, capped."""
    cap = min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2**attempt)
    return random.uniform(0, cap)  # noqa: S311 - jitter, not a secret


# Stripe as this process last saw it, for /readyz: (status, monotonic time).
_last_seen: dict[str, Any] = {"status": "unknown", "at": None}


def reachability() -> dict[str, Any]:
    """Whether this process's last Stripe call reached Stripe, and how long ago."""
    at = _last_seen["at"]
    return {
        "status": _last_seen["status"],
        "secondsAgo": None if at is None else round(time.monotonic() - at, 1),
    }


def _seen(status: str) -> None:
    _last_seen.update(status=status, at=time.monotonic())


def _call(
    operation: str,
    fn: Callable[[], T],
    *,
    id_from_caller: bool = False,
    idempotency_key: str = "",
    object_id: str = "",
    attempts: int | None = None,
) -> T:
    """Run one Stripe call under our retry policy, error mapping and metrics.

    ``id_from_caller``: the call's object id came from outside (a card id from
    Stripe.js), so Stripe not knowing it is the caller's 404, not our 502.
    ``idempotency_key`` and ``object_id`` only label the call's records.
    ``attempts`` overrides ``STRIPE_MAX_RETRIES + 1`` (a last look that must
    not take long).
    Raises RuntimeError inside a transaction our code opened (see
    ``_refuse_inside_transaction``).
    """
    _refuse_inside_transaction(operation)
    started = time.monotonic()
    outcome = "error"
    try:
        result = _call_with_retries(
            operation,
            fn,
            id_from_caller=id_from_caller,
            idempotency_key=idempotency_key,
            object_id=object_id,
            attempts=attempts,
        )
        outcome = "ok"
        return result
    except CardDeclined:
        outcome = "declined"
        raise
    except ProviderUnavailable:
        outcome = "unavailable"
        raise
    finally:
        # Stripe answered unless it was unreachable (a 4xx is an answer).
        _seen("unavailable" if outcome == "unavailable" else "ok")
        metrics.STRIPE_CALLS.labels(operation=operation, outcome=outcome).inc()
        metrics.STRIPE_SECONDS.labels(operation=operation).observe(
            time.monotonic() - started
        )


def _call_with_retries(
    operation: str,
    fn: Callable[[], T],
    *,
    id_from_caller: bool,
    idempotency_key: str,
    object_id: str,
    attempts: int | None,
) -> T:
    attempts = attempts or settings.STRIPE_MAX_RETRIES + 1
    for attempt in range(attempts):
        try:
            return _attempt(
                operation,
                fn,
                attempt=attempt + 1,
                idempotency_key=idempotency_key,
                object_id=object_id,
            )
        except stripe.CardError as exc:
            error = exc.error
            decline_code = (
                getattr(error, "decline_code", None) if error else None
            ) or (exc.code or "card_declined")
            raise CardDeclined(
                exc.user_message or "Your card was declined.",
                decline_code=decline_code,
                stripe_code=exc.code or "card_declined",
            ) from exc
        except stripe.StripeError as exc:
            if _is_transient(exc) and attempt + 1 < attempts:
                wait = _backoff(attempt)
                metrics.STRIPE_RETRIES.labels(operation=operation).inc()
                logger.warning(
                    "stripe.retry operation=%s attempt=%d status=%s wait=%.2fs",
                    operation,
                    attempt + 1,
                    exc.http_status,
                    wait,
                )
                time.sleep(wait)
                continue
            if _is_transient(exc):
                logger.error(
                    "stripe.unavailable operation=%s status=%s",
                    operation,
                    exc.http_status,
                )
                raise ProviderUnavailable(
                    "The payment provider is not reachable right now. Try again shortly.",
                    operation=operation,
                ) from exc
            if id_from_caller and (
                exc.code == "resource_missing" or exc.http_status == 404
            ):
                # An id from outside that Stripe does not know (localstripe
                # answers 404 without a code): the caller's mistake, not ours.
                logger.info(
                    "stripe.missing operation=%s status=%s code=%s",
                    operation,
                    exc.http_status,
                    exc.code,
                )
                raise StripeObjectMissing(
                    "No such object at the payment provider.",
                    stripe_code=exc.code or "resource_missing",
                    http_status=exc.http_status,
                ) from exc
            logger.error(
                "stripe.error operation=%s status=%s code=%s",
                operation,
                exc.http_status,
                exc.code,
            )
            raise GatewayError(
                exc.user_message or "The payment provider refused the request.",
                stripe_code=exc.code or "",
                http_status=exc.http_status,
            ) from exc
    raise AssertionError("unreachable")  # pragma: no cover


# --- Every call leaves a record --------------------------------------------------


@dataclass(frozen=True)
class CallRecord:
    """What one HTTP request to Stripe was, for the audit trail and metrics.

    Ids, codes and timings only: never a request body, card data or a key.
    """

    operation: str
    idempotency_key: str
    object_id: str
    attempt: int
    http_status: int | None
    stripe_request_id: str
    duration_ms: int
    error_code: str


CallRecorder = Callable[[CallRecord], None]
_recorders: list[CallRecorder] = []


def register_call_recorder(recorder: CallRecorder) -> None:
    """Have ``recorder`` called after every request to Stripe (once per attempt).

    The payments app registers the one that writes ``StripeCall`` rows; this
    module stays free of the ORM. A recorder that raises is logged, never
    allowed to fail the call it records.
    """
    if recorder not in _recorders:
        _recorders.append(recorder)


def _attempt(
    operation: str,
    fn: Callable[[], T],
    *,
    attempt: int,
    idempotency_key: str,
    object_id: str,
) -> T:
    """Make one request and report it to the recorders, whatever its outcome."""
    started = time.monotonic()
    result: Any = None
    error: stripe.StripeError | None = None
    try:
        result = fn()
        return result
    except stripe.StripeError as exc:
        error = exc
        raise
    finally:
        _report(
            operation,
            started=started,
            attempt=attempt,
            idempotency_key=idempotency_key,
            object_id=object_id,
            result=result,
            error=error,
        )


def _report(
    operation: str,
    *,
    started: float,
    attempt: int,
    idempotency_key: str,
    object_id: str,
    result: Any,
    error: stripe.StripeError | None,
) -> None:
    if not _recorders:
        return
    duration_ms = max(0, round((time.monotonic() - started) * 1000))
    response = getattr(result, "last_response", None)
    if error is not None:
        http_status = error.http_status
        request_id = error.request_id or ""
        error_code = (
            getattr(error.error, "decline_code", None) if error.error else None
        ) or (error.code or type(error).__name__)
    else:
        http_status = getattr(response, "code", None)
        request_id = getattr(response, "request_id", None) or ""
        error_code = ""
    # A StripeObject is no dict; a list has no id.
    result_id = getattr(result, "id", None) if error is None else None
    record = CallRecord(
        operation=operation,
        idempotency_key=idempotency_key,
        object_id=(result_id if isinstance(result_id, str) else "") or object_id,
        attempt=attempt,
        http_status=http_status,
        stripe_request_id=request_id,
        duration_ms=duration_ms,
        error_code=str(error_code)[:64],
    )
    for recorder in list(_recorders):
        try:
            recorder(record)
        except Exception:
            logger.exception("stripe.record_failed operation=%s", operation)


def _refuse_inside_transaction(operation: str) -> None:
    """Refuse to call Stripe inside a database transaction our code opened.

    A network call under a transaction holds its row locks for the call's
    length and can be rolled back after Stripe acted. This is the check
    ``atomic(durable=True)`` makes: the atomic blocks Django's TestCase opens
    around each test are marked ``_from_testcase`` and do not count.
    """
    if any(
        not getattr(block, "_from_testcase", False)
        for block in connection.atomic_blocks
    ):
        raise RuntimeError(
            f"Stripe call {operation} inside a database transaction: commit first."
        )


def _opts(idempotency_key: str) -> dict[str, str]:
    return {"idempotency_key": idempotency_key}


# --- Mapping Stripe objects -------------------------------------------------------


def _id(value: Any) -> str | None:
    """Stripe gives ids or (expanded, or in localstripe) embedded objects."""
    if value is None:
        return None
    return value if isinstance(value, str) else value.get("id")


def _card(pm: dict[str, Any]) -> Card:
    card = pm.get("card") or {}
    return Card(
        payment_method_id=pm["id"],
        brand=card.get("brand", ""),
        last4=card.get("last4", ""),
        exp_month=int(card.get("exp_month") or 0),
        exp_year=int(card.get("exp_year") or 0),
        customer_id=_id(pm.get("customer")),
        fingerprint=card.get("fingerprint") or "",
    )


def _intent(pi: dict[str, Any]) -> IntentResult:
    charges = tuple((pi.get("charges") or {}).get("data") or ())
    latest = pi.get("latest_charge")
    if isinstance(latest, dict) and not charges:
        charges = (latest,)
    received = pi.get("amount_received")
    if received is None:
        # localstripe leaves amount_received out: derive it from the charges.
        received = sum(
            c.get("amount", 0) for c in charges if c.get("status") == "succeeded"
        )
    error = pi.get("last_payment_error") or {}
    details = {}
    for charge in charges:
        details = (charge.get("payment_method_details") or {}).get("card") or details
    return IntentResult(
        id=pi["id"],
        status=pi["status"],
        amount=int(pi["amount"]),
        amount_received=int(received or 0),
        currency=pi["currency"],
        client_secret=pi.get("client_secret") or "",
        customer_id=_id(pi.get("customer")),
        payment_method_id=_id(pi.get("payment_method")),
        card_brand=details.get("brand", ""),
        card_last4=details.get("last4", ""),
        next_action=pi.get("next_action"),
        last_error_code=error.get("decline_code") or error.get("code") or "",
        last_error_message=error.get("message") or "",
        charges=tuple(
            {k: c.get(k) for k in ("id", "object", "amount", "currency", "status")}
            for c in charges
        ),
    )


# --- Customers and cards ------------------------------------------------------


def customer_create(
    *, email: str, name: str, user_id: str, idempotency_key: str
) -> str:
    """Create a Stripe customer for one of our users and return its id."""
    customer = _call(
        "customer.create",
        lambda: _client().v1.customers.create(
            params={"email": email, "name": name, "metadata": {"user_id": user_id}},
            options=_opts(idempotency_key),
        ),
        idempotency_key=idempotency_key,
    )
    return customer.id


def customer_set_default_payment_method(
    *, customer_id: str, payment_method_id: str | None, idempotency_key: str
) -> None:
    """Mirror our default card onto the customer's invoice settings."""
    _call(
        "customer.update",
        lambda: _client().v1.customers.update(
            customer_id,
            params={
                "invoice_settings": {"default_payment_method": payment_method_id or ""}
            },
            options=_opts(idempotency_key),
        ),
        idempotency_key=idempotency_key,
        object_id=customer_id,
    )


def setup_intent_create(*, customer_id: str, idempotency_key: str) -> SetupIntentResult:
    """Create a SetupIntent so Stripe.js can collect a card for this customer."""
    si = _call(
        "setup_intent.create",
        lambda: _client().v1.setup_intents.create(
            params={"customer": customer_id, "payment_method_types": ["card"]},
            options=_opts(idempotency_key),
        ),
        idempotency_key=idempotency_key,
    )
    return SetupIntentResult(id=si.id, client_secret=si.client_secret, status=si.status)


def payment_method_retrieve(payment_method_id: str) -> Card:
    """Read a card's brand, last digits, expiry and owner."""
    pm = _call(
        "payment_method.retrieve",
        lambda: _client().v1.payment_methods.retrieve(payment_method_id),
        id_from_caller=True,
        object_id=payment_method_id,
    )
    return _card(pm.to_dict())


def payment_method_attach(
    *, payment_method_id: str, customer_id: str, idempotency_key: str
) -> Card:
    """Attach a card to a customer. Raises CardDeclined if the card is refused."""
    pm = _call(
        "payment_method.attach",
        lambda: _client().v1.payment_methods.attach(
            payment_method_id,
            params={"customer": customer_id},
            options=_opts(idempotency_key),
        ),
        id_from_caller=True,
        idempotency_key=idempotency_key,
        object_id=payment_method_id,
    )
    return _card(pm.to_dict())


def payment_method_detach(*, payment_method_id: str, idempotency_key: str) -> None:
    """Detach a card from its customer."""
    _call(
        "payment_method.detach",
        lambda: _client().v1.payment_methods.detach(
            payment_method_id, options=_opts(idempotency_key)
        ),
        idempotency_key=idempotency_key,
        object_id=payment_method_id,
    )


# --- Payment intents -------------------------------------------------------------


def payment_intent_create(
    *,
    amount: int,
    currency: str,
    customer_id: str,
    metadata: dict[str, str],
    idempotency_key: str,
    destination_account_id: str = "",
    application_fee_amount: int = 0,
) -> IntentResult:
    """Create a card PaymentIntent for ``amount`` minor units.

    With a connected account, the coach's share goes there directly and the
    platform keeps ``application_fee_amount`` (real Stripe only: localstripe
    has no Connect, so these parameters are sent only when given).
    """
    params: dict[str, Any] = {
        "amount": amount,
        "currency": currency.lower(),
        "customer": customer_id,
        "metadata": metadata,
        "payment_method_types": ["card"],
    }
    if destination_account_id:
        params["transfer_data"] = {"destination": destination_account_id}
        params["application_fee_amount"] = application_fee_amount
    pi = _call(
        "payment_intent.create",
        lambda: _client().v1.payment_intents.create(
            params=params, options=_opts(idempotency_key)
        ),
        idempotency_key=idempotency_key,
    )
    return _intent(pi.to_dict())


def payment_intent_retrieve(intent_id: str, *, once: bool = False) -> IntentResult:
    """Read the current state of a PaymentIntent; ``once``: a single attempt."""
    pi = _call(
        "payment_intent.retrieve",
        lambda: _client().v1.payment_intents.retrieve(intent_id),
        object_id=intent_id,
        attempts=1 if once else None,
    )
    return _intent(pi.to_dict())


def payment_intent_confirm(
    *,
    intent_id: str,
    payment_method_id: str,
    idempotency_key: str,
    save_card: bool = False,
) -> IntentResult:
    """Set the card on an intent, then confirm it (server-side confirmation).

    Two calls, because localstripe fails ``confirm(payment_method=...)``; both
    carry keys derived from ``idempotency_key``. With ``save_card``, real
    Stripe is told the card will be used again (``setup_future_usage``), so
    the payment's one 3-D Secure challenge also sets the card up: no second
    challenge to save it. localstripe rejects that parameter, so it is sent
    to real Stripe only. Raises CardDeclined on a decline.
    """
    client = _client()
    params: dict[str, Any] = {"payment_method": payment_method_id}
    if save_card and not settings.STRIPE_API_BASE:
        params["setup_future_usage"] = "off_session"
    _call(
        "payment_intent.update",
        lambda: client.v1.payment_intents.update(
            intent_id,
            params=params,
            options=_opts(f"{idempotency_key}:set-method"),
        ),
        idempotency_key=f"{idempotency_key}:set-method",
        object_id=intent_id,
    )
    pi = _call(
        "payment_intent.confirm",
        lambda: client.v1.payment_intents.confirm(
            intent_id, options=_opts(idempotency_key)
        ),
        idempotency_key=idempotency_key,
        object_id=intent_id,
    )
    return _intent(pi.to_dict())


def payment_intent_cancel(*, intent_id: str, idempotency_key: str) -> IntentResult:
    """Cancel a PaymentIntent that has not been charged."""
    pi = _call(
        "payment_intent.cancel",
        lambda: _client().v1.payment_intents.cancel(
            intent_id, options=_opts(idempotency_key)
        ),
        idempotency_key=idempotency_key,
        object_id=intent_id,
    )
    return _intent(pi.to_dict())


# --- Refunds -------------------------------------------------------------------------


def refund_create(
    *,
    intent_id: str,
    amount: int,
    reason: str,
    metadata: dict[str, str],
    idempotency_key: str,
    connected: bool = False,
    refund_application_fee: bool = True,
) -> RefundResult:
    """Refund ``amount`` minor units of a charged PaymentIntent.

    The reason is sent to real Stripe only: localstripe rejects it. For a
    destination charge (``connected``) Stripe takes the refund back from the
    coach's account (``reverse_transfer``, in proportion) and gives back the
    platform's application fee in proportion only when
    ``refund_application_fee`` (the coach's refund-fee rule); localstripe
    has no Connect, so these are sent only then.
    """
    params: dict[str, Any] = {
        "payment_intent": intent_id,
        "amount": amount,
        "metadata": metadata,
    }
    if connected:
        params["reverse_transfer"] = True
        params["refund_application_fee"] = refund_application_fee
    if not settings.STRIPE_API_BASE:
        params["reason"] = reason
    refund = _call(
        "refund.create",
        lambda: _client().v1.refunds.create(
            params=params, options=_opts(idempotency_key)
        ),
        idempotency_key=idempotency_key,
    )
    return RefundResult(
        id=refund.id,
        status=refund.status,
        amount=int(refund.amount),
        currency=refund.currency,
    )


def refunds_for_intent(intent_id: str) -> list[dict[str, Any]]:
    """Every refund of a PaymentIntent, as Stripe lists them."""
    page = _call(
        "refund.list",
        lambda: _client().v1.refunds.list(
            params={"payment_intent": intent_id, "limit": 100}
        ),
        object_id=intent_id,
    )
    return [refund.to_dict() for refund in page.data]


# --- Webhooks ------------------------------------------------------------------------

WEBHOOK_TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class WebhookEventData:
    id: str
    type: str
    created: int
    livemode: bool
    payload: dict[str, Any]

    @property
    def object(self) -> dict[str, Any]:
        return (self.payload.get("data") or {}).get("object") or {}


# An event id and type as Stripe makes them; anything else is not an event.
_EVENT_ID = re.compile(r"evt_[A-Za-z0-9_]{1,250}", re.ASCII)
_EVENT_TYPE = re.compile(r"[a-z0-9_.]{1,100}", re.ASCII)
# Stripe began in 2010; an event "created" outside 2010..2100 is not Stripe's
# (and would not fit a datetime).
_CREATED_MIN = 1_262_304_000
_CREATED_MAX = 4_102_444_800
_SIGNATURE_HEADER_MAX = 2000


def parse_webhook(payload: bytes, signature: str) -> WebhookEventData:
    """Verify a webhook's ``Stripe-Signature`` and return the event.

    Raises WebhookSignatureInvalid for a missing or wrong signature, or one
    whose time is more than five minutes off in either direction (Stripe's
    SDK only refuses old ones; a time in the future would let a captured
    request be replayed for longer). Raises WebhookEventInvalid for a signed
    body that is not a Stripe event we can store (not an object, no event id
    or type, a ``created`` that is no time, values a database cannot hold).
    """
    try:
        sent_at = _signature_time(signature)
        if sent_at > time.time() + WEBHOOK_TOLERANCE_SECONDS:
            raise ValueError("Signature timestamp is in the future.")
        stripe.WebhookSignature.verify_header(
            payload,
            signature,
            settings.STRIPE_WEBHOOK_SECRET,
            tolerance=WEBHOOK_TOLERANCE_SECONDS,
        )
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise WebhookSignatureInvalid("The webhook signature is not valid.") from exc
    try:
        return _webhook_event(payload)
    except (ValueError, TypeError, RecursionError) as exc:
        # UnicodeError is a ValueError; RecursionError: "[[[[...". The message
        # says what is wrong, never echoes the payload.
        raise WebhookEventInvalid(
            "The webhook body is not a Stripe event.", reason=str(exc)[:200]
        ) from None


def _signature_time(header: str) -> int:
    """The ``t=`` of a ``Stripe-Signature`` header, read without trusting it."""
    if not header or len(header) > _SIGNATURE_HEADER_MAX:
        raise ValueError("No usable Stripe-Signature header.")
    for item in header.split(","):
        key, _sep, value = item.partition("=")
        if key.strip() == "t" and value.isascii() and value.isdigit():
            if len(value) > 12:
                raise ValueError("Signature timestamp out of range.")
            return int(value)
    raise ValueError("Signature header without a timestamp.")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("A number in the event is out of range.")
    return value


def _webhook_event(payload: bytes) -> WebhookEventData:
    """Parse and check a signed body; raise ValueError/TypeError if unusable."""
    data = json.loads(
        payload, parse_constant=_refuse_constant, parse_float=_finite_float
    )
    if not isinstance(data, dict):
        raise ValueError("The event is not a JSON object.")
    event_id, event_type = data.get("id"), data.get("type")
    if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
        raise ValueError("The event has no valid id.")
    if not isinstance(event_type, str) or not _EVENT_TYPE.fullmatch(event_type):
        raise ValueError("The event has no valid type.")
    created = data.get("created")
    if isinstance(created, bool) or not isinstance(created, int):
        raise ValueError("The event's created time is not an integer.")
    if not _CREATED_MIN <= created <= _CREATED_MAX:
        raise ValueError("The event's created time is out of range.")
    livemode = data.get("livemode", False)
    if not isinstance(livemode, bool):
        raise ValueError("The event's livemode is not a boolean.")
    body = data.get("data")
    if not isinstance(body, dict) or not isinstance(body.get("object"), dict):
        raise ValueError("The event has no data object.")
    # What the database must store as it is: PostgreSQL's jsonb refuses NUL
    # characters, and no database takes half of a UTF-16 surrogate pair.
    if "\\u0000" in json.dumps(data):
        raise ValueError("The event contains a NUL character.")
    json.dumps(data, ensure_ascii=False).encode("utf-8")
    return WebhookEventData(
        id=event_id,
        type=event_type,
        created=created,
        livemode=livemode,
        payload=data,
    )


def intent_from_payload(obj: dict[str, Any]) -> IntentResult:
    """Read a PaymentIntent delivered inside an event (no API call)."""
    return _intent(obj)
