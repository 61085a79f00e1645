"""Stripe customers and saved cards: attach, detach, choose the default.

Stripe holds the cards; we keep a mirror (brand, last digits, expiry, which is
the default) so pages and the API never need Stripe to list them. Changes to
one user's cards are serialised by a lock on their StripeCustomer row.
"""

import logging
import uuid

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from payments import gateway
from payments.exceptions import GatewayError, PaymentError, PaymentNotFound
from payments.models import SavedPaymentMethod, StripeCustomer, card_expired

logger = logging.getLogger("payments")


class PaymentMethodNotUsable(PaymentError):
    code = "payment_method_not_usable"
    http_status = 400


def customer_get_or_create(*, user) -> StripeCustomer:
    """Return the user's Stripe customer, creating it at Stripe on first use.

    The idempotency key is derived from the user, so real Stripe returns the
    same customer to concurrent first calls; the unique row decides the winner.
    """
    existing = StripeCustomer.objects.filter(user=user).first()
    if existing is not None:
        return existing
    customer_id = gateway.customer_create(
        email=user.email,
        name=user.display_name,
        user_id=str(user.pk),
        idempotency_key=f"user:{user.pk}:customer",
    )
    try:
        with transaction.atomic():
            return StripeCustomer.objects.create(
                user=user, stripe_customer_id=customer_id
            )
    except IntegrityError:
        return StripeCustomer.objects.get(user=user)


def setup_intent_create(*, user) -> gateway.SetupIntentResult:
    """Start collecting a new card in the browser (Stripe.js confirmCardSetup)."""
    customer = customer_get_or_create(user=user)
    return gateway.setup_intent_create(
        customer_id=customer.stripe_customer_id,
        idempotency_key=f"user:{user.pk}:setup:{_nonce()}",
    )


def _nonce() -> str:
    return uuid.uuid4().hex


def payment_method_for_payer(
    *, user, payment_method_id: str, customer_id: str
) -> gateway.Card:
    """Return a card the user may pay with, attaching a fresh one to them.

    A card saved by the user is used as is; a new card from Stripe.js is
    attached to the user's customer; a card that belongs to someone else, or
    one past its expiry month, is refused (PaymentMethodNotUsable), whatever
    its id.
    """
    saved = SavedPaymentMethod.objects.filter(
        user=user, stripe_payment_method_id=payment_method_id
    ).first()
    card = gateway.payment_method_retrieve(payment_method_id)
    _ensure_not_expired(card)
    if card.customer_id and card.customer_id != customer_id:
        raise PaymentMethodNotUsable(_("This card cannot be used for this payment."))
    if card.customer_id is None:
        card = gateway.payment_method_attach(
            payment_method_id=payment_method_id,
            customer_id=customer_id,
            idempotency_key=f"pm:{payment_method_id}:attach:{customer_id}",
        )
    elif (
        saved is None
        and not StripeCustomer.objects.filter(
            user=user, stripe_customer_id=card.customer_id
        ).exists()
    ):
        raise PaymentMethodNotUsable(_("This card cannot be used for this payment."))
    return card


def _ensure_not_expired(card: gateway.Card) -> None:
    if card_expired(card.exp_month, card.exp_year):
        raise PaymentMethodNotUsable(
            _(
                "This card expired at the end of %(month)02d/%(year)d. "
                "Choose another card."
            )
            % {"month": card.exp_month, "year": card.exp_year},
            reason="expired",
        )


def _same_card(user, card: gateway.Card) -> SavedPaymentMethod | None:
    """The user's saved card that is the same card as ``card``, if any.

    Stripe's fingerprint identifies a card number; without one (Stripe
    always sends it for cards, so this is only a safety net) brand, last
    digits and expiry stand in for it.
    """
    saved = SavedPaymentMethod.objects.filter(user=user)
    if card.fingerprint:
        return saved.filter(fingerprint=card.fingerprint).first()
    return saved.filter(
        brand=card.brand,
        last4=card.last4,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
    ).first()


