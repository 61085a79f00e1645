"""Bookings API: status, shape and permission for every endpoint and role."""

import datetime as dt
import uuid

import pytest
from rest_framework.throttling import ScopedRateThrottle

from bookings.models import Booking
from tests import factories

pytestmark = pytest.mark.django_db

SEED_PRICE_100_CHF = {
    "base": {"amount": 100, "currency": "CHF"},
    "final": {"amount": 100, "currency": "CHF"},
    "currency": "CHF",
    "vat": {"rate": 8.1, "included": True, "amount": 7.49},
    "platformFee": {"percentage": 15, "amount": 15},
}
BOOKING_KEYS = {
    "id",
    "status",
    "clientId",
    "coachId",
    "offeringId",
    "startsAt",
    "endsAt",
    "expiresAt",
    "price",
}


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def as_user(api, user):
    api.force_authenticate(user=user)
    return api


# --- GET /api/coaches/ ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/coaches/", "/api/coaches"])
def test_coach_list_anonymous_gets_paginated_coaches_with_seed_prices(
    api, coach, offering, path
):
    coach.coach_profile.bio = "Career coach."
    coach.coach_profile.save()

    response = api.get(path)

    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("success", "count", "next", "previous")} == {
        "success": True,
        "count": 1,
        "next": None,
        "previous": None,
    }
    assert body["results"] == [
        {
            "id": str(coach.pk),
            "name": coach.display_name,
            "bio": "Career coach.",
            "timeZone": "Europe/Zurich",
            "offerings": [
                {
                    "id": str(offering.pk),
                    "title": offering.title,
                    "durationMinutes": 60,
                    "price": SEED_PRICE_100_CHF,
                }
            ],
        }
    ]


def test_coach_list_whole_amounts_are_json_integers(api, offering):
    content = api.get("/api/coaches/").content.decode()
    assert '"base":{"amount":100,"currency":"CHF"}' in content
    assert '"vat":{"rate":8.1,"included":true,"amount":7.49}' in content


def test_coach_list_odd_amounts_keep_their_decimals(api, coach):
    factories.OfferingFactory(coach=coach, price_amount=5550)
    price = api.get("/api/coaches/").json()["results"][0]["offerings"][0]["price"]
    assert price["final"] == {"amount": 55.5, "currency": "CHF"}
    assert price["vat"]["amount"] == 4.16  # 5550 * 8.1 / 108.1 = 415.8 -> 416 Rappen
    assert price["platformFee"]["amount"] == 8.33  # 832.5 -> 833 Rappen


def test_coach_list_hides_inactive_offerings_and_coaches_without_any(
    api, coach, offering
):
    factories.OfferingFactory(coach=coach, active=False)
    factories.CoachFactory()
    results = api.get("/api/coaches/").json()["results"]
    assert [len(c["offerings"]) for c in results] == [1]


def test_coach_list_query_count_does_not_grow_with_coaches(
    api, django_assert_max_num_queries
):
    for _ in range(5):
        factories.OfferingFactory.create_batch(2, coach=factories.CoachFactory())
    with django_assert_max_num_queries(3):  # count, coaches+profiles, offerings
        response = api.get("/api/coaches/")
    assert response.json()["count"] == 5


def test_coach_list_page_size_is_capped_and_links_next(api):
    for _ in range(3):
        factories.OfferingFactory(coach=factories.CoachFactory())
    body = api.get("/api/coaches/?pageSize=2").json()
    assert (body["count"], len(body["results"])) == (3, 2)
    assert "page=2" in body["next"]


# --- POST /api/bookings/ -------------------------------------------------------


@pytest.fixture
def start(zurich_at):
    return zurich_at(1, 10)


def _create(api, offering, starts_at, **extra):
    payload = {
        "offeringId": str(offering.pk),
        "startsAt": starts_at.isoformat(),
        **extra,
    }
    return api.post("/api/bookings/", payload, format="json")


