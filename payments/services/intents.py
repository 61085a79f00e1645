"""Collecting a booking's price: open the intent, confirm it with a card."""

import logging
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings.models import Booking
from money.amounts import MoneyError, normalize_currency, to_minor
from money.pricing import percent_to_bps
from payments import gateway
from payments.exceptions import (
    BookingNotPayable,
    CardDeclined,
    GatewayError,
    PaymentError,
    PaymentInProgress,
    PaymentNotFound,
    PriceMismatch,
    StripeObjectMissing,
)
from payments.gateway import IntentResult
from payments.models import (
    ALLOWED,
    CHARGED,
    ENDED,
    FINAL,
    OPEN,
    PRE_CHARGE,
    Payment,
)
from payments.services import _core
from payments.services.methods import (
    customer_get_or_create,
    payment_method_attach,
    payment_method_for_payer,
)
from payments.services.stripe_state import (
    FROM_STRIPE,
    intent_as_recorded,
    payment_apply_intent_state,
    payment_cancel,
)

logger = logging.getLogger("payments")
_S = Payment.Status

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
    if payment.status == _S.REQUIRES_ACTION:
        # The client starts paying again while a 3-D Secure challenge is
        # unanswered (they left it, or closed the tab): that intent cannot be
        # confirmed with another card at every Stripe (localstripe refuses),
        # so it ends here, unless the bank's answer reached Stripe meanwhile.
        payment_settle_abandoned_challenge(payment=payment, actor=actor)
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


def payment_settle_abandoned_challenge(*, payment: Payment, actor) -> Payment:
    """End a payment whose 3-D Secure challenge was left unanswered.

    Reads the intent at Stripe first: if the bank answered meanwhile (paid,
    processing or failed), that outcome is recorded and nothing is cancelled.
    Otherwise the intent is cancelled at Stripe (idempotency key
    ``payment:<id>:cancel``) and the payment ends ``canceled``, so a charge
    can only ever come from one intent. Holds the payment's confirm lease
    while it talks to Stripe (never a row lock), so a confirm running at the
    same time finishes first. Raises PaymentInProgress if that confirm does
    not finish, ProviderUnavailable if Stripe does not answer.
    """
    if not _core.claim_lease(payment, "confirm_lease_until", status=_S.REQUIRES_ACTION):
        payment = _core.wait_for(
            payment,
            lambda p: p.status != _S.REQUIRES_ACTION,
            field="confirm_lease_until",
        )
        if payment.status != _S.REQUIRES_ACTION:
            return payment
        lease = payment.confirm_lease_until
        if lease is not None and lease >= timezone.now():
            raise PaymentInProgress(
                _("This payment is being confirmed. Try again in a moment.")
            )
        # The holder finished without a change (a same-card confirm) or died:
        # the lease is free now, so take it.
        return payment_settle_abandoned_challenge(payment=payment, actor=actor)
    try:
        intent = gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
        if intent.status != "requires_action":
            return payment_apply_intent_state(
                payment=payment, intent=intent, cause="challenge_answered", actor=actor
            )
        _core.renew_lease(payment, "confirm_lease_until")
        payment = payment_cancel(
            payment=payment, actor=actor, cause="challenge_abandoned"
        )
    finally:
        _core.release_lease(payment, "confirm_lease_until")
    logger.info(
        "payment.challenge_abandoned payment=%s intent=%s status=%s",
        payment.pk,
        payment.stripe_payment_intent_id,
        payment.status,
    )
    return payment


def _open_payment(*, booking: Booking, actor) -> Payment:
    """The booking's open payment, or a new one from its price snapshot."""
    try:
        with transaction.atomic():
            booking = Booking.objects.select_for_update().get(pk=booking.pk)
            _ensure_payable(booking)
            live = booking.payments.live().first()
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
        return booking.payments.live().get()


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
    *, payment: Payment, payment_method_id: str, actor, save_card: bool = False
) -> tuple[Payment, IntentResult]:
    """Confirm the intent with a card, server-side. Idempotent per intent.

    With ``save_card`` the card is saved with the payment: real Stripe sets
    it up during the payment's own 3-D Secure check (one challenge, not a
    SetupIntent's and then the payment's), and once the payment has gone
    through, the card joins the payer's saved cards (a failure to save it
    is logged, never reported as a failed payment).

    A payment already past confirmation is returned as it is, with no second
    charge, also under concurrent calls (one lease holder talks to Stripe,
    the others wait for its outcome). ``requires_action`` comes back with
    Stripe's ``next_action`` for 3-D Secure. A decline ends this payment
    (``failed``) and raises CardDeclined; the booking stays payable and the
    next create-intent opens a fresh intent. Raises PaymentNotFound for
    someone else's payment, BookingNotPayable when the payment has ended or
    the hold expired, ProviderUnavailable if Stripe does not answer.
    """
    payment, intent = _confirm(
        payment=payment,
        payment_method_id=payment_method_id,
        actor=actor,
        save_card=save_card,
    )
    if save_card and payment.status in SAVE_AFTER:
        _save_card_quietly(payment=payment, actor=actor)
    return payment, intent


