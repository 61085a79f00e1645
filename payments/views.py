"""Payment pages: the payment-status fragment that live pages refresh, and
the client's account pages (saved cards, notifications).

Pages that show a booking's payment include
``templates/payments/partials/_payment_status.html`` with the context of
``payment_status_context``; ``static/js/payment-status.js`` keeps every such
fragment current (WebSocket first, polling while the socket is down).
"""

import csv
from datetime import UTC, date, timedelta
from decimal import Decimal
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from accounts.decorators import coach_required, staff_required
from bookings.models import Booking
from payments import charts, selectors, services
from payments.exceptions import PaymentError, PaymentNotFound
from payments.models import FINAL, Payment, Refund, SavedPaymentMethod
from payments.money import exponent, format_money
from payments.services import notifications as notification_services

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


# --- The client's account: saved cards and notifications --------------------------


@require_GET
@_login_required
@vary_on_headers("HX-Request")
def payment_method_list(request: HttpRequest) -> HttpResponse:
    """The user's saved cards; adding one needs JavaScript (Stripe.js)."""
    return _payment_methods_response(request)


@require_POST
@_login_required
def payment_method_default(request: HttpRequest, method_id: str) -> HttpResponse:
    """Make one of the user's saved cards the default."""
    try:
        method = services.payment_method_set_default(
            user=request.user, payment_method_id=method_id, actor=request.user
        )
    except PaymentNotFound:
        raise Http404 from None
    except PaymentError as exc:
        return _payment_methods_response(
            request, error=exc.message, error_for=method_id, status=exc.http_status
        )
    return _payment_methods_response(
        request,
        message=_("%(card)s is now your default card.") % {"card": _card_name(method)},
    )


@require_POST
@_login_required
def payment_method_delete(request: HttpRequest, method_id: str) -> HttpResponse:
    """Remove a saved card; if it was the default, the newest other card is."""
    method = (
        selectors.payment_methods_for_user(user=request.user)
        .filter(stripe_payment_method_id=method_id)
        .first()
    )
    if method is None:
        raise Http404
    try:
        services.payment_method_detach(
            user=request.user, payment_method_id=method_id, actor=request.user
        )
    except PaymentNotFound:
        raise Http404 from None
    except PaymentError as exc:
        return _payment_methods_response(
            request, error=exc.message, error_for=method_id, status=exc.http_status
        )
    return _payment_methods_response(
        request, message=_("%(card)s was removed.") % {"card": _card_name(method)}
    )


def stripe_js_context() -> dict:
    """What pages that take a card need: Stripe.js's URL (its origin is in the
    CSP), the publishable key, and whether it is localstripe's stand-in, which
    needs ``static/js/localstripe-shim.js`` next to htmx."""
    return {
        "stripe_js_url": settings.STRIPE_JS_URL,
        "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "stripe_stand_in": not settings.STRIPE_JS_URL.startswith(
            "https://js.stripe.com/"
        ),
    }


def _card_name(method: SavedPaymentMethod) -> str:
    return f"{method.brand.title()} •••• {method.last4}"


def _payment_methods_response(
    request: HttpRequest,
    *,
    message: str = "",
    error: str = "",
    error_for: str = "",
    status: int = 200,
) -> HttpResponse:
    """The page, or for htmx its card list; a plain POST redirects back."""
    htmx = request.htmx and not request.htmx.history_restore_request
    if request.method == "POST" and not htmx:
        if message:
            messages.success(request, message)
        if error:
            messages.error(request, error)
        return redirect("account:payment_methods")
    context = {
        "methods": selectors.payment_methods_for_user(user=request.user),
        "message": message,
        "error": error,
        "error_for": error_for,
        **stripe_js_context(),
    }
    template = (
        "payments/partials/_payment_method_list.html"
        if htmx
        else "payments/payment_methods.html"
    )
    return render(request, template, context, status=status)


NOTIFICATIONS_PER_PAGE = 20


@require_GET
@_login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    """The user's notifications, newest first, 20 a page."""
    page = Paginator(
        selectors.notification_list_for_user(user=request.user),
        NOTIFICATIONS_PER_PAGE,
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "payments/notifications.html",
        {"page_obj": page, "notifications": page.object_list},
    )


@require_POST
@_login_required
def notification_read(request: HttpRequest, notification_id) -> HttpResponse:
    """Mark one notification read; htmx gets the updated item and nav count."""
    notification = selectors.notification_get_for_user(
        user=request.user, notification_id=notification_id
    )
    if notification is None:
        raise Http404
    notification_services.notification_mark_read(
        notification=notification, actor=request.user
    )
    if request.htmx:
        return render(
            request,
            "payments/partials/_notification_read.html",
            {"notification": notification},
        )
    return redirect(_notifications_page(request))


@require_POST
@_login_required
def notification_read_all(request: HttpRequest) -> HttpResponse:
    """Mark every unread notification of the user read."""
    unread = selectors.notification_list_for_user(user=request.user).filter(read=False)
    for notification in unread:
        notification_services.notification_mark_read(
            notification=notification, actor=request.user
        )
    messages.success(request, _("All notifications are marked as read."))
    return redirect(_notifications_page(request))


def _notifications_page(request: HttpRequest) -> str:
    url = reverse("account:notifications")
    page = request.POST.get("page", "")
    return f"{url}?page={page}" if page.isdigit() else url


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