def payment_method_attach(
    *, user, payment_method_id: str, make_default: bool, actor
) -> SavedPaymentMethod:
    """Save a card for the user; the first card (or ``make_default``) becomes default.

    Idempotent: saving a card already saved returns it (and applies
    ``make_default``), and so does saving the same card again under a new
    Stripe id (same fingerprint): the saved one keeps its place, taking the
    new id and expiry when the new one expires later (a renewed card).
    Raises CardDeclined if Stripe refuses the card and PaymentMethodNotUsable
    if it belongs to another customer or has expired.
    """
    customer = customer_get_or_create(user=user)
    existing = SavedPaymentMethod.objects.filter(
        user=user, stripe_payment_method_id=payment_method_id
    ).first()
    if existing is None:
        if SavedPaymentMethod.objects.filter(
            stripe_payment_method_id=payment_method_id
        ).exists():
            raise PaymentMethodNotUsable(_("This card cannot be saved."))
        card = payment_method_for_payer(
            user=user,
            payment_method_id=payment_method_id,
            customer_id=customer.stripe_customer_id,
        )
        with transaction.atomic():
            StripeCustomer.objects.select_for_update().get(pk=customer.pk)
            existing = SavedPaymentMethod.objects.filter(
                user=user, stripe_payment_method_id=payment_method_id
            ).first() or _same_card(user, card)
            if existing is None:
                is_first = not SavedPaymentMethod.objects.filter(user=user).exists()
                existing = SavedPaymentMethod.objects.create(
                    user=user,
                    stripe_payment_method_id=card.payment_method_id,
                    brand=card.brand,
                    last4=card.last4,
                    exp_month=card.exp_month,
                    exp_year=card.exp_year,
                    fingerprint=card.fingerprint,
                )
                make_default = make_default or is_first
            elif (card.exp_year, card.exp_month) > (
                existing.exp_year,
                existing.exp_month,
            ):
                existing.stripe_payment_method_id = card.payment_method_id
                existing.exp_month, existing.exp_year = card.exp_month, card.exp_year
                existing.save(
                    update_fields=["stripe_payment_method_id", "exp_month", "exp_year"]
                )
        payment_method_id = existing.stripe_payment_method_id
        logger.info(
            "payment_method.saved user=%s pm=%s actor=%s",
            user.pk,
            payment_method_id,
            getattr(actor, "pk", None),
        )
    if make_default and not existing.is_default:
        return payment_method_set_default(
            user=user, payment_method_id=payment_method_id, actor=actor
        )
    return existing


def payment_method_set_default(
    *, user, payment_method_id: str, actor
) -> SavedPaymentMethod:
    """Make one of the user's saved cards the default, here and at Stripe.

    Raises PaymentNotFound for a card that is not the user's and
    PaymentMethodNotUsable for an expired one.
    """
    customer = customer_get_or_create(user=user)
    with transaction.atomic():
        StripeCustomer.objects.select_for_update().get(pk=customer.pk)
        method = SavedPaymentMethod.objects.filter(
            user=user, stripe_payment_method_id=payment_method_id
        ).first()
        if method is None:
            raise PaymentNotFound(_("Payment method not found."))
        if method.is_expired:
            raise PaymentMethodNotUsable(
                _("An expired card cannot be your default card."), reason="expired"
            )
        SavedPaymentMethod.objects.filter(user=user, is_default=True).exclude(
            pk=method.pk
        ).update(is_default=False)
        if not method.is_default:
            method.is_default = True
            method.save(update_fields=["is_default"])
    _mirror_default(customer, payment_method_id)
    return method


def payment_method_detach(*, user, payment_method_id: str, actor) -> None:
    """Remove a saved card; if it was the default, the newest remaining card
    becomes the default. Raises PaymentNotFound for a card that is not the user's.
    """
    method = SavedPaymentMethod.objects.filter(
        user=user, stripe_payment_method_id=payment_method_id
    ).first()
    if method is None:
        raise PaymentNotFound(_("Payment method not found."))
    try:
        gateway.payment_method_detach(
            payment_method_id=payment_method_id,
            idempotency_key=f"pm:{payment_method_id}:detach",
        )
    except GatewayError as exc:
        # Already detached at Stripe (e.g. from the dashboard): still remove ours.
        if exc.details.get("http_status") not in (400, 404):
            raise
    _forget(method, actor=actor)


def payment_method_forget(*, payment_method_id: str) -> None:
    """Drop our copy of a card Stripe says is detached (webhook). Idempotent."""
    method = SavedPaymentMethod.objects.filter(
        stripe_payment_method_id=payment_method_id
    ).first()
    if method is not None:
        _forget(method, actor=None)


def _forget(method: SavedPaymentMethod, *, actor) -> None:
    """Delete the mirror row; a removed default passes to the newest other
    card that has not expired."""
    user = method.user
    customer = StripeCustomer.objects.get(user=user)
    new_default = None
    with transaction.atomic():
        StripeCustomer.objects.select_for_update().get(pk=customer.pk)
        deleted = SavedPaymentMethod.objects.filter(pk=method.pk).first()
        if deleted is None:
            return
        was_default = deleted.is_default
        deleted.delete()
        if was_default:
            new_default = next(
                (
                    card
                    for card in SavedPaymentMethod.objects.filter(user=user).order_by(
                        "-created_at", "-id"
                    )
                    if not card.is_expired
                ),
                None,
            )
            if new_default is not None:
                new_default.is_default = True
                new_default.save(update_fields=["is_default"])
    logger.info(
        "payment_method.removed user=%s pm=%s actor=%s",
        user.pk,
        method.stripe_payment_method_id,
        getattr(actor, "pk", None),
    )
    if was_default:
        _mirror_default(
            customer, new_default.stripe_payment_method_id if new_default else None
        )


def _mirror_default(customer: StripeCustomer, payment_method_id: str | None) -> None:
    try:
        gateway.customer_set_default_payment_method(
            customer_id=customer.stripe_customer_id,
            payment_method_id=payment_method_id,
            # Setting a default is naturally idempotent; a fresh key per change
            # keeps A -> B -> A from replaying the first answer.
            idempotency_key=f"customer:{customer.pk}:default:{_nonce()}",
        )
    except GatewayError:
        # Our row is the truth for which card is preselected; Stripe's copy
        # only matters for invoices, so a failed mirror is logged, not fatal.
        logger.warning("payment_method.default_mirror_failed customer=%s", customer.pk)
