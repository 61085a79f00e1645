"""A coach's offerings: what clients can book and at what price.

Bookings keep the price they were made at (their snapshot), so changing an
offering never touches them.
"""

import logging
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from bookings.exceptions import BookingNotAllowed, InvalidPrice
from bookings.models import CoachProfile, Offering
from money.amounts import (
    MoneyError,
    charge_limits,
    format_money,
    parse_amount,
    to_major,
)
from money.pricing import breakdown

# The package logs under one name, the one log configuration and tests use.
logger = logging.getLogger("bookings.services")


def offering_create(
    *,
    coach: User,
    title: str,
    duration_minutes: int,
    price: Decimal | int | str,
    actor: User,
    description: str = "",
) -> Offering:
    """Create an active offering for ``coach`` at ``price`` (major units).

    The currency is the coach's (their profile's); the price is converted to
    minor units exactly (``money.amounts.parse_amount``) and must be more
    than zero and at most Stripe's maximum charge, with no more decimals than
    the currency has. Only the coach themselves or an admin may do it.

    What the client will be charged (the gross, with VAT added if the
    coach's prices exclude it) must be within what Stripe accepts for the
    currency (``money.amounts.charge_limits``: CHF 0.50 to 999,999.99). No
    two active offerings of one coach share a title (in any letter case):
    checked under the coach's profile lock, so two concurrent adds cannot
    both pass.

    Raises BookingNotAllowed (403) for anyone else or a coach without a
    profile, InvalidPrice (400) for a bad price, ValidationError (from
    ``full_clean``, keyed by model field: ``title``, ``duration_minutes``) for
    other bad values and a title already on offer.
    """
    _check_may_manage_offerings(coach=coach, actor=actor)
    with transaction.atomic():
        profile = CoachProfile.objects.select_for_update().filter(user=coach).first()
        if profile is None:
            raise BookingNotAllowed(
                _("Set up your coach profile before adding offerings.")
            )
        offering = Offering(
            coach=coach,
            title=(title or "").strip(),
            description=(description or "").strip(),
            duration_minutes=duration_minutes,
            price_amount=_price_to_minor(price, profile.currency),
            currency=profile.currency,
            active=True,
        )
        _check_chargeable(offering, profile)
        _check_title_free(offering)
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
    description: str | None = None,
) -> Offering:
    """Change an offering's title, description, duration or price (major
    units); None keeps it.

    Applies to bookings made from now on only: every existing booking keeps
    its price snapshot and its times. The currency never changes. The row is
    locked while it is changed, so two edits do not overwrite each other's
    fields. Only the offering's coach or an admin may do it. The same rules
    as ``offering_create`` hold: a chargeable price, a title no other active
    offering of the coach has.

    Raises BookingNotAllowed (403) for anyone else, InvalidPrice (400) for a
    bad price, ValidationError (from ``full_clean``, keyed by model field) for
    other bad values.
    """
    # The coach's profile first, as offering_create and booking_create lock it.
    profile = (
        CoachProfile.objects.select_for_update()
        .filter(user_id=offering.coach_id)
        .first()
    )
    locked = (
        Offering.objects.select_for_update().select_related("coach").get(pk=offering.pk)
    )
    _check_may_manage_offerings(coach=locked.coach, actor=actor)
    changed: list[str] = []
    if description is not None and description.strip() != locked.description:
        locked.description = description.strip()
        changed.append("description")
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
    if profile is not None and "price_amount" in changed:
        _check_chargeable(locked, profile)
    if "title" in changed and locked.active:
        _check_title_free(locked)
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


def _check_chargeable(offering: Offering, profile: CoachProfile) -> None:
    """Refuse a price whose charge (the gross) Stripe would not accept."""
    gross = breakdown(offering.price_terms(profile)).gross
    minimum, maximum = charge_limits(offering.currency)
    if not minimum <= gross <= maximum:
        raise InvalidPrice(
            _("A session costs between %(minimum)s and %(maximum)s.")
            % {
                "minimum": format_money(minimum, offering.currency),
                "maximum": format_money(maximum, offering.currency),
            },
            field="price",
            minimum=str(to_major(minimum, offering.currency)),
            maximum=str(to_major(maximum, offering.currency)),
        )


def _check_title_free(offering: Offering) -> None:
    """Refuse a title another active offering of the coach has (any case)."""
    clash = (
        Offering.objects.filter(
            coach_id=offering.coach_id, active=True, title__iexact=offering.title
        )
        .exclude(pk=offering.pk)
        .exists()
    )
    if clash:
        raise ValidationError(
            {"title": [_("You already offer a session with this title.")]}
        )


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
