"""A coach's offerings: what clients can book and at what price.

Bookings keep the price they were made at (their snapshot), so changing an
offering never touches them.
"""

import logging
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from bookings.exceptions import BookingNotAllowed, InvalidPrice
from bookings.models import CoachProfile, Offering
from payments.money import MoneyError, parse_amount

# The package logs under one name, the one log configuration and tests use.
logger = logging.getLogger("bookings.services")


def offering_create(
    *,
    coach: User,
    title: str,
    duration_minutes: int,
    price: Decimal | int | str,
    actor: User,
) -> Offering:
    """Create an active offering for ``coach`` at ``price`` (major units).

    The currency is the coach's (their profile's); the price is converted to
    minor units exactly (``payments.money.parse_amount``) and must be more
    than zero and at most Stripe's maximum charge, with no more decimals than
    the currency has. Only the coach themselves or an admin may do it.

    Raises BookingNotAllowed (403) for anyone else or a coach without a
    profile, InvalidPrice (400) for a bad price, ValidationError (from
    ``full_clean``, keyed by model field: ``title``, ``duration_minutes``) for
    other bad values.
    """
    _check_may_manage_offerings(coach=coach, actor=actor)
    profile = CoachProfile.objects.filter(user=coach).first()
    if profile is None:
        raise BookingNotAllowed(_("Set up your coach profile before adding offerings."))
    offering = Offering(
        coach=coach,
        title=(title or "").strip(),
        duration_minutes=duration_minutes,
        price_amount=_price_to_minor(price, profile.currency),
        currency=profile.currency,
        active=True,
    )
    offering.full_clean()
    offering.save()
    logger.info(
        "offering.created offering_id=%s coach_id=%s actor_id=%s",
        offering.pk,
        coach.pk,
        actor.pk,
    )
    return offering


@transaction.atomic
def offering_update(
    *,
    offering: Offering,
    actor: User,
    title: str | None = None,
    duration_minutes: int | None = None,
    price: Decimal | int | str | None = None,
) -> Offering:
    """Change an offering's title, duration or price (major units); None keeps it.

    Applies to bookings made from now on only: every existing booking keeps
    its price snapshot and its times. The currency never changes. The row is
    locked while it is changed, so two edits do not overwrite each other's
    fields. Only the offering's coach or an admin may do it.

    Raises BookingNotAllowed (403) for anyone else, InvalidPrice (400) for a
    bad price, ValidationError (from ``full_clean``, keyed by model field) for
    other bad values.
    """
    locked = (
        Offering.objects.select_for_update().select_related("coach").get(pk=offering.pk)
    )
    _check_may_manage_offerings(coach=locked.coach, actor=actor)
    changed: list[str] = []
    if title is not None and title.strip() != locked.title:
        locked.title = title.strip()
        changed.append("title")
    if duration_minutes is not None and duration_minutes != locked.duration_minutes:
        locked.duration_minutes = duration_minutes
        changed.append("duration_minutes")
    if price is not None:
        amount = _price_to_minor(price, locked.currency)
        if amount != locked.price_amount:
            locked.price_amount = amount
            changed.append("price_amount")
    if not changed:
        return locked
    locked.full_clean()
    locked.save(update_fields=[*changed, "updated_at"])
    logger.info(
        "offering.updated offering_id=%s fields=%s actor_id=%s",
        locked.pk,
        ",".join(changed),
        actor.pk,
    )
    return locked


@transaction.atomic
def offering_deactivate(*, offering: Offering, actor: User) -> Offering:
    """Stop selling an offering: clients can no longer book it.

    Existing bookings are untouched (they are paid or held at their own
    price). Idempotent: an inactive offering is returned unchanged. Only the
    offering's coach or an admin may do it; raises BookingNotAllowed (403)
    for anyone else.
    """
    locked = (
        Offering.objects.select_for_update().select_related("coach").get(pk=offering.pk)
    )
    _check_may_manage_offerings(coach=locked.coach, actor=actor)
    if not locked.active:
        return locked
    locked.active = False
    locked.save(update_fields=["active", "updated_at"])
    logger.info("offering.deactivated offering_id=%s actor_id=%s", locked.pk, actor.pk)
    return locked


def _check_may_manage_offerings(*, coach: User, actor: User) -> None:
    if not coach.is_coach:
        raise BookingNotAllowed(_("Only coaches have offerings."))
    if actor.pk != coach.pk and not actor.is_admin:
        raise BookingNotAllowed(_("You can only change your own offerings."))


def _price_to_minor(price: Decimal | int | str, currency: str) -> int:
    """Major units to minor units through the bounded parser (at most the
    currency's decimals, more than zero, at most Stripe's maximum charge);
    raises InvalidPrice (400) with ``field="price"``."""
    try:
        return parse_amount(price, currency)
    except MoneyError as exc:
        raise InvalidPrice(
            _("Enter a price in %(currency)s: %(error)s")
            % {"currency": currency, "error": exc},
            field="price",
        ) from None