@pytest.mark.parametrize("path", ["/api/bookings/", "/api/bookings"])
def test_booking_create_client_gets_201_with_booking(
    api, client_user, coach, offering, start, path
):
    payload = {"offeringId": str(offering.pk), "startsAt": start.isoformat()}

    response = as_user(api, client_user).post(path, payload, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["success"] is True
    booking = body["booking"]
    assert set(booking) == BOOKING_KEYS
    stored = Booking.objects.get()
    assert booking["id"] == str(stored.pk)
    assert booking["status"] == "pending_payment"
    assert booking["clientId"] == str(client_user.pk)
    assert booking["coachId"] == str(coach.pk)
    assert booking["offeringId"] == str(offering.pk)
    assert dt.datetime.fromisoformat(booking["startsAt"]) == start
    assert dt.datetime.fromisoformat(booking["endsAt"]) == start + dt.timedelta(hours=1)
    assert dt.datetime.fromisoformat(booking["expiresAt"]) == stored.expires_at
    assert booking["price"] == SEED_PRICE_100_CHF


def test_booking_create_sent_price_status_and_client_are_ignored(
    api, client_user, other_client, offering, start
):
    response = _create(
        as_user(api, client_user),
        offering,
        start,
        price={"final": {"amount": 1, "currency": "CHF"}},
        status="confirmed",
        clientId=str(other_client.pk),
        coachId=str(other_client.pk),
        expiresAt="2099-01-01T00:00:00Z",
    )

    assert response.status_code == 201
    stored = Booking.objects.get()
    assert (stored.status, stored.client, stored.price_gross) == (
        "pending_payment",
        client_user,
        10000,
    )
    assert stored.expires_at.year < 2099


def test_booking_create_anonymous_is_401(api, offering, start):
    assert_error(_create(api, offering, start), 401, "not_authenticated")
    assert not Booking.objects.exists()


@pytest.mark.parametrize("who", ["coach", "other_coach", "admin_user"])
def test_booking_create_non_client_is_403(api, request, offering, start, who):
    user = request.getfixturevalue(who)
    assert_error(_create(as_user(api, user), offering, start), 403, "forbidden")
    assert not Booking.objects.exists()


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"offeringId", "startsAt"}),
        ({"startsAt": "2030-01-01T10:00:00+01:00"}, {"offeringId"}),
        ({"offeringId": "OFFERING"}, {"startsAt"}),
        ({"offeringId": 123, "startsAt": "2030-01-01T10:00:00+01:00"}, {"offeringId"}),
        ({"offeringId": "OFFERING", "startsAt": "tomorrow"}, {"startsAt"}),
        ({"offeringId": "OFFERING", "startsAt": 1767261600}, {"startsAt"}),
        ({"offeringId": "OFFERING", "startsAt": "2030-01-01T10:00:00"}, {"startsAt"}),
        ({"offeringId": "OFFERING", "startsAt": None}, {"startsAt"}),
    ],
    ids=[
        "empty",
        "no-offering",
        "no-start",
        "offering-not-uuid",
        "start-not-a-date",
        "start-a-number",
        "start-naive",
        "start-null",
    ],
)
def test_booking_create_bad_input_is_400_validation_error(
    api, client_user, offering, payload, fields
):
    payload = {
        k: str(offering.pk) if v == "OFFERING" else v for k, v in payload.items()
    }
    response = as_user(api, client_user).post("/api/bookings/", payload, format="json")

    error = assert_error(response, 400, "validation_error")
    assert set(error["details"]["fields"]) == fields
    assert not Booking.objects.exists()


def test_booking_create_naive_start_says_offset_is_needed(
    api, client_user, offering, start
):
    response = _create(as_user(api, client_user), offering, start.replace(tzinfo=None))
    error = assert_error(response, 400, "validation_error")
    assert "UTC offset" in error["details"]["fields"]["startsAt"][0]


