"""The client's booking pages that show or move money: a booking (with its
live payment status), checkout, their bookings, a receipt, "Add to calendar"
and cancelling (which refunds). A booking's page, receipt and cancellation are
also its coach's and admins'. Their URLs stay in the ``bookings`` namespace
(``bookings:checkout``…), composed by ``coaching.urls``."""

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts.decorators import login_required
from bookings import selectors
from bookings.models import Booking
from bookings.views import _zones
from coaching.errors import DomainError
from coaching.throttling import page_throttle_wait
from money.amounts import format_money
from payments import calendar
from payments import selectors as payment_selectors
from payments import services as payment_services
from payments.api.common import PaymentsThrottle
from payments.exceptions import PaymentError
from payments.models import CHARGED, Payment
from payments.views.account import stripe_js_context
from payments.views.status import payment_status_context, payment_status_contexts

MAX_LISTED = 50


@login_required
def booking_detail(request: HttpRequest, booking_id) -> HttpResponse:
    """A booking for its client, its coach and admins; a 404 for anyone else.

    The hub of a booking: its live payment status (the fragment of
    ``payments.views``), the receipt, cancelling, "Add to calendar" and what
    happens next.
    """
    booking = _visible_booking(request, booking_id)
    status = payment_status_context(booking)
    payment, now = status["payment"], timezone.now()
    is_party = request.user.pk in (booking.client_id, booking.coach_id)
    free_until = booking.cancellation_closes_at
    context = {
        **status,
        "booking": booking,
        "viewer_tz": _zones.display_zone(request, booking),
        "is_client": request.user.pk == booking.client_id,
        "can_pay": booking.status == Booking.Status.PENDING_PAYMENT
        and request.user.pk == booking.client_id
        and (booking.expires_at is None or booking.expires_at > now),
        "has_receipt": payment is not None and payment.status in CHARGED,
        "can_cancel": booking.status
        in (Booking.Status.PENDING_PAYMENT, Booking.Status.CONFIRMED)
        and booking.starts_at > now,
        "can_add_to_calendar": is_party and booking.status in CALENDAR_STATUSES,
        "cancel_free_until": free_until if free_until > now else None,
        "upcoming": booking.starts_at > now,
    }
    return render(request, "bookings/detail.html", context)


def _visible_booking(request: HttpRequest, booking_id) -> Booking:
    """The booking if the user may see it (its client, its coach, an admin);
    a 404 for anyone else."""
    booking = selectors.booking_get_for_user(user=request.user, booking_id=booking_id)
    if booking is None:
        raise Http404
    return booking


def _client_booking(request: HttpRequest, booking_id) -> Booking:
    """The booking if the user is its client; a 404 for anyone else."""
    booking = _visible_booking(request, booking_id)
    if booking.client_id != request.user.pk:
        raise Http404
    return booking


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def booking_checkout(request: HttpRequest, booking_id) -> HttpResponse:
    """Pay for a booking: the price, the hold's time left, saved cards or a new one.

    For the booking's client only. With JavaScript ``static/js/checkout.js``
    pays through the payments API (new cards through Stripe.js). Without it,
    a saved card can still pay: the form posts here and the same services
    create and confirm the intent.
    """
    booking = _client_booking(request, booking_id)
    if booking.status != Booking.Status.PENDING_PAYMENT:
        messages.info(request, _("This booking is not awaiting payment."))
        return redirect("bookings:detail", booking_id=booking.pk)
    left = (booking.expires_at - timezone.now()) if booking.expires_at else None
    expired = left is not None and left <= dt.timedelta(0)
    cards = list(payment_selectors.payment_methods_for_user(user=request.user))
    error, status = "", 200
    if request.method == "POST" and not expired:
        chosen = request.POST.get("payment_method", "")
        if chosen not in {card.stripe_payment_method_id for card in cards}:
            error, status = (
                _(
                    "Choose one of your saved cards. Entering a new card needs "
                    "JavaScript."
                ),
                400,
            )
        else:
            try:
                payment, _intent = payment_services.payment_create_intent(
                    booking=booking, actor=request.user
                )
                payment, _intent = payment_services.payment_confirm(
                    payment=payment, payment_method_id=chosen, actor=request.user
                )
            except PaymentError as exc:
                error, status = exc.message, exc.http_status
            else:
                if payment.status != Payment.Status.REQUIRES_ACTION:
                    messages.success(
                        request, _("Thank you: your payment went through.")
                    )
                    return redirect("bookings:detail", booking_id=booking.pk)
                error, status = (
                    _(
                        "Your bank wants you to confirm this payment, which needs "
                        "JavaScript. Turn it on and pay again."
                    ),
                    409,
                )
    chosen = request.POST.get("payment_method") if request.method == "POST" else None
    # An expired card is listed (marked) but never chosen for the client.
    usable = [card for card in cards if not card.is_expired]
    default = next((c for c in usable if c.is_default), usable[0] if usable else None)
    free_until = booking.cancellation_closes_at
    context = {
        "booking": booking,
        "viewer_tz": _zones.display_zone(request, booking),
        "cancel_free_until": free_until if free_until > timezone.now() else None,
        "expired": expired,
        "hold_seconds_left": max(0, int(left.total_seconds())) if left else 0,
        "cards": cards,
        "selected_method": chosen
        or (default.stripe_payment_method_id if default else "new"),
        "error": error,
        **stripe_js_context(),
    }
    return render(request, "bookings/checkout.html", context, status=status)


