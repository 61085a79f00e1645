"""Collecting a booking's price: create the intent, confirm it, apply Stripe's truth."""

import logging
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings import services as booking_services
from bookings.models import Booking
from payments import gateway
from payments.exceptions import (
    BookingNotPayable,
    CardDeclined,
    GatewayError,
    PaymentError,
    PaymentInProgress,
    PaymentNotFound,
    PriceMismatch,
    ProviderUnavailable,
)
from payments.gateway import IntentResult
from payments.models import ALLOWED, FINAL, OPEN, Payment
from payments.money import MoneyError, normalize_currency, to_minor
from payments.pricing import percent_to_bps
from payments.services import _core
from payments.services.methods import customer_get_or_create, payment_method_for_payer

logger = logging.getLogger("payments")

_S = Payment.Status
# Stripe's intent statuses onto ours. requires_capture never happens: we
# capture automatically.
_FROM_STRIPE = {
    "requires_payment_method": _S.REQUIRES_PAYMENT_METHOD,
    "requires_confirmation": _S.REQUIRES_CONFIRMATION,
    "requires_action": _S.REQUIRES_ACTION,
    "processing": _S.PROCESSING,
    "requires_capture": _S.PROCESSING,
    "succeeded": _S.SUCCEEDED,
    "canceled": _S.CANCELED,
}


# --- Create -----------------------------------------------------------------------


def payment_create_intent(
    *, booking: Booking, actor, requested_price: dict[str, Any] | None = None
) -> tuple[Payment, IntentResult]:
    """Open (or return) the one PaymentIntent for a booking's price.

    The price comes from the booking's snapshot; a ``requested_price`` that
    differs is refused with PriceMismatch, never used. Idempotent per booking:
    while a payment is open, every call returns that payment and its intent,
    also under concurrent calls (a lease makes one caller the only one that
    creates the intent at Stripe). Raises PaymentNotFound if ``actor`` is not
    the booking's client, BookingNotPayable if it is not awaiting payment.
    """
    if booking.client_id != actor.pk:
        raise PaymentNotFound(_("Booking not found."))
    if requested_price is not None:
        _check_price(booking, requested_price)

    payment = _open_payment(booking=booking, actor=actor)
    if payment.stripe_payment_intent_id:
        return payment, gateway.payment_intent_retrieve(
            payment.stripe_payment_intent_id
        )

    if not _core.claim_lease(
        payment, "create_lease_until", stripe_payment_intent_id__isnull=True
    ):
        payment = _core.wait_for(
            payment, lambda p: p.stripe_payment_intent_id, field="create_lease_until"
        )
        if not payment.stripe_payment_intent_id:
            raise PaymentInProgress(
                _("This payment is being set up. Try again in a moment.")
            )
        return payment, gateway.payment_intent_retrieve(
            payment.stripe_payment_intent_id
        )

    try:
        customer = customer_get_or_create(user=actor)
        profile = booking.coach.coach_profile
        intent = gateway.payment_intent_create(
            amount=payment.amount,
            currency=payment.currency,
            customer_id=customer.stripe_customer_id,
            metadata={
                "payment_id": str(payment.pk),
                "booking_id": str(booking.pk),
                "payer_id": str(actor.pk),
                "recipient_id": str(booking.coach_id),
            },
            idempotency_key=f"payment:{payment.pk}:create",
            destination_account_id=profile.stripe_account_id,
            application_fee_amount=payment.platform_fee_amount,
        )
    except Exception:
        _core.release_lease(payment, "create_lease_until")
        raise

    with transaction.atomic():
        _booking, payment = _core.lock_booking_and_payment(payment.pk)
        payment.stripe_payment_intent_id = intent.id
        payment.stripe_customer_id = customer.stripe_customer_id
        payment.stripe_destination_account_id = profile.stripe_account_id
        payment.create_lease_until = None
        payment.save(
            update_fields=[
                "stripe_payment_intent_id",
                "stripe_customer_id",
                "stripe_destination_account_id",
                "create_lease_until",
                "updated_at",
            ]
        )
    logger.info(
        "payment.intent_created payment=%s booking=%s intent=%s amount=%d currency=%s",
        payment.pk,
        booking.pk,
        intent.id,
        payment.amount,
        payment.currency,
    )
    return payment, intent


