"""Public pages: the coaches on offer, a coach's page with free times, and
booking one of them."""

import datetime as dt
import zoneinfo

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.zones import zone_choices
from bookings import selectors
from bookings import services as booking_services
from bookings.exceptions import BookingError
from bookings.views import _zones
from coaching.throttling import page_throttle_wait

SLOT_DAYS = 14


def coach_list(request: HttpRequest) -> HttpResponse:
    """The catalogue of bookable coaches; a coach who is not bookable yet
    (just registered) sees their setup checklist above it."""
    context = {"coaches": selectors.coach_list_public()}
    if request.user.is_authenticated and request.user.is_coach:
        steps = selectors.coach_setup_steps(coach=request.user)
        if not all(steps.values()):
            context["setup_steps"] = steps
    return render(request, "bookings/home.html", context)


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
    chosen_start: dt.datetime | None = None,
    status: int = 200,
) -> HttpResponse:
    """The coach's page (or its slot picker for htmx), with an optional error
    shown next to the slot the client tried to book, or the slot a visitor
    chose before logging in (``chosen_start``) preselected."""
    profile = coach.coach_profile
    offerings = coach.active_offerings
    offering = next((o for o in offerings if str(o.pk) == offering_id), offerings[0])
    viewer_tz = _zones.viewer_zone(request, profile.time_zone)
    zone = zoneinfo.ZoneInfo(viewer_tz)
    starts = selectors.free_slots_ahead(offering=offering, days=SLOT_DAYS)
    if error_start is not None and error_start not in starts:
        # A slot taken meanwhile is gone from the free ones: keep it in the
        # list, so the error appears next to the time the client chose.
        starts = sorted([*starts, error_start])
    days = _slot_days(starts, zone)
    if chosen_start not in starts:
        chosen_start = None
    if error_start is not None:
        selected = error_start.astimezone(zone).date()
    elif chosen_start is not None:
        selected = chosen_start.astimezone(zone).date()
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
        "time_zones": zone_choices(),
        "days": [
            {"date": date, "count": len(slots), "selected": date == selected}
            for date, slots in days.items()
        ],
        "selected_day": selected,
        "slots": [
            {
                "start": start,
                "value": start.astimezone(dt.UTC).isoformat(),
                "choose_url": _choose_url(coach, offering, viewer_tz, start, zone),
            }
            for start in days.get(selected, [])
        ],
        "chosen_start": chosen_start,
        "slot_days": SLOT_DAYS,
        "error": error,
        "error_start": error_start,
        "can_book": request.user.is_authenticated and request.user.is_client,
    }
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "bookings/partials/_slots.html", context, status=status)
    return render(request, "bookings/coach_detail.html", context, status=status)


def _slot_page_url(
    coach, offering, viewer_tz: str, start: dt.datetime, zone: zoneinfo.ZoneInfo
) -> str:
    """The coach's page with one slot chosen: where a visitor returns after
    logging in or signing up, with the offering, the start and their zone."""
    query = urlencode(
        {
            "offering": str(offering.pk),
            "tz": viewer_tz,
            "day": start.astimezone(zone).date().isoformat(),
            "start": start.astimezone(dt.UTC).isoformat(),
        }
    )
    return f"{reverse('bookings:coach_detail', args=[coach.pk])}?{query}#times-heading"


def _choose_url(
    coach, offering, viewer_tz: str, start: dt.datetime, zone: zoneinfo.ZoneInfo
) -> str:
    """Choosing a time as a visitor: log in first, then come back to it."""
    next_url = _slot_page_url(coach, offering, viewer_tz, start, zone)
    return f"{reverse('accounts:login')}?{urlencode({'next': next_url})}"


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
    if request.GET.get("tz") in _zones.time_zones():
        _zones.remember_zone(request, request.GET["tz"])
    return _coach_page(
        request,
        coach,
        offering_id=request.GET.get("offering"),
        day=request.GET.get("day"),
        chosen_start=_parse_instant(request.GET.get("start", "")),
    )


@require_POST
def coach_book(request: HttpRequest, coach_id) -> HttpResponse:
    """Book the chosen slot (``offering``, ``starts_at``) and go to checkout.

    A refusal (slot taken meanwhile, outside the coach's hours, not a
    client, too many unpaid holds) shows the coach's page again with the
    reason next to the slot. Throttled with the booking API's scope and
    budget (429 with ``Retry-After``). A visitor who is not logged in is
    sent to log in first and comes back to the page with the chosen slot
    preselected (a POST cannot be replayed after a login, so ``next`` is the
    page, not this URL).
    """
    coach = selectors.coach_get_public(coach_id=coach_id)
    if coach is None:
        raise Http404
    if not request.user.is_authenticated:
        return _redirect_to_login(request, coach)
    # The same budget as POST /api/bookings/, so the page is no way around it.
    wait = page_throttle_wait(request, scope="bookings")
    if wait is not None:
        response = _coach_page(
            request,
            coach,
            offering_id=request.POST.get("offering"),
            day=request.POST.get("day"),
            error=ngettext(
                "Too many booking attempts. Try again in %(seconds)d second.",
                "Too many booking attempts. Try again in %(seconds)d seconds.",
                wait,
            )
            % {"seconds": wait},
            status=429,
        )
        response["Retry-After"] = str(wait)
        return response
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
    viewer_tz = _zones.viewer_zone(request, coach.coach_profile.time_zone)
    _zones.remember_zone(request, viewer_tz)
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


def _redirect_to_login(request: HttpRequest, coach) -> HttpResponse:
    offering_id = request.POST.get("offering", "")
    offering = next(
        (o for o in coach.active_offerings if str(o.pk) == offering_id), None
    )
    starts_at = _parse_instant(request.POST.get("starts_at", ""))
    if offering is None or starts_at is None:
        next_url = reverse("bookings:coach_detail", args=[coach.pk])
    else:
        viewer_tz = _zones.viewer_zone(request, coach.coach_profile.time_zone)
        next_url = _slot_page_url(
            coach, offering, viewer_tz, starts_at, zoneinfo.ZoneInfo(viewer_tz)
        )
    return redirect(f"{reverse('accounts:login')}?{urlencode({'next': next_url})}")


def _parse_instant(value: str) -> dt.datetime | None:
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None or timezone.is_naive(parsed):
        return None
    return parsed.astimezone(dt.UTC)
