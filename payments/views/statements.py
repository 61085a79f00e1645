"""The coach's monthly statement (page, CSV, PDF) and platform-fee invoices."""

import csv
from datetime import date

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.decorators import coach_required
from money.amounts import normalize_currency
from payments import pdf
from payments.models import PlatformFeeInvoice
from payments.services import balances, statements
from payments.views.earnings import _major_text


def _statement(request: HttpRequest, year: int, month: int):
    try:
        first = date(year, month, 1)
    except ValueError as exc:
        raise Http404("No such month.") from exc
    currencies = balances.coach_balance_currencies(coach=request.user) or ["CHF"]
    asked = request.GET.get("currency", currencies[0])
    try:
        currency = normalize_currency(asked)
    except Exception as exc:
        raise Http404("No such currency.") from exc
    if currency not in currencies:
        raise Http404("No such currency.")
    return statements.statement_for_month(
        coach=request.user, month=first, currency=currency
    )


@require_GET
@coach_required
def coach_statement(request: HttpRequest, year: int, month: int) -> HttpResponse:
    """One month: opening balance, the month's money, closing balance."""
    statement = _statement(request, year, month)
    invoice = PlatformFeeInvoice.objects.filter(
        coach=request.user, month=statement.month, currency=statement.currency
    ).first()
    months = statements.statement_months(
        coach=request.user, currency=statement.currency
    )
    return render(
        request,
        "payments/statement.html",
        {
            "statement": statement,
            "currency": statement.currency,
            "invoice": invoice,
            "months": months,
        },
    )


@require_GET
@coach_required
def coach_statement_csv(request: HttpRequest, year: int, month: int) -> HttpResponse:
    """The statement as CSV: the summary rows, then one row per session."""
    statement = _statement(request, year, month)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="statement-{statement.month:%Y-%m}.csv"'
    )
    writer = csv.writer(response)
    money = statement.currency
    writer.writerow(["item", "currency", "amount"])
    writer.writerow(["sessions", money, statement.sessions])
    for key, _label, amount in statement.summary():
        writer.writerow([key, money, _major_text(amount, money)])
    writer.writerow([])
    writer.writerow(["session", "offering", "gross", "vat", "platform_fee", "yours"])
    for line in statement.lines:
        writer.writerow(
            [
                line.when.isoformat(),
                "'" + line.offering
                if line.offering[:1] in ("=", "+", "-", "@")
                else line.offering,
                *(
                    _major_text(amount, money)
                    for amount in (line.gross, line.vat, line.platform_fee, line.coach)
                ),
            ]
        )
    return response


@require_GET
@coach_required
def coach_statement_pdf(request: HttpRequest, year: int, month: int) -> HttpResponse:
    statement = _statement(request, year, month)
    response = HttpResponse(
        pdf.statement_pdf(statement, platform_name=settings.PLATFORM_NAME),
        content_type="application/pdf",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="statement-{statement.month:%Y-%m}.pdf"'
    )
    return response


@require_GET
@coach_required
def coach_invoice_pdf(request: HttpRequest, number: str) -> HttpResponse:
    """One of the coach's own platform-fee invoices as PDF; others' are 404."""
    invoice = PlatformFeeInvoice.objects.filter(
        coach=request.user, number=number
    ).first()
    if invoice is None:
        raise Http404("No such invoice.")
    response = HttpResponse(pdf.invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    return response
