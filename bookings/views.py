"""Pages of the bookings app. Thin: a selector or a service, a template."""

import datetime as dt
import functools
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
)
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from accounts.decorators import coach_required
from bookings import selectors
from bookings import services as booking_services
from bookings.exceptions import BookingError, InvalidPrice
from bookings.forms import OfferingForm
from bookings.models import Booking
from coaching.errors import DomainError
from payments import selectors as payment_selectors
from payments import services as payment_services
from payments.exceptions import PaymentError
from payments.models import CHARGED, Payment
from payments.money import exponent, format_money
from payments.views import payment_status_context, stripe_js_context


def coach_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "bookings/home.html", {"coaches": selectors.coach_list_public()}
    )


@login_required
def booking_detail(request: HttpRequest, booking_id) -> HttpResponse:
    """A booking for its client, its coach and admins; a 404 for anyone else.

    Its payment status is the live fragment of ``payments.views``.
    """
    booking = selectors.booking_get_for_user(user=request.user, booking_id=booking_id)
    if booking is None:
        raise Http404
    return render(
        request,
        "bookings/detail.html",
        {**payment_status_context(booking), "booking": booking},
    )


# --- The client's side: a coach's page, booking, checkout, their bookings --------

SLOT_DAYS = 14
MAX_LISTED = 50
_VIEWER_TZ_KEY = "viewer_tz"


@functools.cache
def _time_zones() -> tuple[str, ...]:
    """Zones a viewer may pick: the IANA names people use (``Area/City``, UTC)."""
    return tuple(
        sorted(
            name
            for name in zoneinfo.available_timezones()
            if name == "UTC"
            or ("/" in name and not name.startswith(("Etc/", "SystemV/", "US/")))
        )
    )


def _viewer_zone(request: HttpRequest, default: str) -> str:
    """The zone the viewer asked for (``tz``), else the one they picked last,
    else ``default`` (the coach's)."""
    for candidate in (
        request.POST.get("tz"),
        request.GET.get("tz"),
        request.session.get(_VIEWER_TZ_KEY),
    ):
        if candidate and candidate in _time_zones():
            return candidate
    return default


def _remember_zone(request: HttpRequest, zone: str) -> None:
    if request.user.is_authenticated and request.session.get(_VIEWER_TZ_KEY) != zone:
        request.session[_VIEWER_TZ_KEY] = zone


def _display_zone(request: HttpRequest, booking: Booking) -> str:
    profile = getattr(booking.coach, "coach_profile", None)
    return _viewer_zone(request, profile.time_zone if profile else "UTC")


def _slot_days(
    starts: list[dt.datetime], zone: zoneinfo.ZoneInfo
) -> dict[dt.date, list[dt.datetime]]:
    """Free starts grouped by the viewer's local date, in order."""
    days: dict[dt.date, list[dt.datetime]] = {}
    for start in starts:
        days.setdefault(start.astimezone(zone).date(), []).append(start)
    return days


def _coach_page(
    request: HttpRequest,
    coach,
    *,
    offering_id: str | None,
    day: str | None,
    error: str = "",
    error_start: dt.datetime | None = None,
    status: int = 200,
) -> HttpResponse:
    """The coach's page (or its slot picker for htmx), with an optional error
    shown next to the slot the client tried to book."""
    profile = coach.coach_profile
    offerings = coach.active_offerings
    offering = next((o for o in offerings if str(o.pk) == offering_id), offerings[0])
    viewer_tz = _viewer_zone(request, profile.time_zone)
    zone = zoneinfo.ZoneInfo(viewer_tz)
    starts = selectors.free_slots_ahead(offering=offering, days=SLOT_DAYS)
    if error_start is not None and error_start not in starts:
        # A slot taken meanwhile is gone from the free ones: keep it in the
        # list, so the error appears next to the time the client chose.
        starts = sorted([*starts, error_start])
    days = _slot_days(starts, zone)
    if error_start is not None:
        selected = error_start.astimezone(zone).date()
    else:
        selected = _parse_day(day)
    if selected not in days:
        selected = next(iter(days), None)
    context = {
        "coach": coach,
        "profile": profile,
        "offerings": offerings,
        "offering": offering,
        "viewer_tz": viewer_tz,
        "time_zones": _time_zones(),
        "days": [
            {"date": date, "count": len(slots), "selected": date == selected}
            for date, slots in days.items()
        ],
        "selected_day": selected,
        "slots": days.get(selected, []),
        "slot_days": SLOT_DAYS,
        "error": error,
        "error_start": error_start,
        "can_book": request.user.is_authenticated and request.user.is_client,
    }
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "bookings/partials/_slots.html", context, status=status)
    return render(request, "bookings/coach_detail.html", context, status=status)


