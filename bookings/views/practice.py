"""The coach's own practice: profile and terms, weekly hours and dated
exceptions, and the checklist a new coach follows until clients can book.

Plain forms that post and redirect: usable from the keyboard and on a phone
without JavaScript.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import coach_required
from bookings import selectors
from bookings import services as booking_services
from bookings.exceptions import BookingError
from bookings.forms import (
    AvailabilityExceptionForm,
    CoachProfileForm,
    WeeklyHoursForm,
)
from bookings.models import AvailabilityException, CoachProfile
from bookings.views import _zones


def _profile_or_404(coach) -> CoachProfile:
    profile = CoachProfile.objects.filter(user=coach).first()
    if profile is None:
        raise Http404
    return profile


def _after_save(request: HttpRequest, message: str, *, fallback: str) -> HttpResponse:
    """Say what was saved; a coach still setting up goes back to the checklist."""
    messages.success(request, message)
    steps = selectors.coach_setup_steps(coach=request.user)
    return redirect("coach:setup" if not all(steps.values()) else fallback)


@require_http_methods(["GET", "POST"])
@coach_required
def coach_profile(request: HttpRequest) -> HttpResponse:
    """Display name, bio, zone and the terms of new bookings (cancellation
    window, break between sessions, how far ahead, minimum notice)."""
    coach = request.user
    profile = _profile_or_404(coach)
    initial = {"name": coach.name}
    initial.update(
        {
            field: getattr(profile, field)
            for field in booking_services.coaches.PROFILE_TERMS
        }
    )
    form = CoachProfileForm(
        request.POST if request.method == "POST" else None, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        try:
            booking_services.coach_profile_update(
                coach=coach, actor=coach, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_service_errors(exc.message_dict)
        except BookingError as exc:
            form.add_error(None, exc.message)
        else:
            return _after_save(
                request,
                _("Your profile is saved. New terms apply to new bookings only."),
                fallback="coach:profile",
            )
    return render(
        request,
        "bookings/coach_profile.html",
        {"form": form, "profile": profile, "time_zones": _zones.time_zones()},
    )


@require_http_methods(["GET", "POST"])
@coach_required
def coach_hours(request: HttpRequest) -> HttpResponse:
    """Weekly hours (several ranges a day) and dated exceptions, in the
    coach's zone."""
    coach = request.user
    profile = _profile_or_404(coach)
    windows = list(profile.availability.all())
    form = WeeklyHoursForm(
        request.POST if request.method == "POST" else None, windows=windows
    )
    if request.method == "POST" and form.is_valid():
        try:
            booking_services.availability_set_weekly(
                coach=coach, actor=coach, ranges=form.cleaned_data["ranges"]
            )
        except ValidationError as exc:
            form.add_service_errors(exc.message_dict)
        else:
            return _after_save(
                request, _("Your weekly hours are saved."), fallback="coach:hours"
            )
    return _hours_page(request, profile, form, AvailabilityExceptionForm())


def _hours_page(request, profile, form, exception_form, status=200) -> HttpResponse:
    return render(
        request,
        "bookings/coach_hours.html",
        {
            "form": form,
            "exception_form": exception_form,
            "exceptions": selectors.exception_list_for_coach(profile=profile),
            "profile": profile,
        },
        status=status,
    )


@require_POST
@coach_required
def coach_exception_add(request: HttpRequest) -> HttpResponse:
    """Add a day off or extra hours on a date."""
    coach = request.user
    profile = _profile_or_404(coach)
    exception_form = AvailabilityExceptionForm(request.POST)
    if exception_form.is_valid():
        try:
            booking_services.availability_exception_add(
                coach=coach, actor=coach, **exception_form.cleaned_data
            )
        except ValidationError as exc:
            exception_form.add_service_errors(exc.message_dict)
        else:
            return _after_save(request, _("The date is saved."), fallback="coach:hours")
    form = WeeklyHoursForm(windows=list(profile.availability.all()))
    return _hours_page(request, profile, form, exception_form, status=400)


@require_POST
@coach_required
def coach_exception_delete(request: HttpRequest, exception_id: int) -> HttpResponse:
    """Remove a dated exception: the weekly hours apply to that date again."""
    exception = (
        AvailabilityException.objects.filter(pk=exception_id, coach__user=request.user)
        .select_related("coach__user")
        .first()
    )
    if exception is None:
        raise Http404
    booking_services.availability_exception_delete(
        exception=exception, actor=request.user
    )
    messages.success(request, _("The date is removed."))
    return redirect("coach:hours")


@coach_required
def coach_setup(request: HttpRequest) -> HttpResponse:
    """The new coach's checklist: profile, hours, first offering. Once all
    three are done clients can find and book the coach."""
    steps = selectors.coach_setup_steps(coach=request.user)
    return render(
        request,
        "bookings/coach_setup.html",
        {"steps": steps, "bookable": all(steps.values())},
    )
