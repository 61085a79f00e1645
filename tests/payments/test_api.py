"""The seed's payment endpoints: status codes, shapes and who may do what."""

import pytest
from rest_framework.test import APIClient

from bookings.models import Booking
from payments import services
from payments.models import Payment, Refund, SavedPaymentMethod
from tests.payments.conftest import (
    DECLINED_AT_CHARGE,
    MASTERCARD,
    THREE_D_SECURE,
    VISA,
)

pytestmark = pytest.mark.django_db


def as_user(user) -> APIClient:
    api = APIClient()
    if user is not None:
        api.force_authenticate(user)
    return api


def error_code(response) -> str:
    body = response.json()
    assert body["success"] is False
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]["code"]


@pytest.fixture
def intent(booking, client_user):
    response = as_user(client_user).post(
        "/api/payments/create-intent", {"bookingId": str(booking.pk)}, format="json"
    )
    assert response.status_code == 200, response.json()
    return response.json()["paymentIntent"]


@pytest.fixture
def paid_intent(intent, client_user, make_card):
    response = as_user(client_user).post(
        "/api/payments/confirm",
        {"paymentIntentId": intent["id"], "paymentMethodId": make_card(VISA)},
        format="json",
    )
    assert response.status_code == 200, response.json()
    return intent


# --- create-intent ---------------------------------------------------------------------


def test_create_intent_returns_the_seed_shape(booking, client_user):
    response = as_user(client_user).post(
        "/api/payments/create-intent",
        {
            "bookingId": str(booking.pk),
            "price": {
                "base": {"amount": 100, "currency": "CHF"},
                "final": {"amount": 100, "currency": "CHF"},
                "currency": "CHF",
                "vat": {"rate": 8.1, "included": True},
                "platformFee": {"percentage": 15},
            },
        },
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["clientSecret"].startswith(body["paymentIntent"]["id"] + "_secret_")
    assert body["paymentIntent"]["amount"] == 10000
    assert body["paymentIntent"]["currency"] == "chf"
    assert body["paymentIntent"]["id"].startswith("pi_")


def test_create_intent_twice_returns_the_same_intent(booking, client_user, intent):
    again = as_user(client_user).post(
        "/api/payments/create-intent/", {"bookingId": str(booking.pk)}, format="json"
    )
    assert again.status_code == 200
    assert again.json()["paymentIntent"]["id"] == intent["id"]


def test_create_intent_with_a_different_price_is_400(booking, client_user):
    response = as_user(client_user).post(
        "/api/payments/create-intent",
        {
            "bookingId": str(booking.pk),
            "price": {"final": {"amount": 1, "currency": "CHF"}},
        },
        format="json",
    )
    assert response.status_code == 400
    assert error_code(response) == "price_mismatch"
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{}, {"bookingId": "not-a-uuid"}, {"bookingId": 12}, {"bookingId": None}],
)
def test_create_intent_with_bad_input_is_400(client_user, body):
    response = as_user(client_user).post(
        "/api/payments/create-intent", body, format="json"
    )
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert not Payment.objects.exists()