def _open_payment(*, booking: Booking, actor) -> Payment:
    """The booking's open payment, or a new one from its price snapshot."""
    try:
        with transaction.atomic():
            booking = Booking.objects.select_for_update().get(pk=booking.pk)
            _ensure_payable(booking)
            live = booking.payments.exclude(status__in=[_S.FAILED, _S.CANCELED]).first()
            if live is not None:
                if live.status not in OPEN:
                    raise BookingNotPayable(
                        _("This booking is already paid."), paymentStatus=live.status
                    )
                return live
            payment = Payment.objects.create(
                booking=booking,
                payer=booking.client,
                recipient=booking.coach,
                currency=booking.currency,
                amount=booking.price_gross,
                net_amount=booking.price_net,
                vat_amount=booking.vat_amount,
                vat_rate_bps=booking.vat_rate_bps,
                platform_fee_amount=booking.platform_fee_amount,
                coach_amount=booking.coach_amount,
            )
            _core.record_creation(payment, actor=actor)
            return payment
    except IntegrityError:
        # Lost a race on the one-live-payment constraint (SQLite has no row
        # locks): the winner's payment is the open one.
        return booking.payments.exclude(status__in=[_S.FAILED, _S.CANCELED]).get()


def _ensure_payable(booking: Booking) -> None:
    if booking.status != Booking.Status.PENDING_PAYMENT:
        raise BookingNotPayable(
            _("This booking is not awaiting payment."), bookingStatus=booking.status
        )
    if booking.expires_at and booking.expires_at <= timezone.now():
        raise BookingNotPayable(
            _("The hold on this booking has expired. Book the session again."),
            bookingStatus="expired",
        )


def _check_price(booking: Booking, price: dict[str, Any]) -> None:
    """Compare a client's seed-style price object with the server's price."""
    expected = {
        "final.amount": booking.price_gross,
        "currency": booking.currency,
        "vat.rate": booking.vat_rate_bps,
        "vat.included": booking.vat_included,
        "platformFee.percentage": booking.platform_fee_bps,
    }
    try:
        got: dict[str, Any] = {}
        final = price.get("final") or {}
        currency = price.get("currency") or final.get("currency") or booking.currency
        got["currency"] = normalize_currency(currency)
        if "amount" in final:
            got["final.amount"] = to_minor(_number(final["amount"]), got["currency"])
        vat = price.get("vat") or {}
        if "rate" in vat:
            got["vat.rate"] = percent_to_bps(_number(vat["rate"]))
        if "included" in vat:
            got["vat.included"] = bool(vat["included"])
        fee = price.get("platformFee") or {}
        if "percentage" in fee:
            got["platformFee.percentage"] = percent_to_bps(_number(fee["percentage"]))
    except (MoneyError, AttributeError, TypeError) as exc:
        raise PriceMismatch(
            _("The price is not valid: %(error)s") % {"error": exc}
        ) from exc
    wrong = sorted(key for key, value in got.items() if expected[key] != value)
    if wrong:
        raise PriceMismatch(
            _("The price does not match the booking's price."), fields=wrong
        )


def _number(value: Any) -> Decimal | int | str:
    # JSON numbers arrive as floats; their shortest repr is what the client
    # wrote (12.5 -> "12.5"), so go through str, never through float maths.
    if isinstance(value, float):
        return str(value)
    return value


# --- Confirm ----------------------------------------------------------------------


