"""The client's booking pages: a coach's page with free times, booking a slot,
and the list of the client's bookings. Who may, what they show, and errors
next to the slot that caused them."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookings.models import Booking
from tests import factories

pytestmark = pytest.mark.django_db


def coach_url(coach, **params) -> str:
    url = reverse("bookings:coach_detail", args=[coach.pk])
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return url


def book_url(coach) -> str:
    return reverse("bookings:coach_book", args=[coach.pk])


def html(response) -> str:
    return response.content.decode()


def slot_values(response) -> list[str]:
    return re.findall(r'name="starts_at" value="([^"]+)"', html(response))


# --- the coach's page --------------------------------------------------------------


def test_coach_detail_anonymous_sees_bio_offerings_prices_and_times(
    client, coach, offering
):
    factories.OfferingFactory(
        coach=coach, title="Quick check-in", duration_minutes=30, price_amount=5500
    )

    response = client.get(coach_url(coach))

    assert response.status_code == 200
    assert response.templates[0].name == "bookings/coach_detail.html"
    page = html(response)
    assert coach.display_name in page
    assert "Helps people get unstuck." in page
    assert "CHF 100.00" in page and "CHF 55.00" in page
    assert "incl. 8.1 % VAT" in page
    # Times are listed; choosing one as a visitor leads to the login page.
    assert 'class="slot"' in page
    assert "Choose a time, then log in or sign up to book it." in page
    assert 'name="starts_at"' not in page
    assert re.search(r'<a class="slot" href="/login/\?next=', page)


def test_coach_detail_times_are_in_coach_zone_by_default(client, coach, offering):
    response = client.get(coach_url(coach))

    page = html(response)
    assert "(Europe/Zurich)" in page
    times = re.findall(r'<time datetime="[^"]+">(\d\d:\d\d)</time>', page)
    assert times, page
    assert all("07:00" <= t <= "20:00" for t in times)


def test_coach_detail_viewer_zone_converts_times(
    client, client_user, coach, offering, zurich_at
):
    client.force_login(client_user)
    day = zurich_at(3, 10).date()

    response = client.get(
        coach_url(coach, tz="America/New_York", offering=offering.pk, day=day)
    )

    page = html(response)
    assert f"{day:%A} {day.day} {day:%B %Y} <small>(America/New_York)</small>" in page
    times = re.findall(r'<time datetime="[^"]+">(\d\d:\d\d)</time>', page)
    # Zurich's 07:00-21:00 is 01:00-15:00 in New York (02:00-16:00 for the
    # weeks when only one of them is on summer time).
    assert times[0] in {"01:00", "02:00"}
    starts = [dt.datetime.fromisoformat(v) for v in slot_values(response)]
    assert starts[0] == zurich_at(3, 7)
    assert all(s.utcoffset() == dt.timedelta(0) for s in starts)
    # A look in another zone: the client's own zone (their account's) is
    # what their other pages keep using.
    assert "viewer_tz" not in client.session
    client_user.refresh_from_db()
    assert client_user.time_zone == "Europe/Zurich"


def test_coach_detail_logged_in_viewer_sees_times_in_their_account_zone(
    client, coach, offering
):
    client.force_login(factories.ClientFactory(time_zone="Asia/Tokyo"))

    response = client.get(coach_url(coach))

    assert "(Asia/Tokyo)" in html(response)


def test_coach_detail_visitor_zone_pick_is_remembered_for_the_session(
    client, coach, offering
):
    client.get(coach_url(coach, tz="America/New_York"))

    response = client.get(coach_url(coach))

    assert "(America/New_York)" in html(response)


def test_coach_detail_unknown_zone_falls_back_to_coach_zone(client, coach, offering):
    response = client.get(coach_url(coach, tz="Mars/Olympus_Mons"))

    assert response.status_code == 200
    assert "(Europe/Zurich)" in html(response)


def test_coach_detail_day_param_selects_that_day(client, coach, offering, zurich_at):
    day = zurich_at(3, 10).date()

    response = client.get(coach_url(coach, day=day.isoformat()))

    page = html(response)
    assert re.search(rf'id="day-{day.isoformat()}"[^>]*aria-current="date"', page, re.S)
    assert all(v.startswith(str(day)) for v in re.findall(
        r'<time datetime="(\d{4}-\d\d-\d\d)T[^"]+">\d\d:\d\d</time>', page
    ))  # fmt: skip


def test_coach_detail_htmx_returns_slot_fragment_only(client, coach, offering):
    response = client.get(coach_url(coach), headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert response.templates[0].name == "bookings/partials/_slots.html"
    assert "<html" not in html(response)
    assert 'id="slot-picker"' in html(response)
    assert "HX-Request" in response["Vary"]


def test_coach_detail_booked_slot_is_not_free(
    client, client_user, coach, offering, make_booking, zurich_at
):
    taken = make_booking(starts_at=zurich_at(2, 10))

    response = client.get(coach_url(coach, day=zurich_at(2, 10).date().isoformat()))

    page = html(response)
    assert taken.starts_at.isoformat() not in page
    assert zurich_at(2, 11).astimezone(dt.UTC).isoformat() in page


def test_coach_detail_coach_viewer_cannot_book(client, coach, offering, other_coach):
    client.force_login(other_coach)

    page = html(client.get(coach_url(coach)))

    assert "Only client accounts can book sessions." in page
    assert 'name="starts_at"' not in page


@pytest.mark.parametrize("who", ["client", "unknown", "no_offering"])
def test_coach_detail_not_a_bookable_coach_is_404(client, client_user, coach, who):
    coach_id = {
        "client": client_user.pk,
        "unknown": "6075e65b-2d34-a344-b1f5-f32c00000000",
        "no_offering": coach.pk,  # no active offering
    }[who]
    response = client.get(reverse("bookings:coach_detail", args=[coach_id]))
    assert response.status_code == 404


# --- booking a slot ----------------------------------------------------------------


def test_coach_book_client_books_slot_and_goes_to_checkout(
    client, client_user, coach, offering, zurich_at
):
    client.force_login(client_user)
    starts = zurich_at(2, 10)

    response = client.post(
        book_url(coach),
        {"offering": offering.pk, "starts_at": starts.astimezone(dt.UTC).isoformat()},
    )

    booking = Booking.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("bookings:checkout", args=[booking.pk])
    assert (booking.client, booking.starts_at) == (client_user, starts)
    assert booking.status == Booking.Status.PENDING_PAYMENT


def test_coach_book_slot_taken_shows_error_next_to_slot(
    client, client_user, other_client, coach, offering, make_booking, zurich_at
):
    make_booking(client=other_client, starts_at=zurich_at(2, 10))
    client.force_login(client_user)
    value = zurich_at(2, 10).astimezone(dt.UTC).isoformat()

    response = client.post(
        book_url(coach), {"offering": offering.pk, "starts_at": value}
    )

    assert response.status_code == 409
    page = html(response)
    slot = re.search(
        rf'value="{re.escape(value)}" checked aria-invalid="true" aria-describedby="slot-error">'
        r".*?</label>\s*<small id=\"slot-error\"[^>]*>([^<]+)</small>",
        page,
        re.S,
    )
    assert slot, page
    assert slot.group(1) == "This time is already booked. Choose another one."
    assert Booking.objects.filter(client=client_user).count() == 0


def test_coach_book_outside_availability_shows_error_next_to_slot(
    client, client_user, coach, offering, zurich_at
):
    client.force_login(client_user)
    value = zurich_at(2, 3).astimezone(dt.UTC).isoformat()

    response = client.post(
        book_url(coach), {"offering": offering.pk, "starts_at": value}
    )

    assert response.status_code == 400
    page = html(response)
    assert f'value="{value}" checked aria-invalid="true"' in page
    assert "The coach is not available at that time." in page
    assert not Booking.objects.exists()


def test_coach_book_without_time_asks_for_one(client, client_user, coach, offering):
    client.force_login(client_user)

    response = client.post(book_url(coach), {"offering": offering.pk})

    assert response.status_code == 400
    assert (
        '<p id="slot-error" class="field-error" role="alert">Choose a time first.</p>'
        in html(response)
    )


def test_coach_book_unknown_offering_is_refused(
    client, client_user, coach, offering, zurich_at
):
    client.force_login(client_user)
    value = zurich_at(2, 10).isoformat()
    other = factories.OfferingFactory()  # another coach's

    response = client.post(book_url(coach), {"offering": other.pk, "starts_at": value})

    assert response.status_code == 400
    assert "This session is no longer offered." in html(response)
    assert not Booking.objects.exists()


def test_coach_book_coach_account_is_refused(
    client, coach, offering, other_coach, zurich_at
):
    client.force_login(other_coach)
    value = zurich_at(2, 10).isoformat()

    response = client.post(
        book_url(coach), {"offering": offering.pk, "starts_at": value}
    )

    assert response.status_code == 403
    assert "Only clients can book sessions." in html(response)


def test_coach_book_anonymous_is_sent_to_login(client, coach, offering, zurich_at):
    response = client.post(
        book_url(coach),
        {"offering": offering.pk, "starts_at": zurich_at(2, 10).isoformat()},
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")
    assert not Booking.objects.exists()


def test_coach_book_get_is_not_allowed(client, client_user, coach, offering):
    client.force_login(client_user)
    assert client.get(book_url(coach)).status_code == 405


def test_coach_book_without_csrf_token_is_forbidden(
    client_user, coach, offering, zurich_at
):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(client_user)

    response = browser.post(
        book_url(coach),
        {"offering": offering.pk, "starts_at": zurich_at(2, 10).isoformat()},
    )

    assert response.status_code == 403
    assert not Booking.objects.exists()


# --- my bookings ---------------------------------------------------------------------


def test_booking_list_anonymous_is_sent_to_login(client):
    response = client.get(reverse("bookings:list"))
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/bookings/"


def test_booking_list_shows_own_upcoming_and_past_with_live_status(
    client, client_user, other_client, make_booking, set_state, zurich_at
):
    upcoming = make_booking(starts_at=zurich_at(2, 10))
    past = make_booking(starts_at=zurich_at(3, 12))
    set_state(
        past,
        "completed",
        starts_at=zurich_at(-3, 10),
        ends_at=zurich_at(-3, 11),
    )
    someone_elses = make_booking(client=other_client, starts_at=zurich_at(4, 10))
    client.force_login(client_user)

    response = client.get(reverse("bookings:list"))

    assert response.status_code == 200
    page = html(response)
    upcoming_part, past_part = page.split('id="past-heading"')
    assert f'data-booking-id="{upcoming.pk}"' in upcoming_part
    assert f'data-booking-id="{past.pk}"' in past_part
    assert str(someone_elses.pk) not in page
    assert reverse("bookings:checkout", args=[upcoming.pk]) in upcoming_part
    assert reverse("bookings:cancel", args=[upcoming.pk]) in upcoming_part
    assert reverse("bookings:checkout", args=[past.pk]) not in page
    assert "js/payment-status.js" in page


def test_booking_list_nav_links_for_clients(client, client_user):
    client.force_login(client_user)

    page = html(client.get(reverse("bookings:list")))

    assert '<a href="/bookings/" aria-current="page">My bookings</a>' in page
    assert 'href="/account/payment-methods/"' in page
    assert 'id="nav-notifications"' in page


def test_booking_list_queries_do_not_grow_with_bookings(
    client, client_user, make_booking, zurich_at, settings
):
    settings.MAX_OPEN_HOLDS = 100  # many holds of one client
    client.force_login(client_user)
    make_booking(starts_at=zurich_at(2, 10))
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("bookings:list"))
    for day in (3, 4, 5):
        make_booking(starts_at=zurich_at(day, 10))

    with CaptureQueriesContext(connection) as four:
        response = client.get(reverse("bookings:list"))

    assert response.status_code == 200
    assert len(four) == len(one)


# --- a visitor chooses a time first, logs in, and comes back to it ----------------


def _choose_links(response) -> list[str]:
    import html as html_lib

    return [
        html_lib.unescape(href)
        for href in re.findall(r'<a class="slot" href="([^"]+)"', html(response))
    ]


def test_visitor_choosing_a_time_logs_in_and_comes_back_with_it_chosen(
    client, client_user, coach, offering
):
    from urllib.parse import parse_qs, urlsplit

    from tests.factories import PASSWORD

    page = client.get(coach_url(coach, tz="America/New_York", offering=offering.pk))
    link = _choose_links(page)[1]
    assert urlsplit(link).path == reverse("accounts:login")
    next_url = parse_qs(urlsplit(link).query)["next"][0]
    chosen = parse_qs(urlsplit(next_url).query)
    # The offering, the start and the viewer's zone survive the detour.
    assert chosen["offering"] == [str(offering.pk)]
    assert chosen["tz"] == ["America/New_York"]
    start = chosen["start"][0]

    login_page = client.get(link)
    assert f'name="next" value="{next_url}"'.replace("&", "&amp;") in html(login_page)
    response = client.post(
        link, {"email": client_user.email, "password": PASSWORD, "next": next_url}
    )
    assert response.status_code == 302
    assert response.url == next_url

    back = client.get(response.url)
    assert back.status_code == 200
    assert re.search(
        rf'name="starts_at" value="{re.escape(start)}" checked', html(back)
    ), html(back)
    assert "(America/New_York)" in html(back)
    assert re.search(
        r"You chose \w{3} \d{1,2} \w{3} \d{4}, \d\d:\d\d \(America/New_York\)\. "
        r"Confirm to hold it and pay\.",
        html(back),
    )
    # Confirming books that slot and goes to checkout.
    booked = client.post(
        book_url(coach),
        {"offering": offering.pk, "starts_at": start, "tz": "America/New_York"},
    )
    booking = Booking.objects.get(client=client_user)
    assert booked.url == reverse("bookings:checkout", args=[booking.pk])
    assert booking.starts_at == dt.datetime.fromisoformat(start)


def test_visitor_posting_a_booking_is_sent_to_log_in_with_the_slot(
    client, coach, offering
):
    from urllib.parse import parse_qs, urlsplit

    page = client.get(coach_url(coach))
    start = parse_qs(
        urlsplit(parse_qs(urlsplit(_choose_links(page)[0]).query)["next"][0]).query
    )["start"][0]

    response = client.post(
        book_url(coach), {"offering": offering.pk, "starts_at": start}
    )

    assert response.status_code == 302
    assert urlsplit(response.url).path == reverse("accounts:login")
    next_url = parse_qs(urlsplit(response.url).query)["next"][0]
    assert parse_qs(urlsplit(next_url).query)["start"] == [start]
    assert not Booking.objects.exists()


def test_coach_detail_ignores_a_chosen_start_that_is_not_free(
    client, client_user, coach, offering
):
    client.force_login(client_user)

    response = client.get(coach_url(coach, start="2001-01-01T00:00:00%2B00:00"))

    assert response.status_code == 200
    assert " checked" not in html(response)


def test_booking_pages_show_times_in_the_viewers_own_zone_named(
    client, client_user, coach, booking
):
    from accounts.zones import format_when

    client_user.time_zone = "America/New_York"
    client_user.save(update_fields=["time_zone"])
    client.force_login(client_user)

    detail = html(client.get(reverse("bookings:detail", args=[booking.pk])))
    listing = html(client.get(reverse("bookings:list")))

    in_new_york = format_when(booking.starts_at, "America/New_York", with_zone=False)
    assert f">{in_new_york}</time>" in detail
    assert "(America/New_York)" in detail and "(Europe/Zurich)" not in detail
    assert "(America/New_York)" in listing and "(Europe/Zurich)" not in listing
    # The coach reads the same booking in their zone.
    client.force_login(coach)
    coach_view = html(client.get(reverse("bookings:detail", args=[booking.pk])))
    assert "(Europe/Zurich)" in coach_view


def test_coach_detail_zone_picker_offers_common_zones_first_and_every_zone(
    client, coach, offering
):
    from accounts.zones import COMMON_ZONES

    page = html(client.get(coach_url(coach)))

    assert 'list="tz-list"' in page and "<select" not in page
    options = re.findall(r'<option value="([^"]+)">', page)
    assert tuple(options[: len(COMMON_ZONES)]) == COMMON_ZONES
    assert "Pacific/Auckland" in options
