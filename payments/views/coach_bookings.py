"""The coach's bookings: each session with its live payment status and what
the coach receives after refunds, and cancelling one (which refunds the
client in full). Payments' pages because they show and move money; their URLs
stay in the ``coach`` namespace (``coach:bookings``, ``coach:booking_cancel``),
composed by ``coaching.urls``. The coach's offerings, profile and hours are
the bookings app's."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.decorators import coach_required
from bookings import selectors
from bookings.forms import CoachCancelForm
from bookings.models import Booking
from coaching.errors import DomainError
from coaching.throttling import page_throttle_wait
from money.amounts import format_money
from payments import selectors as payment_selectors
from payments import services as payment_services
from payments.api.common import PaymentsThrottle
from payments.models import REFUNDABLE
from payments.services.balances import refund_split
from payments.views.status import payment_status_contexts

COACH_UPCOMING_LIMIT = 100
COACH_PAST_PER_PAGE = 20


def _with_coach_share(items: list[dict]) -> list[dict]:
    """Add to each row ``coach_now``, what the coach receives after refunds
    (None while nothing was charged), and ``cancellable``: a paid session or
    a hold that has not started, which the coach may cancel."""
    shares = payment_selectors.coach_share_for_bookings(
        booking_ids=[item["booking"].pk for item in items]
    )
    now = timezone.now()
    for item in items:
        booking = item["booking"]
        item["coach_now"] = shares.get(booking.pk)
        item["cancellable"] = _coach_may_cancel(booking, now)
    return items


def _coach_may_cancel(booking: Booking, now) -> bool:
    return booking.status in _CANCELLABLE and booking.starts_at > now


_CANCELLABLE = frozenset({Booking.Status.PENDING_PAYMENT, Booking.Status.CONFIRMED})


@require_GET
@coach_required
def coach_bookings(request: HttpRequest) -> HttpResponse:
    """The coach's sessions, each with its live payment status: upcoming and
    past by default, or one filter (``?show=upcoming|holds|past|cancelled``).

    Every status is the fragment of ``payments.views``; one socket on the page
    follows all of them (``static/js/payment-status.js``).
    """
    coach = request.user
    profile = getattr(coach, "coach_profile", None)
    context = {
        "time_zone": profile.time_zone if profile else "UTC",
        "filters": selectors.COACH_BOOKING_FILTERS,
        "show": "",
        "setup_steps": selectors.coach_setup_steps(coach=coach),
    }
    show = request.GET.get("show", "")
    if show in selectors.COACH_BOOKING_FILTERS:
        page = Paginator(
            selectors.booking_list_for_coach_filtered(coach=coach, show=show),
            COACH_PAST_PER_PAGE,
        ).get_page(request.GET.get("page"))
        context.update(
            show=show,
            filtered=_with_coach_share(payment_status_contexts(page)),
            filtered_page=page,
        )
        return render(request, "bookings/coach_bookings.html", context)
    upcoming = selectors.booking_list_for_coach(coach=coach, upcoming=True)
    past = Paginator(
        selectors.booking_list_for_coach(coach=coach, upcoming=False),
        COACH_PAST_PER_PAGE,
    ).get_page(request.GET.get("page"))
    context.update(
        upcoming=_with_coach_share(
            payment_status_contexts(upcoming[:COACH_UPCOMING_LIMIT])
        ),
        upcoming_limited=upcoming.count() > COACH_UPCOMING_LIMIT,
        past=_with_coach_share(payment_status_contexts(past)),
        past_page=past,
    )
    return render(request, "bookings/coach_bookings.html", context)


@require_http_methods(["GET", "POST"])
@coach_required
def coach_booking_cancel(request: HttpRequest, booking_id) -> HttpResponse:
    """The coach cancels a session: the page says first that the client gets
    everything back, and asks for a reason the client is sent.

    Through the one cancellation service (``payments.services.
    booking_cancel_with_refund``): the coach as actor refunds everything left.
    """
    booking = selectors.booking_get_for_user(user=request.user, booking_id=booking_id)
    if booking is None:
        raise Http404
    if not _coach_may_cancel(booking, timezone.now()):
        messages.info(request, _("This session can no longer be cancelled."))
        return redirect("coach:bookings")
    form = CoachCancelForm(request.POST if request.method == "POST" else None)
    error, status, wait = "", 200, None
    if request.method == "POST":
        # Cancelling calls Stripe: the same budget as the client's cancel.
        wait = page_throttle_wait(
            request, scope="payments", throttle_class=PaymentsThrottle
        )
    if wait is not None:
        error, status = _("Too many attempts. Try again in a moment."), 429
    elif request.method == "POST" and form.is_valid():
        try:
            booking, refund = payment_services.booking_cancel_with_refund(
                booking=booking,
                actor=request.user,
                note=_("Cancelled by the coach."),
                message=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            error, status = exc.message, exc.http_status
        else:
            messages.success(request, _coach_cancelled_message(booking, refund))
            return redirect(reverse("coach:bookings") + "?show=cancelled")
    elif request.method == "POST":
        status = 400
    refund_amount = payment_services.cancellation_refund_amount(
        booking=booking, actor=request.user
    )
    context = {
        "booking": booking,
        "form": form,
        "error": error,
        "refund_amount": refund_amount,
        "coach_after": _coach_share_after(booking, refund_amount),
        "time_zone": booking.coach.coach_profile.time_zone,
    }
    response = render(request, "bookings/coach_cancel.html", context, status=status)
    if wait is not None:
        response["Retry-After"] = str(wait)
    return response


def _coach_share_after(booking: Booking, refund_amount: int) -> int | None:
    """What the coach receives for the session once ``refund_amount`` is
    refunded, split as the ledger will book it (the booking's refund-fee
    rule); None when nothing was charged."""
    payment = booking.payments.filter(status__in=REFUNDABLE).first()
    if payment is None:
        return None
    now = payment_selectors.coach_share_for_bookings(booking_ids=[booking.pk])
    split = refund_split(payment=payment, amount=refund_amount)
    return now.get(booking.pk, 0) - split.coach


def _coach_cancelled_message(booking: Booking, refund) -> str:
    client = booking.client.display_name
    if refund is None:
        return _("The session is cancelled and %(client)s is told why.") % {
            "client": client
        }
    return _(
        "The session is cancelled. %(client)s gets %(amount)s back in full and "
        "is told why."
    ) % {"client": client, "amount": format_money(refund.amount, refund.currency)}