def test_create_intent_with_malformed_json_is_400(client_user):
    response = as_user(client_user).post(
        "/api/payments/create-intent", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert error_code(response) == "malformed_request"


@pytest.mark.parametrize("who", ["other_client", "coach", "other_coach", "admin_user"])
def test_create_intent_for_a_booking_not_yours_is_404(request, booking, who):
    response = as_user(request.getfixturevalue(who)).post(
        "/api/payments/create-intent", {"bookingId": str(booking.pk)}, format="json"
    )
    assert response.status_code == 404
    assert error_code(response) == "not_found"
    assert str(booking.pk) not in response.content.decode()


def test_create_intent_anonymous_is_401(booking):
    response = as_user(None).post(
        "/api/payments/create-intent", {"bookingId": str(booking.pk)}, format="json"
    )
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"


def test_create_intent_for_a_paid_booking_is_409(booking, client_user, paid_intent):
    response = as_user(client_user).post(
        "/api/payments/create-intent", {"bookingId": str(booking.pk)}, format="json"
    )
    assert response.status_code == 409
    assert error_code(response) == "booking_not_payable"


# --- confirm ---------------------------------------------------------------------------


def test_confirm_returns_the_seed_shape_and_confirms_the_booking(
    booking, client_user, intent, make_card
):
    response = as_user(client_user).post(
        "/api/payments/confirm",
        {"paymentIntentId": intent["id"], "paymentMethodId": make_card(VISA)},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    pi = body["paymentIntent"]
    assert (pi["id"], pi["object"], pi["status"]) == (
        intent["id"],
        "payment_intent",
        "succeeded",
    )
    assert (pi["amount"], pi["amount_received"], pi["currency"]) == (
        10000,
        10000,
        "chf",
    )
    charge = pi["charges"]["data"][0]
    assert charge["object"] == "charge" and charge["amount"] == 10000
    assert charge["status"] == "succeeded" and charge["id"].startswith("ch_")
    assert body["recipientId"] == str(booking.coach_id)
    assert body["bookingId"] == str(booking.pk)
    assert body["amount"] == 100 and body["currency"] == "chf"
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


def test_confirm_declined_is_402_with_the_decline_code(
    booking, client_user, intent, make_card
):
    response = as_user(client_user).post(
        "/api/payments/confirm",
        {
            "paymentIntentId": intent["id"],
            "paymentMethodId": make_card(DECLINED_AT_CHARGE),
        },
        format="json",
    )
    assert response.status_code == 402
    assert error_code(response) == "card_declined"
    assert response.json()["error"]["details"]["declineCode"] == "card_declined"
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PENDING_PAYMENT


def test_confirm_3ds_returns_requires_action_with_the_client_secret(
    client_user, intent, make_card
):
    response = as_user(client_user).post(
        "/api/payments/confirm",
        {"paymentIntentId": intent["id"], "paymentMethodId": make_card(THREE_D_SECURE)},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["paymentIntent"]["status"] == "requires_action"
    assert body["requiresAction"] is True
    assert body["clientSecret"].startswith(intent["id"])
    assert body["nextAction"]["type"] == "use_stripe_sdk"


@pytest.mark.parametrize("who", ["other_client", "coach", "admin_user"])
def test_confirm_by_anyone_but_the_payer_is_404(request, intent, make_card, who):
    response = as_user(request.getfixturevalue(who)).post(
        "/api/payments/confirm",
        {"paymentIntentId": intent["id"], "paymentMethodId": make_card()},
        format="json",
    )
    assert response.status_code == 404
    assert Payment.objects.get().status == Payment.Status.REQUIRES_PAYMENT_METHOD


def test_confirm_with_missing_fields_is_400(client_user, intent):
    response = as_user(client_user).post(
        "/api/payments/confirm", {"paymentIntentId": intent["id"]}, format="json"
    )
    assert response.status_code == 400
    assert "paymentMethodId" in response.json()["error"]["details"]["fields"]


def test_confirm_mass_assignment_is_ignored(client_user, intent, make_card):
    response = as_user(client_user).post(
        "/api/payments/confirm",
        {
            "paymentIntentId": intent["id"],
            "paymentMethodId": make_card(),
            "amount": 1,
            "status": "refunded",
            "payer": "someone",
        },
        format="json",
    )
    assert response.status_code == 200
    payment = Payment.objects.get()
    assert payment.amount == 10000 and payment.amount_received == 10000
    assert payment.status == Payment.Status.SUCCEEDED


# --- status ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["client_user", "coach", "admin_user"])
def test_status_for_payer_coach_and_admin(request, booking, paid_intent, who):
    response = as_user(request.getfixturevalue(who)).get(
        f"/api/payments/status/{booking.pk}"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["bookingId"] == str(booking.pk)
    assert body["bookingStatus"] == "confirmed"
    assert set(body["payment"]) == {
        "paymentIntentId",
        "status",
        "amount",
        "amountRefunded",
        "currency",
        "version",
        "updatedAt",
    }
    assert body["payment"]["status"] == "succeeded"
    assert body["payment"]["amount"] == 100 and body["payment"]["amountRefunded"] == 0
    assert body["payment"]["currency"] == "CHF"


def test_status_before_any_payment_has_a_null_payment(booking, client_user):
    response = as_user(client_user).get(f"/api/payments/status/{booking.pk}/")
    assert response.status_code == 200
    assert response.json()["payment"] is None
    assert response.json()["bookingStatus"] == "pending_payment"


@pytest.mark.parametrize("who", ["other_client", "other_coach"])
def test_status_for_strangers_is_404(request, booking, who):
    response = as_user(request.getfixturevalue(who)).get(
        f"/api/payments/status/{booking.pk}"
    )
    assert response.status_code == 404


def test_status_with_a_malformed_or_unknown_id_is_404(client_user):
    for booking_id in ("nope", "00000000-0000-0000-0000-000000000000"):
        response = as_user(client_user).get(f"/api/payments/status/{booking_id}")
        assert response.status_code == 404
        assert error_code(response) == "not_found"


def test_status_anonymous_is_401(booking):
    assert as_user(None).get(f"/api/payments/status/{booking.pk}").status_code == 401


# --- refund ------------------------------------------------------------------------------


def test_refund_partial_returns_refund_and_payment(coach, paid_intent):
    response = as_user(coach).post(
        "/api/payments/refund",
        {
            "paymentIntentId": paid_intent["id"],
            "amount": 30,
            "reason": "requested_by_customer",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["refund"]["amount"] == 30 and body["refund"]["currency"] == "CHF"
    assert body["refund"]["status"] == "succeeded"
    assert body["refund"]["reason"] == "requested_by_customer"
    assert body["payment"]["status"] == "partially_refunded"
    assert body["payment"]["amountRefunded"] == 30


def test_refund_with_decimal_amount_is_exact(coach, paid_intent):
    response = as_user(coach).post(
        "/api/payments/refund",
        {"paymentIntentId": paid_intent["id"], "amount": 12.5, "reason": "duplicate"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["refund"]["amount"] == 12.5
    assert Refund.objects.get().amount == 1250


def test_refund_without_amount_refunds_the_rest(admin_user, paid_intent, booking):
    response = as_user(admin_user).post(
        "/api/payments/refund",
        {"paymentIntentId": paid_intent["id"], "reason": "fraudulent"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["payment"]["status"] == "refunded"
    booking.refresh_from_db()
    assert booking.status == Booking.Status.REFUNDED


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"amount": 100.01, "reason": "duplicate"}, 400, "invalid_refund"),
        ({"amount": 0.001, "reason": "duplicate"}, 400, "validation_error"),
        ({"amount": -1, "reason": "duplicate"}, 400, "validation_error"),
        ({"amount": "x", "reason": "duplicate"}, 400, "validation_error"),
        ({"amount": 10, "reason": "whim"}, 400, "validation_error"),
        ({"amount": 10}, 400, "validation_error"),
    ],
)
def test_refund_with_bad_input_is_refused_and_writes_nothing(
    coach, paid_intent, body, status, code
):
    response = as_user(coach).post(
        "/api/payments/refund",
        {"paymentIntentId": paid_intent["id"], **body},
        format="json",
    )
    assert response.status_code == status
    assert error_code(response) == code
    assert not Refund.objects.exists()


@pytest.mark.parametrize("who", ["other_client", "other_coach"])
def test_refund_by_strangers_is_404(request, paid_intent, who):
    response = as_user(request.getfixturevalue(who)).post(
        "/api/payments/refund",
        {"paymentIntentId": paid_intent["id"], "reason": "duplicate"},
        format="json",
    )
    assert response.status_code == 404
    assert not Refund.objects.exists()


def test_refund_by_the_client_after_the_window_is_403(
    client_user, paid_intent, booking
):
    Booking.objects.filter(pk=booking.pk).update(cancellation_window_hours=24 * 30)
    response = as_user(client_user).post(
        "/api/payments/refund",
        {"paymentIntentId": paid_intent["id"], "reason": "requested_by_customer"},
        format="json",
    )
    assert response.status_code == 403
    assert error_code(response) == "refund_window_closed"


def test_refund_of_an_unpaid_intent_is_409(coach, intent):
    response = as_user(coach).post(
        "/api/payments/refund",
        {"paymentIntentId": intent["id"], "reason": "duplicate"},
        format="json",
    )
    assert response.status_code == 409
    assert error_code(response) == "refund_not_allowed"


# --- saved cards -------------------------------------------------------------------------


def test_methods_add_list_default_delete(client_user, make_card):
    api = as_user(client_user)
    first, second = make_card(VISA), make_card(MASTERCARD)
    added = api.post(
        "/api/payments/methods",
        {"paymentMethodId": first, "isDefault": False},
        format="json",
    )
    assert added.status_code == 201
    assert added.json()["paymentMethod"] == {
        "id": first,
        "brand": "visa",
        "last4": "4242",
        "expMonth": 12,
        "expYear": 2034,
        "isDefault": True,
    }
    api.post(
        "/api/payments/methods",
        {"paymentMethodId": second, "isDefault": False},
        format="json",
    )

    listed = api.get(f"/api/payments/methods/{client_user.pk}")
    assert listed.status_code == 200
    assert [m["id"] for m in listed.json()["paymentMethods"]] == [first, second]

    changed = api.post(
        "/api/payments/methods/default", {"paymentMethodId": second}, format="json"
    )
    assert changed.status_code == 200
    assert [(m["id"], m["isDefault"]) for m in changed.json()["paymentMethods"]] == [
        (second, True),
        (first, False),
    ]

    deleted = api.delete(f"/api/payments/methods/{second}")
    assert deleted.status_code == 200
    assert deleted.json()["paymentMethods"] == [
        {
            "id": first,
            "brand": "visa",
            "last4": "4242",
            "expMonth": 12,
            "expYear": 2034,
            "isDefault": True,
        },
    ]


def test_methods_of_another_user_are_404_but_admins_see_them(
    client_user, other_client, admin_user, make_card
):
    services.payment_method_attach(
        user=client_user,
        payment_method_id=make_card(),
        make_default=True,
        actor=client_user,
    )
    assert (
        as_user(other_client).get(f"/api/payments/methods/{client_user.pk}").status_code
        == 404
    )
    seen = as_user(admin_user).get(f"/api/payments/methods/{client_user.pk}")
    assert seen.status_code == 200 and len(seen.json()["paymentMethods"]) == 1


def test_methods_delete_or_default_of_another_users_card_is_404(
    client_user, other_client, make_card
):
    card = make_card()
    services.payment_method_attach(
        user=client_user, payment_method_id=card, make_default=True, actor=client_user
    )
    api = as_user(other_client)
    assert api.delete(f"/api/payments/methods/{card}").status_code == 404
    assert (
        api.post(
            "/api/payments/methods/default", {"paymentMethodId": card}, format="json"
        ).status_code
        == 404
    )
    assert SavedPaymentMethod.objects.get().is_default


def test_methods_anonymous_is_401(client_user):
    api = as_user(None)
    assert api.get(f"/api/payments/methods/{client_user.pk}").status_code == 401
    assert (
        api.post(
            "/api/payments/methods", {"paymentMethodId": "pm_x"}, format="json"
        ).status_code
        == 401
    )
    assert api.delete("/api/payments/methods/pm_x").status_code == 401


def test_setup_intent_returns_a_client_secret(client_user, localstripe_url):
    response = as_user(client_user).post("/api/payments/setup-intent")
    assert response.status_code == 200
    assert response.json()["clientSecret"].startswith(response.json()["setupIntentId"])


# --- throttling and docs -------------------------------------------------------------


def test_payment_operations_are_throttled_per_user(client_user, booking, monkeypatch):
    from payments.api import PaymentsThrottle

    monkeypatch.setattr(PaymentsThrottle, "THROTTLE_RATES", {"payments": "2/min"})
    api = as_user(client_user)
    body = {"bookingId": str(booking.pk)}
    codes = [
        api.post("/api/payments/create-intent", body, format="json").status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    last = api.post("/api/payments/create-intent", body, format="json")
    assert error_code(last) == "rate_limited"
    assert int(last["Retry-After"]) > 0


def test_openapi_schema_documents_the_seed_endpoints(client):
    response = client.get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert response.status_code == 200
    text = response.content.decode()
    for path in ("create-intent", "confirm", "status", "refund", "methods"):
        assert f"/api/payments/{path}" in text
    assert "pi_3NhTy2HWMvEUw1Qt1RFnFvEG" in text  # the seed's examples


# --- cancelling a paid booking ------------------------------------------------------------


def test_cancel_paid_booking_by_client_in_window_refunds_in_full(
    client_user, booking, paid_intent
):
    response = as_user(client_user).post(f"/api/bookings/{booking.pk}/cancel/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["refund"]["amount"] == 100 and body["refund"]["status"] == "succeeded"
    booking.refresh_from_db()
    assert booking.status == Booking.Status.REFUNDED
    assert Payment.objects.get().status == Payment.Status.REFUNDED


def test_cancel_paid_booking_by_client_after_window_refunds_nothing(
    client_user, booking, paid_intent
):
    Booking.objects.filter(pk=booking.pk).update(cancellation_window_hours=24 * 30)
    response = as_user(client_user).post(f"/api/bookings/{booking.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["refund"] is None
    assert response.json()["booking"]["status"] == "cancelled"
    assert Payment.objects.get().status == Payment.Status.SUCCEEDED


def test_cancel_paid_booking_by_coach_refunds_in_full_even_after_window(
    coach, booking, paid_intent
):
    Booking.objects.filter(pk=booking.pk).update(cancellation_window_hours=24 * 30)
    response = as_user(coach).post(f"/api/bookings/{booking.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["refund"]["amount"] == 100
    assert response.json()["booking"]["status"] == "refunded"


def test_cancel_unpaid_booking_cancels_its_open_intent(
    client_user, booking, intent, stripe_client
):
    response = as_user(client_user).post(f"/api/bookings/{booking.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["booking"]["status"] == "cancelled"
    assert stripe_client.v1.payment_intents.retrieve(intent["id"]).status == "canceled"
    assert Payment.objects.get().status == Payment.Status.CANCELED


def test_status_after_failed_3ds_reads_the_outcome_from_stripe(
    booking, client_user, intent, make_card, localstripe_url
):
    from tests.payments.test_services import authenticate_3ds

    confirmed = (
        as_user(client_user)
        .post(
            "/api/payments/confirm",
            {
                "paymentIntentId": intent["id"],
                "paymentMethodId": make_card(THREE_D_SECURE),
            },
            format="json",
        )
        .json()
    )

    class Pending:
        id = intent["id"]
        client_secret = confirmed["clientSecret"]

    authenticate_3ds(localstripe_url, Pending, success=False)
    # The coach's view reads only our records...
    seen_by_coach = as_user(booking.coach).get(f"/api/payments/status/{booking.pk}")
    assert seen_by_coach.json()["payment"]["status"] == "requires_action"
    # ...the payer's asks Stripe how the check ended.
    seen_by_payer = as_user(client_user).get(f"/api/payments/status/{booking.pk}")
    assert seen_by_payer.json()["payment"]["status"] == "failed"
    assert seen_by_payer.json()["bookingStatus"] == "pending_payment"


def test_expired_access_cookie_falls_back_to_the_session(client, client_user, booking):
    """A page open longer than the access token's life still reaches the API."""
    from django.conf import settings

    client.force_login(client_user)
    client.cookies[settings.REST_AUTH["JWT_AUTH_COOKIE"]] = "expired.or.garbage"
    response = client.get(f"/api/payments/status/{booking.pk}")
    assert response.status_code == 200


def test_invalid_bearer_token_is_401_even_with_a_session(client, client_user, booking):
    client.force_login(client_user)
    response = client.get(
        f"/api/payments/status/{booking.pk}", HTTP_AUTHORIZATION="Bearer garbage"
    )
    assert response.status_code == 401