def _confirm(
    *, payment: Payment, payment_method_id: str, actor, save_card: bool
) -> tuple[Payment, IntentResult]:
    if payment.payer_id != actor.pk:
        raise PaymentNotFound(_("Payment not found."))
    payment.refresh_from_db()
    if payment.status in FINAL:
        raise BookingNotPayable(
            _("This payment has ended. Start a new payment for the booking."),
            paymentStatus=payment.status,
        )
    if payment.status not in PRE_CHARGE:
        return payment, _intent_for_answer(payment)
    if not payment.stripe_payment_intent_id:
        raise PaymentInProgress(
            _("This payment is being set up. Try again in a moment.")
        )
    _ensure_payable(Booking.objects.get(pk=payment.booking_id))

    for _round in range(_TAKEOVER_ROUNDS):
        if _core.claim_lease(payment, "confirm_lease_until", status__in=PRE_CHARGE):
            return _confirm_holding_lease(
                payment=payment,
                payment_method_id=payment_method_id,
                actor=actor,
                save_card=save_card,
            )
        payment = _core.wait_for(
            payment,
            lambda p: p.status not in PRE_CHARGE,
            field="confirm_lease_until",
        )
        if payment.status in FINAL:
            # The other caller's card was declined: answer as a confirm sent
            # after it would be answered, never with a success.
            raise BookingNotPayable(
                _("This payment has ended. Start a new payment for the booking."),
                paymentStatus=payment.status,
            )
        if payment.status not in PRE_CHARGE:
            return payment, _intent_for_answer(payment)
        if not _core.lease_lapsed(payment, "confirm_lease_until"):
            break
        # The holder's lease ran out (its process died) or it let go without
        # an outcome (Stripe failed it): this caller takes the job over. The
        # holder's first step re-reads the intent at Stripe, so a charge the
        # dead holder made is found, never made again.
    raise PaymentInProgress(
        _("This payment is being confirmed. Try again in a moment.")
    )


# Claim-or-wait rounds of one confirm: a lease can lapse (or be let go) and be
# taken by someone else between a wait and the claim.
_TAKEOVER_ROUNDS = 3


def _confirm_holding_lease(
    *, payment: Payment, payment_method_id: str, actor, save_card: bool
) -> tuple[Payment, IntentResult]:
    """The confirm proper, by the holder of the payment's confirm lease.

    Renews the lease before each step that talks to Stripe, so the lease can
    be short (``_core.lease_seconds``). When Stripe fails or refuses the
    confirm, the payment may still have been charged (the answer was lost or
    came too late, or a retry met an intent already paid): the outcome is
    looked up before an error is answered (``_outcome_after_error``).
    """
    field = "confirm_lease_until"
    try:
        # Read what a previous lease holder left (its card, its outcome).
        payment.refresh_from_db()
        # A retry after a timeout must not charge twice: if an earlier attempt
        # got through, Stripe's intent already says so.
        if payment.stripe_payment_method_id:
            _core.renew_lease(payment, field)
            intent = gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
            if FROM_STRIPE.get(intent.status) not in PRE_CHARGE:
                return payment_apply_intent_state(
                    payment=payment, intent=intent, cause="confirm_retry", actor=actor
                ), intent
            if intent.status == "requires_action":
                _core.renew_lease(payment, field)
                return _confirm_during_challenge(
                    payment=payment,
                    intent=intent,
                    payment_method_id=payment_method_id,
                    actor=actor,
                )
        _core.renew_lease(payment, field)
        card = payment_method_for_payer(
            user=actor,
            payment_method_id=payment_method_id,
            customer_id=payment.stripe_customer_id,
        )
        _remember_card(payment, card)
        _core.renew_lease(payment, field)
        intent = gateway.payment_intent_confirm(
            intent_id=payment.stripe_payment_intent_id,
            payment_method_id=card.payment_method_id,
            idempotency_key=f"payment:{payment.pk}:confirm:{card.payment_method_id}",
            save_card=save_card,
        )
        payment = payment_apply_intent_state(
            payment=payment, intent=intent, cause="confirm", actor=actor
        )
    except CardDeclined as exc:
        payment_record_decline(payment=payment, error=exc, actor=actor)
        raise
    except StripeObjectMissing:
        raise  # the caller's card id: nothing was confirmed
    except GatewayError:
        # ProviderUnavailable (timeout, dropped answer) or a refusal (a retry
        # of a confirm Stripe already carried out): was the card charged?
        outcome = _outcome_after_error(payment=payment, actor=actor)
        if outcome is None:
            raise
        return outcome
    finally:
        # Released only once the outcome is stored, so waiting callers see it.
        _core.release_lease(payment, field)
    return payment, intent