def test_booking_create_malformed_json_is_400(api, client_user):
    response = as_user(api, client_user).post(
        "/api/bookings/", "{not json", content_type="application/json"
    )
    assert_error(response, 400, "malformed_request")


def test_booking_create_unknown_offering_is_404(api, client_user, start):
    response = _create(
        as_user(api, client_user), factories.OfferingFactory.build(), start
    )
    assert_error(response, 404, "offering_not_found")
    assert not Booking.objects.exists()


def test_booking_create_inactive_offering_is_400(api, client_user, offering, start):
    offering.active = False
    offering.save()
    assert_error(
        _create(as_user(api, client_user), offering, start), 400, "offering_unavailable"
    )
    assert not Booking.objects.exists()


@pytest.mark.parametrize(
    ("when", "code"),
    [
        (lambda z: z(1, 10, 15), "invalid_start_time"),
        (lambda z: z(-1, 10), "start_in_past"),
        (lambda z: z(91, 10), "start_too_far_ahead"),
        (lambda z: z(1, 6), "outside_availability"),
        (lambda z: z(1, 20, 30), "outside_availability"),
    ],
    ids=["not-half-hour", "past", "beyond-90-days", "before-opening", "past-closing"],
)
def test_booking_create_bad_time_is_400(
    api, client_user, offering, zurich_at, when, code
):
    response = _create(as_user(api, client_user), offering, when(zurich_at))
    assert_error(response, 400, code)
    assert not Booking.objects.exists()


def test_booking_create_overlap_is_409_slot_taken(
    api, booking, other_client, offering, zurich_at
):
    response = _create(as_user(api, other_client), offering, zurich_at(1, 10, 30))
    assert_error(response, 409, "slot_taken")
    assert Booking.objects.count() == 1


def test_booking_create_is_throttled_per_scope(
    api, client_user, offering, zurich_at, monkeypatch
):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"bookings": "2/min"})
    as_user(api, client_user)
    assert _create(api, offering, zurich_at(1, 8)).status_code == 201
    assert _create(api, offering, zurich_at(1, 12)).status_code == 201

    response = _create(api, offering, zurich_at(1, 14))

    error = assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) == error["details"]["retryAfter"] > 0
    assert api.get("/api/bookings/").status_code == 200  # listing is not counted


# --- GET /api/bookings/ --------------------------------------------------------


@pytest.fixture
def two_bookings(make_booking, other_client, zurich_at):
    return make_booking(), make_booking(client=other_client, starts_at=zurich_at(2, 10))


def test_booking_list_anonymous_is_401(api, two_bookings):
    assert_error(api.get("/api/bookings/"), 401, "not_authenticated")


@pytest.mark.parametrize(
    ("who", "visible"),
    [
        ("client_user", [0]),
        ("other_client", [1]),
        ("coach", [1, 0]),
        ("other_coach", []),
        ("admin_user", [1, 0]),
    ],
)
def test_booking_list_each_role_sees_its_bookings_latest_first(
    api, request, two_bookings, who, visible
):
    response = as_user(api, request.getfixturevalue(who)).get("/api/bookings")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["count"] == len(visible)
    assert [b["id"] for b in body["results"]] == [
        str(two_bookings[i].pk) for i in visible
    ]
    assert all(set(b) == BOOKING_KEYS for b in body["results"])


# --- GET /api/bookings/{id}/ ---------------------------------------------------


@pytest.mark.parametrize("who", ["client_user", "coach", "admin_user"])
@pytest.mark.parametrize("slash", ["/", ""])
def test_booking_detail_party_gets_it(api, request, booking, who, slash):
    user = request.getfixturevalue(who)
    response = as_user(api, user).get(f"/api/bookings/{booking.pk}{slash}")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["booking"]["id"] == str(booking.pk)
    assert body["booking"]["price"] == SEED_PRICE_100_CHF


