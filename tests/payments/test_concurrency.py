"""Many requests at once about one payment, through the API, on PostgreSQL.

Row locks (``select_for_update``) are a no-op on SQLite, so these run only
with ``DATABASE_URL`` pointing at PostgreSQL. Each thread is one client with
its own database connection, closed when it is done. What counts is checked
twice: in our database and at the emulator (localstripe ignores idempotency
keys, so every duplicate call to it would show there).
"""

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer
from django.db import connection
from rest_framework.test import APIClient

from bookings.models import Booking
from payments.models import LedgerEntry, Payment, PaymentTransition, Refund
from tests.payments.conftest import DECLINED_AT_CHARGE, VISA

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

JOIN_SECONDS = 120


def _concurrently(count: int, call: Callable[[int], Any]) -> list[Any]:
    """Run ``call(i)`` in ``count`` threads released together; results or errors."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call(index)
        except BaseException as exc:  # a 500 raises in the test client: keep it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_SECONDS)
    assert not any(t.is_alive() for t in threads), "a request never finished"
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"requests raised: {errors!r}"
    return results


def _post_as(user, path: str, body: dict) -> tuple[int, dict]:
    api = APIClient()
    api.force_authenticate(user)
    response = api.post(path, body, format="json")
    return response.status_code, response.json()


def _codes(results: list[tuple[int, dict]]) -> Counter:
    return Counter(
        (status, body["error"]["code"] if status >= 400 else "ok")
        for status, body in results
    )


def _create_intent(user, booking) -> str:
    status, body = _post_as(
        user, "/api/payments/create-intent", {"bookingId": str(booking.pk)}
    )
    assert status == 200, body
    return body["paymentIntent"]["id"]


def _pay(user, booking, card: str) -> Payment:
    intent_id = _create_intent(user, booking)
    status, body = _post_as(
        user,
        "/api/payments/confirm",
        {"paymentIntentId": intent_id, "paymentMethodId": card},
    )
    assert status == 200, body
    return Payment.objects.get(stripe_payment_intent_id=intent_id)


def _emulator_charges(stripe_client, customer_id: str) -> list:
    return list(
        stripe_client.v1.charges.list(
            params={"customer": customer_id, "limit": 100}
        ).auto_paging_iter()
    )


def _emulator_refunds(stripe_client, intent_id: str) -> list:
    return list(
        stripe_client.v1.refunds.list(
            params={"payment_intent": intent_id, "limit": 100}
        ).auto_paging_iter()
    )


def _emulator_intents_for_booking(stripe_client, booking_id) -> list:
    return [
        pi
        for pi in stripe_client.v1.payment_intents.list(
            params={"limit": 100}
        ).auto_paging_iter()
        if pi.to_dict()["metadata"].get("booking_id") == str(booking_id)
    ]


# --- Confirm -------------------------------------------------------------------------


def test_confirm_api_twenty_concurrent_confirms_charge_once(
    client_user, booking, make_card, stripe_client
):
    intent_id = _create_intent(client_user, booking)
    card = make_card(VISA)
    body = {"paymentIntentId": intent_id, "paymentMethodId": card}

    results = _concurrently(
        20, lambda _i: _post_as(client_user, "/api/payments/confirm", body)
    )

    codes = _codes(results)
    assert set(codes) <= {(200, "ok"), (409, "payment_in_progress")}, codes
    assert codes[(200, "ok")] >= 1
    for status, response in results:
        if status == 200:
            assert response["paymentIntent"]["status"] == "succeeded"
    payment = Payment.objects.get(stripe_payment_intent_id=intent_id)
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.amount_received == payment.amount
    assert payment.confirm_lease_until is None
    assert Booking.objects.get(pk=booking.pk).status == Booking.Status.CONFIRMED
    assert list(
        LedgerEntry.objects.filter(payment=payment, kind="charge").values_list(
            "amount", flat=True
        )
    ) == [payment.amount]
    assert (
        PaymentTransition.objects.filter(payment=payment, to_status="succeeded").count()
        == 1
    )
    charges = _emulator_charges(stripe_client, payment.stripe_customer_id)
    assert [(c.payment_intent, c.status) for c in charges] == [(intent_id, "succeeded")]


def test_confirm_api_ten_concurrent_confirms_with_declined_card_charge_once_and_fail(
    client_user, booking, make_card, stripe_client
):
    intent_id = _create_intent(client_user, booking)
    card = make_card(DECLINED_AT_CHARGE)
    body = {"paymentIntentId": intent_id, "paymentMethodId": card}

    results = _concurrently(
        10, lambda _i: _post_as(client_user, "/api/payments/confirm", body)
    )

    codes = _codes(results)
    # Nobody is told the payment went through; the one that tried the card
    # hears why it failed; the others that it is over or still going.
    assert codes[(402, "card_declined")] == 1, codes
    assert set(codes) <= {
        (402, "card_declined"),
        (409, "booking_not_payable"),
        (409, "payment_in_progress"),
    }, codes
    payment = Payment.objects.get(stripe_payment_intent_id=intent_id)
    assert payment.status == Payment.Status.FAILED
    assert Booking.objects.get(pk=booking.pk).status == Booking.Status.PENDING_PAYMENT
    assert not LedgerEntry.objects.filter(payment=payment).exists()
    charges = _emulator_charges(stripe_client, payment.stripe_customer_id)
    assert [(c.payment_intent, c.status) for c in charges] == [(intent_id, "failed")]


# --- Refund ---------------------------------------------------------------------------


def _refund_as(user, intent_id: str, amount=None) -> tuple[int, dict]:
    body = {"paymentIntentId": intent_id, "reason": "requested_by_customer"}
    if amount is not None:
        body["amount"] = amount
    return _post_as(user, "/api/payments/refund", body)


@pytest.mark.parametrize(
    ("threads", "amount", "winners"),
    [
        (5, 30, 3),  # 5 x 30.00 CHF on 100.00: three fit
        (10, 30, 3),
        (5, None, 1),  # everything that is left, five times: once
    ],
)
def test_refund_api_concurrent_refunds_over_amount_received_never_exceed_it(
    threads, amount, winners, client_user, admin_user, booking, make_card, stripe_client
):
    payment = _pay(client_user, booking, make_card(VISA))
    intent_id = payment.stripe_payment_intent_id

    results = _concurrently(
        threads, lambda _i: _refund_as(admin_user, intent_id, amount)
    )

    codes = _codes(results)
    assert codes[(200, "ok")] == winners, codes
    # Asking for more than is left is a 400; once a full refund has settled
    # the payment is refunded, and any refund of it a 409.
    losers = {(400, "invalid_refund")}
    if amount is None:
        losers.add((409, "refund_not_allowed"))
    assert set(codes) - {(200, "ok")} <= losers, codes
    payment.refresh_from_db()
    expected = winners * (amount * 100 if amount else payment.amount_received)
    assert payment.amount_refunded == expected
    assert payment.amount_refunded <= payment.amount_received
    refunds = Refund.objects.filter(payment=payment)
    assert sorted(r.status for r in refunds) == ["succeeded"] * winners
    assert (
        sum(
            LedgerEntry.objects.filter(payment=payment, kind="refund").values_list(
                "amount", flat=True
            )
        )
        == -expected
    )
    at_stripe = _emulator_refunds(stripe_client, intent_id)
    assert sum(r.amount for r in at_stripe) == expected
    assert sum(r.amount for r in at_stripe) <= payment.amount_received
    assert sorted(r.id for r in at_stripe) == sorted(
        r.stripe_refund_id for r in refunds
    )


# --- Create intent ----------------------------------------------------------------------


@pytest.mark.parametrize("threads", [2, 10])
def test_create_intent_api_concurrent_calls_for_one_booking_open_one_intent(
    threads, client_user, booking, stripe_client
):
    results = _concurrently(
        threads,
        lambda _i: _post_as(
            client_user,
            "/api/payments/create-intent",
            {"bookingId": str(booking.pk)},
        ),
    )

    codes = _codes(results)
    assert set(codes) <= {(200, "ok"), (409, "payment_in_progress")}, codes
    assert codes[(200, "ok")] >= 1
    returned = {
        body["paymentIntent"]["id"] for status, body in results if status == 200
    }
    payments = Payment.objects.filter(booking=booking)
    assert payments.count() == 1
    payment = payments.get()
    assert returned == {payment.stripe_payment_intent_id}
    assert payment.create_lease_until is None
    intents = _emulator_intents_for_booking(stripe_client, booking.pk)
    assert [pi.id for pi in intents] == [payment.stripe_payment_intent_id]


class StallingChannelLayer(InMemoryChannelLayer):
    """The in-memory layer, except that once armed, the next broadcast waits for
    the test: a slow Redis (or a descheduled thread) at a moment the test picks."""

    armed = threading.Event()
    stalled = threading.Event()
    release = threading.Event()

    async def group_send(self, group, message):
        cls = type(self)
        if cls.armed.is_set():
            cls.armed.clear()
            cls.stalled.set()
            cls.release.wait(timeout=JOIN_SECONDS)
        await super().group_send(group, message)


@pytest.fixture
def stalling_layer(settings):
    for event in (
        StallingChannelLayer.armed,
        StallingChannelLayer.stalled,
        StallingChannelLayer.release,
    ):
        event.clear()
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": f"{__name__}.StallingChannelLayer"}
    }
    yield StallingChannelLayer
    StallingChannelLayer.release.set()


def test_create_intent_api_caller_paused_before_claiming_reuses_the_finished_intent(
    client_user, booking, make_card, stripe_client, stalling_layer
):
    """A caller that read the payment before another caller gave it an intent,
    and claims the create lease after that one released it, must not create a
    second intent (localstripe, like our contract, gives no idempotency)."""
    path, body = "/api/payments/create-intent", {"bookingId": str(booking.pk)}
    results = {}

    def first_caller() -> None:
        try:
            results["first"] = _post_as(client_user, path, body)
        except BaseException as exc:
            results["first"] = exc
        finally:
            connection.close()

    stalling_layer.armed.set()
    first = threading.Thread(target=first_caller)
    first.start()
    # The first caller created the payment (its creation is being announced)
    # and has not claimed the create lease yet.
    assert stalling_layer.stalled.wait(timeout=30)
    status, second = _post_as(client_user, path, body)
    assert status == 200, second
    stalling_layer.release.set()
    first.join(timeout=JOIN_SECONDS)
    assert not first.is_alive()

    status, first_body = results["first"]
    assert status == 200, first_body
    intent_id = second["paymentIntent"]["id"]
    assert first_body["paymentIntent"]["id"] == intent_id
    assert Payment.objects.get(booking=booking).stripe_payment_intent_id == intent_id
    intents = _emulator_intents_for_booking(stripe_client, booking.pk)
    assert [pi.id for pi in intents] == [intent_id]
    confirmed = _post_as(
        client_user,
        "/api/payments/confirm",
        {"paymentIntentId": intent_id, "paymentMethodId": make_card(VISA)},
    )
    assert confirmed[0] == 200, confirmed[1]


# --- Paying again after an abandoned 3-D Secure challenge -----------------------------


def test_create_intent_api_concurrent_calls_after_abandoned_challenge_open_one_intent(
    client_user, booking, make_card, stripe_client
):
    from tests.payments.conftest import THREE_D_SECURE

    first = _create_intent(client_user, booking)
    _status, body = _post_as(
        client_user,
        "/api/payments/confirm",
        {"paymentIntentId": first, "paymentMethodId": make_card(THREE_D_SECURE)},
    )
    assert body["paymentIntent"]["status"] == "requires_action", body

    results = _concurrently(
        8,
        lambda _i: _post_as(
            client_user, "/api/payments/create-intent", {"bookingId": str(booking.pk)}
        ),
    )

    codes = _codes(results)
    assert set(codes) <= {(200, "ok"), (409, "payment_in_progress")}, codes
    fresh = {body["paymentIntent"]["id"] for status, body in results if status == 200}
    assert len(fresh) == 1 and first not in fresh
    intents = _emulator_intents_for_booking(stripe_client, booking.pk)
    by_status = Counter(pi.status for pi in intents)
    assert by_status == Counter({"canceled": 1, "requires_payment_method": 1})
    assert Payment.objects.filter(booking=booking).live().count() == 1
    [new_id] = fresh
    _post_as(
        client_user,
        "/api/payments/confirm",
        {"paymentIntentId": new_id, "paymentMethodId": make_card(VISA)},
    )
    customer = Payment.objects.get(stripe_payment_intent_id=new_id).stripe_customer_id
    charged = [c for c in _emulator_charges(stripe_client, customer) if c.paid]
    assert len(charged) == 1