def _parse_day(value: str | None) -> dt.date | None:
    try:
        return parse_date(value or "")
    except ValueError:
        return None


@require_GET
@vary_on_headers("HX-Request")
def coach_detail(request: HttpRequest, coach_id) -> HttpResponse:
    """A coach's page: bio, sessions with prices, free times of the next days.

    Public. Times are computed on the coach's calendar and shown in the
    viewer's zone (``?tz=``, remembered for logged-in users; the coach's by
    default).
    """
    coach = selectors.coach_get_public(coach_id=coach_id)
    if coach is None:
        raise Http404
    if request.GET.get("tz") in _time_zones():
        _remember_zone(request, request.GET["tz"])
    return _coach_page(
        request,
        coach,
        offering_id=request.GET.get("offering"),
        day=request.GET.get("day"),
    )


@require_POST
@login_required
def coach_book(request: HttpRequest, coach_id) -> HttpResponse:
    """Book the chosen slot (``offering``, ``starts_at``) and go to checkout.

    A refusal (slot taken meanwhile, outside the coach's hours, not a
    client) shows the coach's page again with the reason next to the slot.
    """
    coach = selectors.coach_get_public(coach_id=coach_id)
    if coach is None:
        raise Http404
    offering_id = request.POST.get("offering", "")
    offering = next(
        (o for o in coach.active_offerings if str(o.pk) == offering_id), None
    )
    if offering is None:
        return _coach_page(
            request,
            coach,
            offering_id=None,
            day=None,
            error=_("This session is no longer offered. Choose another one."),
            status=400,
        )
    viewer_tz = _viewer_zone(request, coach.coach_profile.time_zone)
    _remember_zone(request, viewer_tz)
    starts_at = _parse_instant(request.POST.get("starts_at", ""))
    if starts_at is None:
        return _coach_page(
            request,
            coach,
            offering_id=offering_id,
            day=request.POST.get("day"),
            error=_("Choose a time first."),
            status=400,
        )
    try:
        booking = booking_services.booking_create(
            client=request.user,
            offering=offering,
            starts_at=starts_at,
            actor=request.user,
        )
    except BookingError as exc:
        return _coach_page(
            request,
            coach,
            offering_id=offering_id,
            day=None,
            error=exc.message,
            error_start=starts_at,
            status=exc.http_status,
        )
    return redirect("bookings:checkout", booking_id=booking.pk)


def _parse_instant(value: str) -> dt.datetime | None:
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None or timezone.is_naive(parsed):
        return None
    return parsed.astimezone(dt.UTC)


