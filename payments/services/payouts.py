"""Manual payouts: staff record a bank transfer to a coach against the
available balance (coaches without a connected Stripe account)."""

import logging
from datetime import date

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from bookings.models import CoachProfile
from money.amounts import format_money
from payments.exceptions import PayoutExceedsAvailable, PayoutInvalid
from payments.models import LedgerEntry, Payout
from payments.services import balances

logger = logging.getLogger("payments")


def payout_record(
    *,
    coach: User,
    amount: int,
    currency: str,
    bank_reference: str,
    paid_on: date,
    actor: User | None,
) -> Payout:
    """Record a payout of ``amount`` (minor units) made to ``coach``.

    Never more than the coach's available balance in ``currency``, also when
    staff record payouts at the same time: the coach's profile row is locked
    while the balance is summed and the payout entry written, so a second
    payout waits and then sees the first. Raises PayoutInvalid (400) for a
    non-positive amount or a missing reference, PayoutExceedsAvailable (409)
    when the amount is more than available.
    """
    reference = bank_reference.strip()
    if amount <= 0:
        raise PayoutInvalid(_("A payout must be more than zero."), field="amount")
    if not reference:
        raise PayoutInvalid(
            _("Give the bank transfer's reference."), field="bankReference"
        )
    with transaction.atomic():
        # The one lock that serialises payouts of a coach.
        CoachProfile.objects.select_for_update().get(user=coach)
        available = balances.coach_balances(coach=coach, currency=currency).available
        if amount > available:
            raise PayoutExceedsAvailable(
                _("The payout is more than the available %(available)s.")
                % {"available": format_money(max(available, 0), currency)},
                available=available,
            )
        payout = Payout.objects.create(
            coach=coach,
            amount=amount,
            currency=currency,
            bank_reference=reference[:100],
            paid_on=paid_on,
            recorded_by=actor,
        )
        LedgerEntry.objects.create(
            payout=payout,
            coach=coach,
            kind=LedgerEntry.Kind.PAYOUT,
            amount=-amount,
            currency=currency,
        )
    transaction.on_commit(
        lambda: logger.info(
            "payout.recorded payout=%s coach=%s amount=%d currency=%s actor=%s",
            payout.pk,
            coach.pk,
            amount,
            currency,
            actor.pk if actor else "-",
        )
    )
    return payout