def payment_confirm(
    *, payment: Payment, payment_method_id: str, actor
) -> tuple[Payment, IntentResult]:
    """Confirm the intent with a card, server-side. Idempotent per intent.

    A payment already past confirmation is returned as it is, with no second
    charge, also under concurrent calls (one lease holder talks to Stripe,
    the others wait for its outcome). ``requires_action`` comes back with
    Stripe's ``next_action`` for 3-D Secure. A decline ends this payment
    (``failed``) and raises CardDeclined; the booking stays payable and the
    next create-intent opens a fresh intent. Raises PaymentNotFound for
    someone else's payment, BookingNotPayable when the payment has ended or
    the hold expired, ProviderUnavailable if Stripe does not answer.
    """
    if payment.payer_id != actor.pk:
        raise PaymentNotFound(_("Payment not found."))
    payment.refresh_from_db()
    if payment.status in FINAL:
        raise BookingNotPayable(
            _("This payment has ended. Start a new payment for the booking."),
            paymentStatus=payment.status,
        )
    if payment.status not in _core_pre_charge():
        return payment, gateway.payment_intent_retrieve(
            payment.stripe_payment_intent_id
        )
    if not payment.stripe_payment_intent_id:
        raise PaymentInProgress(
            _("This payment is being set up. Try again in a moment.")
        )
    _ensure_payable(Booking.objects.get(pk=payment.booking_id))

    if not _core.claim_lease(
        payment, "confirm_lease_until", status__in=_core_pre_charge()
    ):
        payment = _core.wait_for(
            payment,
            lambda p: p.status not in _core_pre_charge(),
            field="confirm_lease_until",
        )
        if payment.status in _core_pre_charge():
            raise PaymentInProgress(
                _("This payment is being confirmed. Try again in a moment.")
            )
        if payment.status in FINAL:
            # The other caller's card was declined: answer as a confirm sent
            # after it would be answered, never with a success.
            raise BookingNotPayable(
                _("This payment has ended. Start a new payment for the booking."),
                paymentStatus=payment.status,
            )
        return payment, gateway.payment_intent_retrieve(
            payment.stripe_payment_intent_id
        )

    try:
        # Read what a previous lease holder left (its card, its outcome).
        payment.refresh_from_db()
        # A retry after a timeout must not charge twice: if an earlier attempt
        # got through, Stripe's intent already says so.
        if payment.stripe_payment_method_id:
            intent = gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
            if _FROM_STRIPE.get(intent.status) not in _core_pre_charge():
                return payment_apply_intent_state(
                    payment=payment, intent=intent, cause="confirm_retry", actor=actor
                ), intent
        card = payment_method_for_payer(
            user=actor,
            payment_method_id=payment_method_id,
            customer_id=payment.stripe_customer_id,
        )
        _remember_card(payment, card)
        intent = gateway.payment_intent_confirm(
            intent_id=payment.stripe_payment_intent_id,
            payment_method_id=card.payment_method_id,
            idempotency_key=f"payment:{payment.pk}:confirm:{card.payment_method_id}",
        )
        payment = payment_apply_intent_state(
            payment=payment, intent=intent, cause="confirm", actor=actor
        )
    except CardDeclined as exc:
        payment_record_decline(payment=payment, error=exc, actor=actor)
        raise
    finally:
        # Released only once the outcome is stored, so waiting callers see it.
        _core.release_lease(payment, "confirm_lease_until")
    return payment, intent


def _core_pre_charge() -> frozenset[str]:
    return frozenset(
        {_S.REQUIRES_PAYMENT_METHOD, _S.REQUIRES_CONFIRMATION, _S.REQUIRES_ACTION}
    )