def _client_booking(request: HttpRequest, booking_id) -> Booking:
    """The booking if the user is its client; a 404 for anyone else."""
    booking = selectors.booking_get_for_user(user=request.user, booking_id=booking_id)
    if booking is None or booking.client_id != request.user.pk:
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
    default = next((c for c in cards if c.is_default), cards[0] if cards else None)
    context = {
        "booking": booking,
        "viewer_tz": _display_zone(request, booking),
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
def booking_list(request: HttpRequest) -> HttpResponse:
    """The client's bookings, upcoming and past, each with its live payment status."""
    upcoming = selectors.booking_list_for_client(user=request.user, upcoming=True)
    past = selectors.booking_list_for_client(user=request.user, upcoming=False)
    now = timezone.now()
    context = {
        "upcoming": [_booking_row(request, b, now) for b in upcoming[:MAX_LISTED]],
        "past": [_booking_row(request, b, now) for b in past[:MAX_LISTED]],
        "max_listed": MAX_LISTED,
    }
    return render(request, "bookings/my_bookings.html", context)


def _booking_row(request: HttpRequest, booking: Booking, now: dt.datetime) -> dict:
    """One booking of the list: its live status fragment's context, its
    time zone and which actions it offers."""
    row = payment_status_context(booking)
    payment = row["payment"]
    pending = booking.status == Booking.Status.PENDING_PAYMENT
    return {
        **row,
        "zone": _display_zone(request, booking),
        "can_pay": pending and (booking.expires_at is None or booking.expires_at > now),
        "can_cancel": (pending or booking.status == Booking.Status.CONFIRMED)
        and booking.starts_at > now,
        "has_receipt": payment is not None and payment.status in CHARGED,
    }


@require_GET
@login_required
def booking_receipt(request: HttpRequest, booking_id) -> HttpResponse:
    """The receipt of a paid booking, for its client, its coach and admins."""
    booking = selectors.booking_get_for_user(user=request.user, booking_id=booking_id)
    if booking is None:
        raise Http404
    payment = payment_selectors.payment_for_receipt(booking_id=booking.pk)
    if payment is None:
        raise Http404
    context = {
        "booking": booking,
        "payment": payment,
        "refunds": [
            r for r in payment.refunds.all() if r.status in ("succeeded", "pending")
        ],
        "viewer_tz": _display_zone(request, booking),
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
    booking = selectors.booking_get_for_user(user=request.user, booking_id=booking_id)
    if booking is None:
        raise Http404
    cancellable = (
        booking.status in (Booking.Status.PENDING_PAYMENT, Booking.Status.CONFIRMED)
        and booking.starts_at > timezone.now()
    )
    if not cancellable:
        messages.info(request, _("This booking can no longer be cancelled."))
        return redirect("bookings:detail", booking_id=booking.pk)
    error, status = "", 200
    if request.method == "POST":
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
    context = {
        "booking": booking,
        "viewer_tz": _display_zone(request, booking),
        "refund_amount": refund_amount,
        "paid": payment_selectors.payment_for_receipt(booking_id=booking.pk),
        "window_closes_at": booking.starts_at
        - dt.timedelta(hours=booking.cancellation_window_hours),
        "error": error,
    }
    return render(request, "bookings/cancel.html", context, status=status)


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


# --- The coach's side: their bookings and offerings -------------------------------

COACH_UPCOMING_LIMIT = 100
COACH_PAST_PER_PAGE = 20


@require_GET
@coach_required
def coach_bookings(request: HttpRequest) -> HttpResponse:
    """The coach's sessions, upcoming and past, each with its live payment status.

    Every status is the fragment of ``payments.views``; one socket on the page
    follows all of them (``static/js/payment-status.js``).
    """
    coach = request.user
    upcoming = selectors.booking_list_for_coach(coach=coach, upcoming=True)
    past = Paginator(
        selectors.booking_list_for_coach(coach=coach, upcoming=False),
        COACH_PAST_PER_PAGE,
    ).get_page(request.GET.get("page"))
    profile = getattr(coach, "coach_profile", None)
    return render(
        request,
        "bookings/coach_bookings.html",
        {
            "upcoming": [
                payment_status_context(booking)
                for booking in upcoming[:COACH_UPCOMING_LIMIT]
            ],
            "upcoming_limited": upcoming.count() > COACH_UPCOMING_LIMIT,
            "past": [payment_status_context(booking) for booking in past],
            "past_page": past,
            "time_zone": profile.time_zone if profile else "UTC",
        },
    )


def _offering_form(coach, data=None, **kwargs) -> OfferingForm:
    profile = getattr(coach, "coach_profile", None)
    return OfferingForm(
        data,
        currency=profile.currency if profile else "CHF",
        vat_included=profile.vat_included if profile else True,
        **kwargs,
    )


def _offering_errors(form: OfferingForm, exc: Exception) -> None:
    """Put a refusal of the offering services next to what caused it."""
    if isinstance(exc, ValidationError):
        form.add_service_errors(exc.error_dict if hasattr(exc, "error_dict") else {})
    elif isinstance(exc, InvalidPrice):
        form.add_error("price", exc.message)
    else:
        form.add_error(None, getattr(exc, "message", str(exc)))


def _focus_first_error(form: OfferingForm) -> None:
    """Put the keyboard on the first field in error once htmx swaps the form in."""
    for name, field in form.fields.items():
        if name in form.errors:
            field.widget.attrs["autofocus"] = True
            return


def _offerings_context(coach, form: OfferingForm, message: str = "") -> dict:
    return {
        "form": form,
        "offerings": selectors.offering_list_for_coach(coach=coach),
        "panel_message": message,
        "has_profile": hasattr(coach, "coach_profile"),
    }


@require_http_methods(["GET", "POST"])
@coach_required
@vary_on_headers("HX-Request")
def coach_offerings(request: HttpRequest) -> HttpResponse:
    """The coach's offerings, and a form to add one.

    Without JavaScript the form posts and redirects back; with htmx the
    panel (list and form) is swapped in place, errors next to their fields.
    """
    coach = request.user
    form = _offering_form(coach, request.POST if request.method == "POST" else None)
    message = ""
    if request.method == "POST" and form.is_valid():
        try:
            offering = booking_services.offering_create(
                coach=coach,
                title=form.cleaned_data["title"],
                duration_minutes=form.cleaned_data["duration_minutes"],
                price=form.cleaned_data["price"],
                actor=coach,
            )
        except (ValidationError, BookingError) as exc:
            _offering_errors(form, exc)
        else:
            message = _("“%(title)s” is on offer now.") % {"title": offering.title}
            if not request.htmx:
                messages.success(request, message)
                return redirect("coach:offerings")
            form = _offering_form(coach)
    _focus_first_error(form)
    context = _offerings_context(coach, form, message)
    if request.htmx:
        return render(request, "bookings/partials/_coach_offerings_panel.html", context)
    return render(request, "bookings/coach_offerings.html", context)


@require_http_methods(["GET", "POST"])
@coach_required
@vary_on_headers("HX-Request")
def coach_offering_edit(request: HttpRequest, offering_id) -> HttpResponse:
    """Change an offering's title, duration or price; bookings keep their price."""
    coach = request.user
    offering = selectors.offering_get_for_coach(coach=coach, offering_id=offering_id)
    if offering is None:
        raise Http404
    initial = {
        "title": offering.title,
        "duration_minutes": offering.duration_minutes,
        "price": Decimal(offering.price_amount).scaleb(-exponent(offering.currency)),
    }
    form = _offering_form(
        coach, request.POST if request.method == "POST" else None, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        try:
            offering = booking_services.offering_update(
                offering=offering,
                title=form.cleaned_data["title"],
                duration_minutes=form.cleaned_data["duration_minutes"],
                price=form.cleaned_data["price"],
                actor=coach,
            )
        except (ValidationError, BookingError) as exc:
            _offering_errors(form, exc)
        else:
            messages.success(
                request, _("“%(title)s” is saved.") % {"title": offering.title}
            )
            if request.htmx:
                return HttpResponseClientRedirect(reverse("coach:offerings"))
            return redirect("coach:offerings")
    _focus_first_error(form)
    context = {"form": form, "offering": offering}
    if request.htmx:
        return render(request, "bookings/partials/_coach_offering_form.html", context)
    return render(request, "bookings/coach_offering_edit.html", context)


@require_POST
@coach_required
def coach_offering_deactivate(request: HttpRequest, offering_id) -> HttpResponse:
    """Take an offering off sale; its existing bookings stay as they are."""
    coach = request.user
    offering = selectors.offering_get_for_coach(coach=coach, offering_id=offering_id)
    if offering is None:
        raise Http404
    offering = booking_services.offering_deactivate(offering=offering, actor=coach)
    message = _(
        "“%(title)s” is no longer on offer. Bookings already made are not affected."
    ) % {"title": offering.title}
    if request.htmx:
        return render(
            request,
            "bookings/partials/_coach_offerings_panel.html",
            _offerings_context(coach, _offering_form(coach), message),
        )
    messages.success(request, message)
    return redirect("coach:offerings")
