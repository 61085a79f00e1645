"""Bookings pages: the home page lists bookable coaches with formatted prices."""

import pytest
from django.template import Context, Template
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db


def test_coach_list_anonymous_sees_coaches_offerings_and_prices(
    client, coach, offering
):
    factories.OfferingFactory(coach=coach, title="Quick check-in", duration_minutes=30,
                              price_amount=5500)  # fmt: skip
    factories.OfferingFactory(coach=coach, title="Retired format", active=False)

    response = client.get("/")

    assert response.status_code == 200
    assert [t.name for t in response.templates][:2] == [
        "bookings/home.html",
        "base.html",
    ]
    html = response.content.decode()
    assert coach.display_name in html
    assert "Helps people get unstuck." in html
    assert "CHF 100.00" in html
    assert "CHF 55.00" in html
    assert "incl. 8.1 % VAT" in html
    assert "Retired format" not in html


def test_coach_list_vat_on_top_says_plus_vat(client):
    coach = factories.CoachFactory(profile__vat_included=False)
    factories.OfferingFactory(coach=coach)
    assert "plus 8.1 % VAT" in client.get("/").content.decode()


def test_coach_list_without_coaches_says_so(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "No coaches are taking bookings right now." in response.content.decode()


def test_coach_list_queries_do_not_grow_with_coaches(
    client, django_assert_max_num_queries
):
    for _ in range(4):
        factories.OfferingFactory.create_batch(2, coach=factories.CoachFactory())
    with django_assert_max_num_queries(2):
        assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    ("template", "context", "expected"),
    [
        ("{{ a|money:'CHF' }}", {"a": 123450}, "CHF 1,234.50"),
        ("{{ a|money:'jpy' }}", {"a": 5000}, "JPY 5,000"),
        ("{{ a|money:'KWD' }}", {"a": 1500}, "KWD 1.500"),
        ("{{ a|money:'CHF' }}", {"a": None}, ""),
        ("{{ a|money:'nope' }}", {"a": 100}, ""),
        ("{{ r|percent_bps }}", {"r": 810}, "8.1 %"),
        ("{{ r|percent_bps }}", {"r": 1500}, "15 %"),
    ],
)
def test_money_filters_format_minor_units_and_rates(template, context, expected):
    rendered = Template("{% load money %}" + template).render(Context(context))
    assert rendered == expected


def test_coach_list_links_each_coach_and_each_session_to_its_free_times(
    client, coach, offering
):
    response = client.get(reverse("home"))

    page = response.content.decode()
    coach_page = reverse("bookings:coach_detail", args=[coach.pk])
    assert f'<a href="{coach_page}">{coach.display_name}</a>' in page
    assert f'href="{coach_page}?offering={offering.pk}#times-heading"' in page
    assert (
        f'aria-label="Book {offering.title} with {coach.display_name}">Book</a>' in page
    )
