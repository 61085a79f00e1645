"""Coach pages: their bookings with live payment status, their earnings (page
and CSV) and their offerings. Coaches only: anonymous visitors go to the login
page, everyone else gets a 403, and another coach's offering is a 404."""

import csv
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookings.models import Booking, Offering
from payments import services as payment_services
from tests import factories
from tests.payments import conftest as payment_fixtures

# Cards made at localstripe, as in the payments tests.
stripe_client = payment_fixtures.stripe_client
make_card = payment_fixtures.make_card

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Current-URL": "http://testserver/coach/offerings/"}

COACH_PAGES = [
    "coach:bookings",
    "coach:earnings",
    "coach:earnings_csv",
    "coach:offerings",
]


@pytest.fixture
def as_coach(client, coach):
    client.force_login(coach)
    return client


def pay(booking: Booking, card_id: str):
    payment, _ = payment_services.payment_create_intent(
        booking=booking, actor=booking.client
    )
    payment, _ = payment_services.payment_confirm(
        payment=payment, payment_method_id=card_id, actor=booking.client
    )
    assert payment.status == "succeeded"
    return payment


# --- who may see them -----------------------------------------------------------------


@pytest.mark.parametrize("name", COACH_PAGES)
def test_coach_pages_anonymous_is_sent_to_login(client, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={url}"


@pytest.mark.parametrize("name", COACH_PAGES)
@pytest.mark.parametrize("who", ["client_user", "admin_user"])
def test_coach_pages_for_other_roles_are_forbidden(client, request, name, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse(name)).status_code == 403


def test_coach_pages_anonymous_htmx_request_loads_the_login_page(client):
    response = client.post(reverse("coach:offerings"), headers=HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize(
    "name", ["coach:bookings", "coach:earnings", "coach:offerings"]
)
def test_coach_pages_are_in_the_coachs_navigation(as_coach, name):
    response = as_coach.get(reverse(name))
    assert response.status_code == 200
    html = response.content.decode()
    for other in ("coach:bookings", "coach:earnings", "coach:offerings"):
        assert f'href="{reverse(other)}"' in html
    assert f'href="{reverse(name)}" aria-current="page"' in html


# --- bookings -------------------------------------------------------------------------


def test_coach_bookings_lists_upcoming_and_past_with_live_status(
    as_coach, coach, make_booking, zurich_at, set_state, other_coach
):
    upcoming = make_booking(starts_at=zurich_at(2, 9))
    past = make_booking(starts_at=zurich_at(3, 9))
    set_state(
        past,
        Booking.Status.COMPLETED,
        starts_at=zurich_at(-3, 9),
        ends_at=zurich_at(-3, 10),
    )
    someone_elses = make_booking(
        offering=factories.OfferingFactory(coach=other_coach),
        starts_at=zurich_at(2, 11),
    )

    response = as_coach.get(reverse("coach:bookings"))

    assert response.status_code == 200
    html = response.content.decode()
    ids = re.findall(r'data-booking-id="([0-9a-f-]+)"', html)
    assert ids == [str(upcoming.pk), str(past.pk)]
    assert str(someone_elses.pk) not in html
    upcoming_part, past_part = html.split('id="past-heading"')
    assert str(upcoming.pk) in upcoming_part and str(past.pk) in past_part
    assert "Awaiting payment — CHF 100.00" in upcoming_part
    assert "/static/js/payment-status.js" in html
    assert f'data-status-url="/payments/status/{upcoming.pk}/"' in html


def test_coach_bookings_hides_holds_that_ran_out(
    as_coach, make_booking, zurich_at, set_state
):
    booking = make_booking(starts_at=zurich_at(2, 9))
    set_state(booking, Booking.Status.EXPIRED)
    html = as_coach.get(reverse("coach:bookings")).content.decode()
    assert str(booking.pk) not in html
    assert "No upcoming sessions." in html


def test_coach_bookings_without_bookings_loads_no_script(as_coach):
    html = as_coach.get(reverse("coach:bookings")).content.decode()
    assert "No upcoming sessions." in html and "No past sessions yet." in html
    assert "payment-status.js" not in html


def test_coach_bookings_pages_through_past_sessions(
    as_coach, make_booking, zurich_at, set_state, settings
):
    for day in range(1, 23):
        booking = make_booking(starts_at=zurich_at(day, 9))
        set_state(
            booking,
            Booking.Status.COMPLETED,
            starts_at=zurich_at(-day, 9),
            ends_at=zurich_at(-day, 10),
        )
    first = as_coach.get(reverse("coach:bookings")).content.decode()
    second = as_coach.get(reverse("coach:bookings") + "?page=2").content.decode()
    assert first.count("data-booking-id=") == 20
    assert second.count("data-booking-id=") == 2
    assert "Page 1 of 2" in first and 'rel="next"' in first
    assert "Page 2 of 2" in second and 'rel="prev"' in second


# --- earnings -------------------------------------------------------------------------


def test_coach_earnings_without_payments_says_so(as_coach):
    response = as_coach.get(reverse("coach:earnings"))
    html = response.content.decode()
    assert "No earnings yet." in html
    assert "Download as CSV" not in html


def test_coach_earnings_shows_totals_chart_and_tables(
    as_coach, coach, make_booking, make_card
):
    payment = pay(make_booking(), make_card())
    payment_services.payment_refund(
        payment=payment, amount=3000, reason="requested_by_customer", actor=coach
    )

    html = as_coach.get(reverse("coach:earnings")).content.decode()

    figures = dict(re.findall(r'data-figure="([a-z-]+)">([^<]+)<', html))
    assert figures == {
        "gross": "CHF 100.00",
        "refunds": "CHF 30.00",
        "platform-fees": "CHF 10.50",
        "vat": "CHF 5.24",
        "net": "CHF 59.50",
    }
    assert '<svg class="bar-chart"' in html
    assert 'role="img"' in html and "<title id=" in html and "<desc id=" in html
    assert "Net to you per month in CHF" in html
    assert "Coaching session" in html  # the per-offering table
    assert reverse("coach:earnings_csv") in html


def test_coach_earnings_shows_only_the_coachs_own_money(
    client, other_coach, make_booking, make_card
):
    pay(make_booking(), make_card())
    client.force_login(other_coach)
    html = client.get(reverse("coach:earnings")).content.decode()
    assert "No earnings yet." in html


def test_coach_earnings_csv_has_a_row_per_month_and_offering_in_exact_decimals(
    as_coach, coach, make_booking, make_card, zurich_at
):
    short = factories.OfferingFactory(
        coach=coach, title="=Quick check-in", duration_minutes=30, price_amount=5550
    )
    payment = pay(make_booking(), make_card())
    pay(make_booking(offering=short, starts_at=zurich_at(2, 14)), make_card())
    payment_services.payment_refund(
        payment=payment, amount=3000, reason="requested_by_customer", actor=coach
    )

    response = as_coach.get(reverse("coach:earnings_csv"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="earnings-\d{4}-\d{2}-\d{2}\.csv"',
        response["Content-Disposition"],
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "month",
        "offering_id",
        "offering",
        "currency",
        "charges",
        "gross",
        "refunds",
        "platform_fees",
        "vat",
        "net_to_coach",
    ]
    body = sorted(rows[1:], key=lambda row: row[2])
    month = body[0][0]
    # gross, refunds, platform fees, VAT, net to coach
    short_amounts = ["55.50", "0.00", "8.33", "4.16", "47.17"]
    long_amounts = ["100.00", "30.00", "10.50", "5.24", "59.50"]
    assert re.fullmatch(r"\d{4}-\d{2}", month)
    assert body == [
        # A leading "=" is quoted so spreadsheets do not run it.
        [month, str(short.pk), "'=Quick check-in", "CHF", "1", *short_amounts],
        [
            month,
            str(payment.booking.offering_id),
            "Coaching session",
            "CHF",
            "1",
            *long_amounts,
        ],
    ]


# --- offerings ------------------------------------------------------------------------


def test_coach_offerings_lists_own_offerings_only(as_coach, coach, other_coach):
    factories.OfferingFactory(coach=coach, title="Deep dive", price_amount=15050)
    factories.OfferingFactory(coach=coach, title="Old format", active=False)
    factories.OfferingFactory(coach=other_coach, title="Not mine")

    html = as_coach.get(reverse("coach:offerings")).content.decode()

    assert "Deep dive" in html and "CHF 150.50" in html
    assert "Old format" in html and "Not on offer" in html
    assert "Not mine" not in html
    assert '<form id="offering-form"' in html
    assert 'hx-post="/coach/offerings/"' in html and 'method="post"' in html


def test_coach_offerings_create_without_js_redirects_with_a_message(as_coach, coach):
    response = as_coach.post(
        reverse("coach:offerings"),
        {"title": "Career deep dive", "duration_minutes": "90", "price": "150.50"},
        follow=True,
    )
    assert response.redirect_chain == [(reverse("coach:offerings"), 302)]
    offering = Offering.objects.get(coach=coach)
    assert (offering.title, offering.duration_minutes, offering.price_amount) == (
        "Career deep dive",
        90,
        15050,
    )
    assert "“Career deep dive” is on offer now." in response.content.decode()


def test_coach_offerings_create_with_htmx_swaps_the_panel(as_coach, coach):
    response = as_coach.post(
        reverse("coach:offerings"),
        {"title": "Quick check-in", "duration_minutes": "30", "price": "55"},
        headers=HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="offerings-panel">')
    assert "<html" not in html
    assert "Quick check-in" in html and "CHF 55.00" in html
    assert (
        '<div id="offerings-message" hx-swap-oob="innerHTML">'
        "<p>“Quick check-in” is on offer now.</p></div>"
    ) in html
    # A fresh, empty form to add the next one.
    assert 'name="title" value=' not in html


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"title": "", "duration_minutes": "60", "price": "10"}, "title", "required"),
        (
            {"title": "T", "duration_minutes": "10", "price": "10"},
            "duration_minutes",
            "greater than or equal to 15",
        ),
        (
            {"title": "T", "duration_minutes": "60", "price": "10.555"},
            "price",
            "at most 2 decimals",
        ),
        (
            {"title": "T", "duration_minutes": "60", "price": "0"},
            "price",
            "more than zero",
        ),
        # Hostile input: the same bounded parser as the API (money.amounts).
        (
            {"title": "T", "duration_minutes": "60", "price": "9e999990"},
            "price",
            "plain number",
        ),
        (
            {"title": "T", "duration_minutes": "60", "price": "\u0663"},
            "price",
            "plain number",
        ),
        (
            {"title": "T", "duration_minutes": "60", "price": "1000000"},
            "price",
            "at most CHF 999,999.99",
        ),
        (
            {"title": "T", "duration_minutes": "60", "price": "-5"},
            "price",
            "without a sign",
        ),
    ],
)
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_coach_offerings_create_invalid_shows_the_error_at_its_field(
    as_coach, data, field, message, headers
):
    response = as_coach.post(reverse("coach:offerings"), data, headers=headers)

    assert response.status_code == 200
    html = response.content.decode()
    error = re.search(rf'<small id="id_{field}_error">([^<]*)</small>', html)
    assert error and message in error.group(1)
    field_tag = re.search(rf'<(input|textarea)[^>]*name="{field}"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in field_tag
    assert "autofocus" in field_tag
    assert not Offering.objects.exists()


def test_coach_offerings_without_a_profile_cannot_add(client):
    coach = factories.UserFactory(role="coach")
    client.force_login(coach)
    html = client.get(reverse("coach:offerings")).content.decode()
    assert "Your coach profile is not set up yet." in html
    response = client.post(
        reverse("coach:offerings"),
        {"title": "T", "duration_minutes": "60", "price": "10"},
    )
    assert "Set up your coach profile before adding offerings." in (
        response.content.decode()
    )
    assert not Offering.objects.exists()


def test_coach_offering_edit_changes_the_price_not_the_bookings(
    as_coach, offering, make_booking
):
    booking = make_booking()
    page = as_coach.get(reverse("coach:offering_edit", args=[offering.pk]))
    assert 'value="100.00"' in page.content.decode()

    response = as_coach.post(
        reverse("coach:offering_edit", args=[offering.pk]),
        {"title": "Coaching session", "duration_minutes": "60", "price": "120.00"},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("coach:offerings")
    offering.refresh_from_db()
    booking.refresh_from_db()
    assert offering.price_amount == 12000
    assert booking.price_gross == 10000


def test_coach_offering_edit_with_htmx_redirects_on_success_and_swaps_errors(
    as_coach, offering
):
    url = reverse("coach:offering_edit", args=[offering.pk])
    bad = as_coach.post(
        url, {"title": "", "duration_minutes": "60", "price": "1"}, headers=HTMX
    )
    assert bad.status_code == 200
    assert bad.content.decode().lstrip().startswith('<form id="offering-form"')
    assert 'id="id_title_error"' in bad.content.decode()

    good = as_coach.post(
        url, {"title": "Renamed", "duration_minutes": "45", "price": "80"}, headers=HTMX
    )
    assert good["HX-Redirect"] == reverse("coach:offerings")
    offering.refresh_from_db()
    assert (offering.title, offering.duration_minutes, offering.price_amount) == (
        "Renamed",
        45,
        8000,
    )


def test_coach_offering_edit_of_another_coachs_offering_is_not_found(
    client, other_coach, offering
):
    client.force_login(other_coach)
    url = reverse("coach:offering_edit", args=[offering.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"title": "Mine"}).status_code == 404
    deactivate = reverse("coach:offering_deactivate", args=[offering.pk])
    assert client.post(deactivate).status_code == 404
    offering.refresh_from_db()
    assert offering.active and offering.title == "Coaching session"


def test_coach_offering_deactivate_without_js_and_with_htmx(as_coach, coach):
    first = factories.OfferingFactory(coach=coach, title="First")
    second = factories.OfferingFactory(coach=coach, title="Second")

    plain = as_coach.post(reverse("coach:offering_deactivate", args=[first.pk]))
    assert plain.status_code == 302 and plain["Location"] == reverse("coach:offerings")

    swapped = as_coach.post(
        reverse("coach:offering_deactivate", args=[second.pk]), headers=HTMX
    )
    assert swapped.status_code == 200
    html = swapped.content.decode()
    assert html.lstrip().startswith('<div id="offerings-panel">')
    assert "“Second” is no longer on offer." in html
    assert not Offering.objects.filter(active=True).exists()


def test_coach_offering_deactivate_only_by_post(as_coach, offering):
    url = reverse("coach:offering_deactivate", args=[offering.pk])
    assert as_coach.get(url).status_code == 405


def test_coach_pages_forbidden_page_is_the_sites_own(client, client_user):
    client.force_login(client_user)
    response = client.get(reverse("coach:earnings"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "<h1>Not allowed</h1>" in html
    assert 'aria-label="Main"' in html  # the site's layout, with its navigation


def test_coach_bookings_queries_do_not_grow_with_bookings(
    as_coach, make_booking, zurich_at, settings
):
    settings.MAX_OPEN_HOLDS = 100  # many holds of one client
    make_booking(starts_at=zurich_at(2, 9))
    with CaptureQueriesContext(connection) as one:
        as_coach.get(reverse("coach:bookings"))
    for day in (3, 4, 5):
        make_booking(starts_at=zurich_at(day, 9))

    with CaptureQueriesContext(connection) as four:
        response = as_coach.get(reverse("coach:bookings"))

    assert response.status_code == 200
    assert len(four) == len(one)
