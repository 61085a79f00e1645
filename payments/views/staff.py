"""The staff dashboard: the money side at a glance."""

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import staff_required
from payments import selectors
from payments.models import Payment

STUCK_AFTER = timedelta(minutes=15)
DASHBOARD_LIST_LIMIT = 50


@require_GET
@staff_required
@never_cache
@vary_on_headers("HX-Request")
def staff_dashboard(request: HttpRequest) -> HttpResponse:
    """Today's payments by status, and what needs a person: payments stuck in
    an open state (also any still waiting for 3-D Secure after the booking's
    hold ended), dead-lettered webhook events, refunds with no outcome yet.

    Lists link to the admin, where the actions (re-sync, replay, refund) are.
    An htmx request (the Refresh button) gets the panels alone.
    """
    now = timezone.now()
    day_start = timezone.localtime(now).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    stuck = selectors.payment_list_stuck(older_than=now - STUCK_AFTER, now=now)
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
