"""Platform-fee invoices: the platform bills each coach monthly for its fee.

The fee the ledger took includes VAT at ``PLATFORM_VAT_RATE``; the invoice
shows net, VAT and total separately, with the seller's legal details copied
in. Numbers run without gaps per calendar year (``PF-2026-00001``): each is
taken from a counter row locked with ``select_for_update`` in the same
transaction that writes the invoice, so a rolled-back issue never uses up a
number. Issued invoices never change (the model refuses updates).
"""

import logging
from datetime import date

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from money.pricing import round_half_up_div
from payments.models import InvoiceCounter, LedgerEntry, PlatformFeeInvoice
from payments.services import statements

logger = logging.getLogger("payments")

SERIES = "PF"


def invoice_vat(fee: int, rate_bps: int) -> int:
    """VAT inside a fee that includes it (DESIGN.md's formula, in bps)."""
    return round_half_up_div(fee * rate_bps, 10_000 + rate_bps)


def _next_number(year: int) -> str:
    counter, _ = InvoiceCounter.objects.get_or_create(series=f"{SERIES}-{year}")
    counter = InvoiceCounter.objects.select_for_update().get(pk=counter.pk)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return f"{SERIES}-{year}-{counter.last_number:05d}"


def invoice_issue(
    *, coach: User, month: date, currency: str
) -> PlatformFeeInvoice | None:
    """Issue the coach's platform-fee invoice for ``month``, once.

    Returns the invoice (the existing one when already issued), or None when
    the month's net fee is not positive (nothing to bill) or the month has
    not ended yet on the coach's clock.
    """
    month = statements.month_start(month)
    existing = PlatformFeeInvoice.objects.filter(
        coach=coach, month=month, currency=currency
    ).first()
    if existing is not None:
        return existing
    _start, end = statements.month_bounds(coach, month)
    if end > timezone.now():
        return None
    fee = statements.platform_fee_for_month(coach=coach, month=month, currency=currency)
    if fee <= 0:
        return None
    rate = settings.PLATFORM_VAT_RATE_BPS
    vat = invoice_vat(fee, rate)
    try:
        with transaction.atomic():
            invoice = PlatformFeeInvoice.objects.create(
                number=_next_number(month.year),
                coach=coach,
                month=month,
                currency=currency,
                fee_net=fee - vat,
                vat_amount=vat,
                fee_gross=fee,
                vat_rate_bps=rate,
                seller_name=settings.PLATFORM_LEGAL_NAME,
                seller_address=settings.PLATFORM_ADDRESS.replace("\\n", "\n"),
                seller_vat_number=settings.PLATFORM_VAT_NUMBER,
                buyer_name=coach.name or coach.email,
                issued_at=timezone.now(),
            )
    except IntegrityError:
        # Issued by a concurrent run; its transaction (and number) stood.
        return PlatformFeeInvoice.objects.get(
            coach=coach, month=month, currency=currency
        )
    logger.info(
        "invoice.issued number=%s coach=%s month=%s fee=%d",
        invoice.number,
        coach.pk,
        month,
        fee,
    )
    return invoice


def invoices_issue_for_last_month() -> int:
    """Issue last month's invoices of every coach with fees; return how many
    were new. Idempotent (one invoice per coach, month and currency)."""
    issued = 0
    today = timezone.now().date()
    # The first day of the previous month.
    first_this = statements.month_start(today)
    last_month = statements.month_start(date.fromordinal(first_this.toordinal() - 1))
    pairs = (
        LedgerEntry.objects.filter(
            kind=LedgerEntry.Kind.PLATFORM_FEE, coach__isnull=False
        )
        .values_list("coach_id", "currency")
        .distinct()
    )
    for coach_id, currency in pairs:
        coach = User.objects.get(pk=coach_id)
        exists = PlatformFeeInvoice.objects.filter(
            coach=coach, month=last_month, currency=currency
        ).exists()
        if not exists and invoice_issue(
            coach=coach, month=last_month, currency=currency
        ):
            issued += 1
    return issued
