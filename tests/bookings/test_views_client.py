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
    # Times are listed, but booking needs an account.
    assert 'class="slot"' in page
    assert "Log in to book" in page
    assert 'name="starts_at"' not in page


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
    # Remembered for the client's other pages.
    assert client.session["viewer_tz"] == "America/New_York"


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
