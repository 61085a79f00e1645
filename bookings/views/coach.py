"""The coach's pages: their bookings and their offerings (earnings are the
payments app's)."""

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
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
from bookings.forms import CoachCancelForm, OfferingForm
from bookings.models import Booking, Offering
from coaching.errors import DomainError
from coaching.throttling import page_throttle_wait
from payments import selectors as payment_selectors
from payments import services as payment_services
from payments.api.common import PaymentsThrottle
from payments.models import REFUNDABLE
from payments.money import exponent, format_money
from payments.services.balances import refund_split
from payments.views import payment_status_contexts

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


def _offering_form(coach, data=None, **kwargs) -> OfferingForm:
    profile = getattr(coach, "coach_profile", None)
    return OfferingForm(
        data,
        currency=profile.currency if profile else "CHF",
        vat_included=profile.vat_included if profile else True,
        **kwargs,
    )


def _offering_save(form: OfferingForm, service, **kwargs) -> Offering | None:
    """Call an offering service (create or update) with the form's values.

    A refusal goes on the form next to what caused it, and None is returned.
    """
    try:
        return service(
            title=form.cleaned_data["title"],
            description=form.cleaned_data["description"],
            duration_minutes=form.cleaned_data["duration_minutes"],
            price=form.cleaned_data["price"],
            **kwargs,
        )
    except ValidationError as exc:
        form.add_service_errors(exc.error_dict if hasattr(exc, "error_dict") else {})
    except InvalidPrice as exc:
        form.add_error("price", exc.message)
    except BookingError as exc:
        form.add_error(None, getattr(exc, "message", str(exc)))
    return None


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
        offering = _offering_save(
            form, booking_services.offering_create, coach=coach, actor=coach
        )
        if offering is not None:
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
        "description": offering.description,
        "duration_minutes": offering.duration_minutes,
        "price": Decimal(offering.price_amount).scaleb(-exponent(offering.currency)),
    }
    form = _offering_form(
        coach, request.POST if request.method == "POST" else None, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        saved = _offering_save(
            form, booking_services.offering_update, offering=offering, actor=coach
        )
        if saved is not None:
            messages.success(
                request, _("“%(title)s” is saved.") % {"title": saved.title}
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
