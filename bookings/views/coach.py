"""The coach's offerings. Their bookings (with payment status and cancelling),
earnings and statements are the payments app's pages; profile and hours are
``practice``."""

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import (
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
from bookings.models import Offering
from money.amounts import exponent


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
