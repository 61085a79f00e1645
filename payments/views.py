"""Payment pages: the payment-status fragment that live pages refresh.

Pages that show a booking's payment include
``templates/payments/partials/_payment_status.html`` with the context of
``payment_status_context``; ``static/js/payment-status.js`` keeps every such
fragment current (WebSocket first, polling while the socket is down).
"""

import csv
from datetime import UTC, date, timedelta
from decimal import Decimal
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from accounts.decorators import coach_required, staff_required
from bookings.models import Booking
from payments import charts, selectors
from payments.models import FINAL, Payment, Refund
from payments.money import exponent, format_money

# Booking statuses that still move by themselves: a hold expires, a
# confirmed session is cancelled, refunded or completed.
_BOOKING_LIVE = frozenset({Booking.Status.PENDING_PAYMENT, Booking.Status.CONFIRMED})


def payment_status_context(booking: Booking) -> dict:
    """What the fragment shows for ``booking`` (its visibility already checked).

    ``final`` tells live pages to stop polling: it is true only when nothing
    about this booking's money can change any more, by anyone. That is when
    the booking is past its live states (neither awaiting payment nor
    confirmed) and its payment, if any, has ended (failed, canceled, refunded
    in full) with no refund pending. A paid booking is never final, even
    cancelled or completed: the coach or an admin may still refund it, a
    dispute may come, and a late payment on a released hold is refunded by
    itself.
    """
    payment = selectors.payment_current_for_booking(booking_id=booking.pk)
    pending_refund = 0
    if payment is not None:
        pending_refund = sum(
            payment.refunds.filter(status=Refund.Status.PENDING).values_list(
                "amount", flat=True
            )
        )
    final = (
        booking.status not in _BOOKING_LIVE
        and (payment is None or payment.status in FINAL)
        and not pending_refund
    )
    return {
        "booking": booking,
        "payment": payment,
        "pending_refund": pending_refund,
        "final": final,
    }


def _login_required(view):
    """``login_required`` that also works for htmx requests.

    A fragment request whose session has ended must not swap the login page
    into the fragment: htmx is told to load the login page instead, coming
    back to the page the fragment is on.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.htmx:
            back = request.htmx.current_url_abs_path or "/"
            return HttpResponseClientRedirect(redirect_to_login(back).url)
        return redirect_to_login(request.get_full_path())

    return wrapper


@require_GET
@_login_required
@never_cache
def payment_status_fragment(request: HttpRequest, booking_id) -> HttpResponse:
    """The fragment alone, for the booking's payer, its coach and admins.

    Anyone else gets a 404, as for a booking that does not exist.
    """
    booking = selectors.booking_get_for_payment_status(
        user=request.user, booking_id=booking_id
    )
    if booking is None:
        raise Http404
    return render(
        request,
        "payments/partials/_payment_status.html",
        payment_status_context(booking),
    )


# --- Coaches: what they earned ----------------------------------------------------

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
    return render(request, "payments/earnings.html", {"sections": sections})


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


# --- Staff: the money side at a glance --------------------------------------------

STUCK_AFTER = timedelta(minutes=15)
DASHBOARD_LIST_LIMIT = 50


@require_GET
@staff_required
@never_cache
@vary_on_headers("HX-Request")
def staff_dashboard(request: HttpRequest) -> HttpResponse:
    """Today's payments by status, and what needs a person: payments stuck in
    an open state, dead-lettered webhook events, refunds with no outcome yet.

    Lists link to the admin, where the actions (re-sync, replay, refund) are.
    An htmx request (the Refresh button) gets the panels alone.
    """
    now = timezone.now()
    day_start = timezone.localtime(now).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    stuck = selectors.payment_list_stuck(older_than=now - STUCK_AFTER)
    dead = selectors.webhook_event_list_dead()
    pending_refunds = selectors.refund_list_pending()
    context = {
        "now": now,
        "day_start": day_start,
        "stuck_minutes": int(STUCK_AFTER.total_seconds() // 60),
        "totals": [
            {**row, "label": Payment.Status(row["status"]).label}
            for row in selectors.payment_totals_by_status(since=day_start)
        ],
        "stuck": stuck[:DASHBOARD_LIST_LIMIT],
        "stuck_count": stuck.count(),
        "dead": dead[:DASHBOARD_LIST_LIMIT],
        "dead_count": dead.count(),
        "retrying_count": selectors.webhook_event_count_retrying(),
        "pending_refunds": pending_refunds[:DASHBOARD_LIST_LIMIT],
        "pending_refunds_count": pending_refunds.count(),
        "list_limit": DASHBOARD_LIST_LIMIT,
    }
    template = (
        "payments/partials/_staff_dashboard_panels.html"
        if request.htmx
        else "payments/staff_dashboard.html"
    )
    return render(request, template, context)
