"""The coach's earnings: per month and offering from the ledger, and as CSV."""

import csv
from datetime import UTC, date
from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.decorators import coach_required
from money.amounts import exponent, format_money
from payments import charts, selectors
from payments.services import balances

EARNINGS_CHART_MONTHS = 12
CSV_HEADER = [
    "month",
    "offering_id",
    "offering",
    "currency",
    "charges",
    "gross",
    "refunds",
    "platform_fees",
    "vat",
    "net_to_coach",
]


def _coach_today(coach) -> date:
    profile = getattr(coach, "coach_profile", None)
    zone = profile.tz if profile is not None else UTC
    return timezone.now().astimezone(zone).date()


def _earnings_section(coach, currency: str, today: date) -> dict:
    """One currency's figures: totals, per month, per offering, and the chart."""
    by_month = selectors.earnings_by_month_for_coach(coach=coach, currency=currency)
    chart = None
    if by_month:
        this_month = today.replace(day=1)
        window_start = charts.month_shift(this_month, 1 - EARNINGS_CHART_MONTHS)
        first = max(min(row.month for row in by_month), window_start)
        net = {row.month: row.coach_net for row in by_month}
        months = charts.months_between(first, this_month)
        points = [
            (
                date_format(month, "F Y"),
                net.get(month, 0),
                format_money(net.get(month, 0), currency),
            )
            for month in months
        ]
        chart = charts.bar_chart(points)
        best = max(points, key=lambda point: point[1])
        chart_summary = _(
            "Net to you per month in %(currency)s, %(first)s to %(last)s. "
            "Highest: %(best_month)s, %(best_amount)s."
        ) % {
            "currency": currency,
            "first": points[0][0],
            "last": points[-1][0],
            "best_month": best[0],
            "best_amount": best[2],
        }
    else:
        chart_summary = ""
    return {
        "currency": currency,
        "balances": balances.coach_balances(coach=coach, currency=currency),
        "next_maturity": balances.next_maturity(coach=coach, currency=currency),
        "this_month": today.replace(day=1),
        "total": selectors.earnings_total_for_coach(coach=coach, currency=currency),
        "by_month": by_month,
        "by_offering": selectors.earnings_by_offering_for_coach(
            coach=coach, currency=currency
        ),
        "chart": chart,
        "chart_summary": chart_summary,
    }


@require_GET
@coach_required
def coach_earnings(request: HttpRequest) -> HttpResponse:
    """Gross, fees, VAT, refunds and net per month and offering, from the ledger.

    One section per currency the coach was paid in: amounts in different
    currencies are never added up.
    """
    coach = request.user
    today = _coach_today(coach)
    sections = [
        _earnings_section(coach, currency, today)
        for currency in selectors.earnings_currencies_for_coach(coach=coach)
    ]
    zone = getattr(getattr(coach, "coach_profile", None), "tz", UTC)
    return render(
        request, "payments/earnings.html", {"sections": sections, "coach_tz": zone}
    )


def _major_text(minor: int, currency: str) -> str:
    """Minor units as an exact decimal string in major units: ``-3050`` -> ``-30.50``."""
    digits = exponent(currency)
    return f"{Decimal(int(minor)).scaleb(-digits):.{digits}f}"


def _csv_text(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@require_GET
@coach_required
def coach_earnings_csv(request: HttpRequest) -> HttpResponse:
    """The earnings per month and offering as CSV, amounts in major units."""
    coach = request.user
    today = _coach_today(coach)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="earnings-{today:%Y-%m-%d}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    for currency in selectors.earnings_currencies_for_coach(coach=coach):
        for row in selectors.earnings_for_coach(coach=coach, currency=currency):
            writer.writerow(
                [
                    f"{row.month:%Y-%m}",
                    str(row.offering_id or ""),
                    _csv_text(row.offering_title),
                    row.currency,
                    row.charges,
                    *(
                        _major_text(amount, currency)
                        for amount in (
                            row.gross,
                            row.refunds,
                            row.platform_fees,
                            row.vat,
                            row.coach_net,
                        )
                    ),
                ]
            )
    return response