def _remember_card(payment: Payment, card: gateway.Card) -> None:
    with transaction.atomic():
        _booking, locked = _core.lock_booking_and_payment(payment.pk)
        locked.stripe_payment_method_id = card.payment_method_id
        locked.card_brand = card.brand
        locked.card_last4 = card.last4
        fields = ("stripe_payment_method_id", "card_brand", "card_last4")
        if locked.status == _S.REQUIRES_PAYMENT_METHOD:
            _core.transition(
                locked,
                _S.REQUIRES_CONFIRMATION,
                cause="card_chosen",
                actor=None,
                fields=fields,
            )
        else:
            locked.save(update_fields=[*fields, "updated_at"])
    payment.refresh_from_db()


def payment_record_decline(*, payment: Payment, error: CardDeclined, actor) -> Payment:
    """End a payment whose card was declined, and cancel its intent at Stripe.

    localstripe cannot re-confirm a declined intent (real Stripe can), so the
    next attempt always starts from a fresh intent; the booking stays payable.
    """
    with transaction.atomic():
        _booking, payment = _core.lock_booking_and_payment(payment.pk)
        payment.last_error_code = error.decline_code[:64]
        payment.last_error_message = error.message[:500]
        if _S.FAILED in ALLOWED[payment.status]:
            _core.transition(
                payment,
                _S.FAILED,
                cause="card_declined",
                actor=actor,
                fields=("last_error_code", "last_error_message"),
            )
            _cancel_intent_on_commit(payment)
    return payment


def _cancel_intent_on_commit(payment: Payment) -> None:
    intent_id, payment_id = payment.stripe_payment_intent_id, payment.pk
    if not intent_id:
        return

    def cancel() -> None:
        try:
            gateway.payment_intent_cancel(
                intent_id=intent_id, idempotency_key=f"payment:{payment_id}:cancel"
            )
        except Exception:
            # Harmless if it stays open: nothing will confirm it again.
            logger.warning(
                "payment.cancel_failed payment=%s intent=%s", payment_id, intent_id
            )

    transaction.on_commit(cancel, robust=True)


# --- Apply Stripe's truth ---------------------------------------------------------


def payment_apply_intent_state(
    *,
    payment: Payment,
    intent: IntentResult,
    cause: str,
    actor=None,
    stripe_event_id: str = "",
) -> Payment:
    """Map a Stripe PaymentIntent onto our payment, ledger and booking.

    The single place where Stripe's view becomes ours: used by confirm, status
    refresh, webhooks and reconciliation. Idempotent (the same intent twice
    changes nothing) and order-safe (a move the state machine does not allow,
    such as ``processing`` after ``succeeded``, is logged and ignored).
    """
    with transaction.atomic():
        booking, payment = _core.lock_booking_and_payment(payment.pk)
        if (
            intent.id != payment.stripe_payment_intent_id
            or intent.amount != payment.amount
        ):
            logger.error(
                "payment.intent_mismatch payment=%s intent=%s amount=%d expected=%d",
                payment.pk,
                intent.id,
                intent.amount,
                payment.amount,
            )
            return payment
        target = _FROM_STRIPE.get(intent.status)
        fields: list[str] = []
        if intent.card_last4 and not payment.card_last4:
            payment.card_brand, payment.card_last4 = (
                intent.card_brand,
                intent.card_last4,
            )
            fields += ["card_brand", "card_last4"]
        if (
            target == _S.REQUIRES_PAYMENT_METHOD
            and intent.last_error_code
            and payment.status in _core_pre_charge()
        ):
            # Authentication failed or the card was declined asynchronously.
            target = _S.FAILED
            payment.last_error_code = intent.last_error_code[:64]
            payment.last_error_message = intent.last_error_message[:500]
            fields += ["last_error_code", "last_error_message"]
        if target is None or (
            target != payment.status and target not in ALLOWED[payment.status]
        ):
            logger.info(
                "payment.transition_ignored payment=%s from=%s to=%s cause=%s event=%s",
                payment.pk,
                payment.status,
                intent.status,
                cause,
                stripe_event_id or "-",
            )
            if fields:
                payment.save(update_fields=[*fields, "updated_at"])
            return payment

        if target == _S.SUCCEEDED and payment.status != _S.SUCCEEDED:
            payment.amount_received = intent.amount_received or payment.amount
            fields.append("amount_received")
        changed = _core.transition(
            payment,
            target,
            cause=cause,
            actor=actor,
            stripe_event_id=stripe_event_id,
            fields=tuple(fields),
        )
        if changed and target == _S.SUCCEEDED:
            _core.ledger_record_charge(payment)
            _settle_booking(booking, payment, actor=actor, cause=cause)
        if changed and target == _S.FAILED:
            _cancel_intent_on_commit(payment)
    return payment