@pytest.mark.parametrize("who", ["other_client", "other_coach"])
def test_booking_detail_stranger_gets_404_without_data(api, request, booking, who):
    response = as_user(api, request.getfixturevalue(who)).get(
        f"/api/bookings/{booking.pk}/"
    )
    error = assert_error(response, 404, "booking_not_found")
    assert error["details"] == {}
    assert str(booking.client_id) not in response.content.decode()


@pytest.mark.parametrize("booking_id", ["not-a-uuid", str(uuid.uuid4()), "123"])
def test_booking_detail_bad_or_unknown_id_is_404(api, client_user, booking_id):
    response = as_user(api, client_user).get(f"/api/bookings/{booking_id}/")
    assert_error(response, 404, "booking_not_found")


def test_booking_detail_anonymous_is_401(api, booking):
    assert_error(api.get(f"/api/bookings/{booking.pk}/"), 401, "not_authenticated")


# --- POST /api/bookings/{id}/cancel/ -------------------------------------------


@pytest.mark.parametrize("who", ["client_user", "coach", "admin_user"])
@pytest.mark.parametrize("slash", ["/", ""])
def test_booking_cancel_party_cancels_pending(api, request, booking, who, slash):
    user = request.getfixturevalue(who)
    response = as_user(api, user).post(f"/api/bookings/{booking.pk}/cancel{slash}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True
    assert body["booking"]["status"] == "cancelled"
    booking.refresh_from_db()
    assert booking.status == "cancelled"


def test_booking_cancel_twice_is_200_noop(api, client_user, booking):
    as_user(api, client_user)
    api.post(f"/api/bookings/{booking.pk}/cancel/")
    response = api.post(f"/api/bookings/{booking.pk}/cancel/")
    assert response.status_code == 200
    assert booking.transitions.filter(to_status="cancelled").count() == 1


@pytest.mark.parametrize("who", ["other_client", "other_coach"])
def test_booking_cancel_stranger_gets_404_and_nothing_changes(
    api, request, booking, who
):
    user = request.getfixturevalue(who)
    response = as_user(api, user).post(f"/api/bookings/{booking.pk}/cancel/")
    assert_error(response, 404, "booking_not_found")
    booking.refresh_from_db()
    assert booking.status == "pending_payment"


def test_booking_cancel_anonymous_is_401(api, booking):
    assert_error(
        api.post(f"/api/bookings/{booking.pk}/cancel/"), 401, "not_authenticated"
    )


def test_booking_cancel_confirmed_without_a_charge_refunds_nothing(
    api, client_user, booking, set_state
):
    set_state(booking, "confirmed")
    response = as_user(api, client_user).post(f"/api/bookings/{booking.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["booking"]["status"] == "cancelled"
    assert response.json()["refund"] is None


def test_booking_cancel_expired_is_409_invalid_transition(
    api, client_user, booking, set_state
):
    set_state(booking, "expired")
    response = as_user(api, client_user).post(f"/api/bookings/{booking.pk}/cancel/")
    error = assert_error(response, 409, "invalid_transition")
    assert error["details"] == {"fromStatus": "expired", "toStatus": "cancelled"}


def test_booking_cancel_get_is_405(api, client_user, booking):
    response = as_user(api, client_user).get(f"/api/bookings/{booking.pk}/cancel/")
    assert_error(response, 405, "method_not_allowed")


# --- schema --------------------------------------------------------------------


def test_schema_documents_bookings_endpoints_with_examples(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    assert {"get"} <= set(paths["/api/coaches/"])
    assert {"get", "post"} <= set(paths["/api/bookings/"])
    assert "get" in paths["/api/bookings/{booking_id}/"]
    assert "post" in paths["/api/bookings/{booking_id}/cancel/"]
    create = paths["/api/bookings/"]["post"]
    request_schema = create["requestBody"]["content"]["application/json"]
    assert "examples" in request_schema
    components = schema["components"]["schemas"]
    assert set(components["BookingCreateInputRequest"]["properties"]) == {
        "offeringId",
        "startsAt",
    }
    assert "platformFee" in components["PriceOutput"]["properties"]