def _outcome_after_error(
    *, payment: Payment, actor
) -> tuple[Payment, IntentResult] | None:
    """The payment's outcome if its card was charged after all, else None.

    First our database (the webhook may have recorded the success while the
    confirm's answer was late), then, if that knows nothing yet, one attempt
    to read the intent at Stripe (bounded: the payer has waited enough).
    Only a charge (or a charge in progress) is an outcome: anything else
    leaves the original error to be answered, and the payer retries.
    """
    payment.refresh_from_db()
    if payment.status in SAVE_AFTER:
        return payment, intent_as_recorded(payment)
    if payment.status not in PRE_CHARGE:
        return None
    try:
        _core.renew_lease(payment, "confirm_lease_until")
        intent = gateway.payment_intent_retrieve(
            payment.stripe_payment_intent_id, once=True
        )
    except PaymentError as exc:
        logger.warning(
            "payment.confirm_outcome_unknown payment=%s error=%s", payment.pk, exc
        )
        return None
    if intent.status not in ("succeeded", "processing"):
        return None
    payment = payment_apply_intent_state(
        payment=payment, intent=intent, cause="confirm_recovered", actor=actor
    )
    logger.info(
        "payment.confirm_recovered payment=%s intent=%s status=%s",
        payment.pk,
        intent.id,
        payment.status,
    )
    return payment, intent


def _intent_for_answer(payment: Payment) -> IntentResult:
    """The intent of a payment past confirmation, for the confirm's answer:
    read at Stripe once, or as we recorded it when Stripe does not answer
    (a charged card is never answered with an error)."""
    try:
        return gateway.payment_intent_retrieve(
            payment.stripe_payment_intent_id, once=True
        )
    except PaymentError:
        return intent_as_recorded(payment)


def _confirm_during_challenge(
    *, payment: Payment, intent: IntentResult, payment_method_id: str, actor
) -> tuple[Payment, IntentResult]:
    """A confirm for an intent still waiting for its 3-D Secure answer.

    The same card: the challenge is still to be answered, so the answer is
    the same ``requires_action`` (confirm is idempotent). Another card: the
    client gave up on the challenge; that intent is ended (not re-confirmed,
    which localstripe refuses) and the client starts a fresh payment, as
    after a decline. The caller holds the confirm lease.
    """
    if payment_method_id == payment.stripe_payment_method_id:
        return payment_apply_intent_state(
            payment=payment, intent=intent, cause="confirm_retry", actor=actor
        ), intent
    payment = payment_cancel(payment=payment, actor=actor, cause="challenge_abandoned")
    if payment.status not in ENDED:
        # The bank answered just before the cancel: that answer stands.
        return payment, gateway.payment_intent_retrieve(
            payment.stripe_payment_intent_id
        )
    raise BookingNotPayable(
        _(
            "The earlier payment was waiting for your bank's confirmation and has "
            "been stopped, so nothing was charged. Start the payment again."
        ),
        paymentStatus=payment.status,
    )


# A payment that went through (or is settling): its card may join the wallet.
SAVE_AFTER = frozenset({*CHARGED, _S.PROCESSING})


def _save_card_quietly(*, payment: Payment, actor) -> None:
    if not payment.stripe_payment_method_id:
        return
    try:
        payment_method_attach(
            user=actor,
            payment_method_id=payment.stripe_payment_method_id,
            make_default=False,
            actor=actor,
        )
    except PaymentError as exc:
        logger.warning(
            "payment_method.save_after_payment_failed payment=%s error=%s",
            payment.pk,
            exc,
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
            _core.cancel_intent_on_commit(payment)
    return payment