def _settle_booking(booking: Booking, payment: Payment, *, actor, cause: str) -> None:
    if booking.status == Booking.Status.PENDING_PAYMENT:
        booking_services.booking_confirm(
            booking=booking, actor=actor, cause=f"payment_{cause}"
        )
        return
    # Paid after the hold was released or the booking cancelled: the slot is no
    # longer the client's, so the money goes straight back.
    logger.warning(
        "payment.succeeded_for_unpayable_booking payment=%s booking=%s status=%s",
        payment.pk,
        booking.pk,
        booking.status,
    )
    payment_id = payment.pk

    def refund_in_full() -> None:
        from payments.services.refunds import payment_refund

        payment_refund(
            payment=Payment.objects.get(pk=payment_id),
            amount=None,
            reason="requested_by_customer",
            note="Automatic refund: paid after the booking was no longer held.",
            actor=None,
        )

    transaction.on_commit(refund_in_full, robust=True)


def payment_refresh_from_stripe(
    *, payment: Payment, cause: str = "refresh", actor=None
) -> Payment:
    """Re-read the intent from Stripe and apply it (reconciliation, admin re-sync)."""
    if not payment.stripe_payment_intent_id:
        return payment
    intent = gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
    return payment_apply_intent_state(
        payment=payment, intent=intent, cause=cause, actor=actor
    )


def payment_cancel(*, payment: Payment, actor, cause: str) -> Payment:
    """Cancel an open payment and its intent (hold expiry, booking cancelled)."""
    payment.refresh_from_db()
    if payment.status not in _core_pre_charge():
        return payment
    if payment.stripe_payment_intent_id:
        try:
            intent = gateway.payment_intent_cancel(
                intent_id=payment.stripe_payment_intent_id,
                idempotency_key=f"payment:{payment.pk}:cancel",
            )
        except ProviderUnavailable:
            raise
        except GatewayError:
            # Stripe refuses to cancel an intent that was paid (or is being
            # paid) meanwhile: take its word for what happened instead.
            intent = gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
        return payment_apply_intent_state(
            payment=payment, intent=intent, cause=cause, actor=actor
        )
    with transaction.atomic():
        _booking, payment = _core.lock_booking_and_payment(payment.pk)
        if payment.status in _core_pre_charge():
            _core.transition(payment, _S.CANCELED, cause=cause, actor=actor)
    return payment


def payment_sync_for_payer(*, booking: Booking, actor) -> None:
    """Catch up on a 3-D Secure check the payer just finished at Stripe.

    The check happens between the browser and Stripe, and localstripe sends
    no webhook for a failed one; when the payer asks for the status of a
    payment awaiting authentication, read its outcome from Stripe. Anyone
    else, or any other state, reads only our database. Never raises for
    Stripe trouble: the status is then simply what we knew.
    """
    payment = (
        Payment.objects.filter(booking=booking, payer=actor)
        .exclude(status__in=[_S.FAILED, _S.CANCELED])
        .first()
    )
    if payment is None or payment.status != _S.REQUIRES_ACTION:
        return
    try:
        payment_refresh_from_stripe(payment=payment, cause="status_check", actor=actor)
    except PaymentError as exc:
        logger.warning(
            "payment.status_sync_failed payment=%s error=%s", payment.pk, exc
        )