@require_GET
@login_required
def booking_calendar(request: HttpRequest, booking_id) -> HttpResponse:
    """The booked session as an ``.ics`` file ("Add to calendar").

    For the payer and the booking's coach (not admins: it is a personal
    calendar entry), once the booking is paid; a 404 for anyone else.
    """
    booking = _visible_booking(request, booking_id)
    if request.user.pk not in (booking.client_id, booking.coach_id):
        raise Http404
    if booking.status not in CALENDAR_STATUSES:
        raise Http404
    response = HttpResponse(
        calendar.booking_ics(booking=booking, platform_name=settings.PLATFORM_NAME),
        content_type=calendar.CONTENT_TYPE,
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{calendar.ics_filename(booking)}"'
    )
    return response


# A session to put in a calendar: paid (an unpaid hold may still go away).
CALENDAR_STATUSES = frozenset({Booking.Status.CONFIRMED, Booking.Status.COMPLETED})


@require_GET
@login_required
def booking_list(request: HttpRequest) -> HttpResponse:
    """The client's bookings, upcoming and past, each with its live payment status."""
    upcoming = selectors.booking_list_for_client(user=request.user, upcoming=True)
    past = selectors.booking_list_for_client(user=request.user, upcoming=False)
    now = timezone.now()
    context = {
        "upcoming": _booking_rows(request, upcoming[:MAX_LISTED], now),
        "past": _booking_rows(request, past[:MAX_LISTED], now),
        "max_listed": MAX_LISTED,
    }
    return render(request, "bookings/my_bookings.html", context)


def _booking_rows(request: HttpRequest, bookings, now: dt.datetime) -> list[dict]:
    """The bookings of the list: each one's live status fragment's context,
    its time zone and which actions it offers."""
    return [
        _booking_row(request, row, now) for row in payment_status_contexts(bookings)
    ]


def _booking_row(request: HttpRequest, row: dict, now: dt.datetime) -> dict:
    booking, payment = row["booking"], row["payment"]
    pending = booking.status == Booking.Status.PENDING_PAYMENT
    return {
        **row,
        "zone": _zones.display_zone(request, booking),
        "can_pay": pending and (booking.expires_at is None or booking.expires_at > now),
        "can_cancel": (pending or booking.status == Booking.Status.CONFIRMED)
        and booking.starts_at > now,
        "has_receipt": payment is not None and payment.status in CHARGED,
    }


@require_GET
@login_required
def booking_receipt(request: HttpRequest, booking_id) -> HttpResponse:
    """The receipt of a paid booking, for its client, its coach and admins."""
    booking = _visible_booking(request, booking_id)
    payment = payment_selectors.payment_for_receipt(booking_id=booking.pk)
    if payment is None:
        raise Http404
    context = {
        "booking": booking,
        "payment": payment,
        "refunds": [
            r for r in payment.refunds.all() if r.status in ("succeeded", "pending")
        ],
        "viewer_tz": _zones.display_zone(request, booking),
        "platform_name": settings.PLATFORM_NAME,
    }
    return render(request, "bookings/receipt.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def booking_cancel(request: HttpRequest, booking_id) -> HttpResponse:
    """Cancel a booking: first the refund the policy allows, then, on POST, do it.

    For the booking's client, its coach and admins (the refund depends on
    who cancels). Only bookings awaiting payment or confirmed, before the
    session starts, can be cancelled here.
    """
    booking = _visible_booking(request, booking_id)
    if request.method == "GET" and request.user.pk == booking.coach_id:
        # The coach's page says it in the coach's words and asks for a reason.
        return redirect("coach:booking_cancel", booking_id=booking.pk)
    cancellable = (
        booking.status in (Booking.Status.PENDING_PAYMENT, Booking.Status.CONFIRMED)
        and booking.starts_at > timezone.now()
    )
    if not cancellable:
        messages.info(request, _("This booking can no longer be cancelled."))
        return redirect("bookings:detail", booking_id=booking.pk)
    error, status, wait = "", 200, None
    if request.method == "POST":
        # Cancelling calls Stripe: the same budget as the API's cancel.
        wait = page_throttle_wait(
            request, scope="payments", throttle_class=PaymentsThrottle
        )
    if wait is not None:
        error, status = (
            ngettext(
                "Too many attempts. Try again in %(seconds)d second.",
                "Too many attempts. Try again in %(seconds)d seconds.",
                wait,
            )
            % {"seconds": wait},
            429,
        )
    elif request.method == "POST":
        try:
            booking, refund = payment_services.booking_cancel_with_refund(
                booking=booking, actor=request.user
            )
        except DomainError as exc:
            error, status = exc.message, exc.http_status
        else:
            messages.success(request, _cancelled_message(refund))
            return redirect("bookings:detail", booking_id=booking.pk)
    refund_amount = payment_services.cancellation_refund_amount(
        booking=booking, actor=request.user
    )
    paid = payment_selectors.payment_for_receipt(booking_id=booking.pk)
    context = {
        "booking": booking,
        "viewer_tz": _zones.display_zone(request, booking),
        "refund_amount": refund_amount,
        "paid": paid,
        # Who gives back what (issue 15): the same split the ledger will book.
        "refund_split": payment_services.refund_split(
            payment=paid, amount=refund_amount
        )
        if paid and refund_amount
        else None,
        "window_closes_at": booking.cancellation_closes_at,
        "error": error,
    }
    response = render(request, "bookings/cancel.html", context, status=status)
    if wait is not None:
        response["Retry-After"] = str(wait)
    return response


def _cancelled_message(refund) -> str:
    if refund is None:
        return _("The booking is cancelled.")
    amount = format_money(refund.amount, refund.currency)
    if refund.status == "succeeded":
        return _("The booking is cancelled and %(amount)s was refunded.") % {
            "amount": amount
        }
    if refund.status == "pending":
        return _(
            "The booking is cancelled. The refund of %(amount)s is being processed."
        ) % {"amount": amount}
    return _(
        "The booking is cancelled, but the refund of %(amount)s failed. "
        "We will look into it."
    ) % {"amount": amount}
