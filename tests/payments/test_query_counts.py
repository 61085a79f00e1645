"""How many SQL statements the hot paths cost, and that it does not grow with data.

Each page and endpoint is measured with a few payments and again with
5,000 for the same client and coach (made with ``bulk_create``, so the
setup stays cheap); the count must be the same. The hot paths of issue 14
also have a ceiling: the status API, the socket's subscribe, the webhook
ingest and the processing of an event.
"""

import datetime as dt
import json
import time
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from bookings.models import Booking
from coaching.routing import websocket_application
from payments import realtime, services, tasks
from payments.models import LedgerEntry, Payment, WebhookEvent
from payments.services.events import webhook_event_process
from tests.payments.conftest import VISA
from tests.payments.stripe_side import sign_webhook_payload

# The big case: as many paid bookings as a busy coach has in years, so a
# per-row query would show thousands of times over (the file takes ~20 s).
MANY = 5000
FEW = 10


def _grow(booking: Booking, *, count: int, start: int) -> None:
    """Add ``count`` paid bookings like ``booking`` for the same client and coach.

    Each gets a succeeded payment and its charge's ledger entries; starts are
    an hour apart (past the coach's other bookings), so no slot overlaps.
    """
    bookings, payments, entries = [], [], []
    first = booking.starts_at + dt.timedelta(days=30)
    for i in range(start, start + count):
        starts = first + dt.timedelta(hours=2 * i)
        clone = Booking(
            client_id=booking.client_id,
            coach_id=booking.coach_id,
            offering_id=booking.offering_id,
            starts_at=starts,
            ends_at=starts + (booking.ends_at - booking.starts_at),
            status=Booking.Status.CONFIRMED,
            expires_at=None,
            currency=booking.currency,
            price_base=booking.price_base,
            price_gross=booking.price_gross,
            price_net=booking.price_net,
            vat_amount=booking.vat_amount,
            vat_rate_bps=booking.vat_rate_bps,
            vat_included=booking.vat_included,
            platform_fee_amount=booking.platform_fee_amount,
            platform_fee_bps=booking.platform_fee_bps,
            coach_amount=booking.coach_amount,
            cancellation_window_hours=booking.cancellation_window_hours,
        )
        bookings.append(clone)
        payment = Payment(
            booking=clone,
            payer_id=booking.client_id,
            recipient_id=booking.coach_id,
            status=Payment.Status.SUCCEEDED,
            currency=booking.currency,
            amount=booking.price_gross,
            net_amount=booking.price_net,
            vat_amount=booking.vat_amount,
            vat_rate_bps=booking.vat_rate_bps,
            platform_fee_amount=booking.platform_fee_amount,
            coach_amount=booking.coach_amount,
            amount_received=booking.price_gross,
            stripe_payment_intent_id=f"pi_bulk_{uuid.uuid4().hex[:20]}",
        )
        payments.append(payment)
        # As ledger_record_charge books them: each entry names its coach (the
        # coach's balances, earnings and statements read by coach).
        for kind, amount in (
            (LedgerEntry.Kind.CHARGE, booking.price_gross),
            (LedgerEntry.Kind.PLATFORM_FEE, booking.platform_fee_amount),
            (LedgerEntry.Kind.COACH_EARNING, booking.coach_amount),
            (LedgerEntry.Kind.VAT, booking.vat_amount),
        ):
            entries.append(
                LedgerEntry(
                    payment=payment,
                    coach_id=booking.coach_id,
                    kind=kind,
                    amount=amount,
                    currency=booking.currency,
                )
            )
    Booking.objects.bulk_create(bookings)
    Payment.objects.bulk_create(payments)
    LedgerEntry.objects.bulk_create(entries)


def _count(call) -> int:
    with CaptureQueriesContext(connection) as queries:
        call()
    return len(queries)


def _few_then_many(booking: Booking, call) -> tuple[int, int]:
    """The statements ``call`` costs with FEW paid bookings, then with MANY."""
    _grow(booking, count=FEW, start=0)
    few = _count(call)
    _grow(booking, count=MANY - FEW, start=FEW)
    assert Payment.objects.filter(payer_id=booking.client_id).count() >= MANY
    return few, _count(call)


@pytest.fixture
def paid(booking, client_user, make_card):
    """The CHF 100 booking, paid through the services (a real ledger)."""
    payment, _intent = services.payment_create_intent(
        booking=booking, actor=client_user
    )
    services.payment_confirm(
        payment=payment, payment_method_id=make_card(VISA), actor=client_user
    )
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    return booking


def bearer_api(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return api


# --- the status API ---------------------------------------------------------------


@pytest.mark.django_db
def test_status_api_with_a_bearer_token_costs_two_queries(paid, client_user):
    api = bearer_api(client_user)

    def call():
        response = api.get(f"/api/payments/status/{paid.pk}")
        assert response.status_code == 200
        assert response.json()["payment"]["status"] == "succeeded"

    few, many = _few_then_many(paid, call)

    # The token's user, then the booking LEFT JOIN its payments (was 3).
    assert few == many <= 2


@pytest.mark.django_db
def test_status_api_for_the_coach_costs_two_queries(paid, coach):
    response = None

    def call():
        nonlocal response
        response = bearer_api(coach).get(f"/api/payments/status/{paid.pk}")

    assert _count(call) <= 2
    assert response.json()["bookingStatus"] == "confirmed"


# --- the socket's subscribe ---------------------------------------------------------


@pytest.fixture
def every_statement(monkeypatch):
    """Statements run on any connection of any thread (a consumer's database
    work does not run on the test's connection object, so CaptureQueriesContext
    does not see it)."""
    from django.db.backends.utils import CursorWrapper

    seen: list[str] = []
    original = CursorWrapper._execute

    def spy(self, sql, params, *args):
        seen.append(sql)
        return original(self, sql, params, *args)

    monkeypatch.setattr(CursorWrapper, "_execute", spy)
    return seen


@pytest.mark.django_db(transaction=True)
def test_subscribe_costs_one_query_for_the_check_and_the_snapshot(
    paid, client_user, every_statement
):
    token = AccessToken.for_user(client_user)
    headers = [
        (b"origin", b"http://testserver"),
        (b"authorization", f"Bearer {token}".encode()),
    ]

    async def scenario():
        socket = WebsocketCommunicator(
            websocket_application, "/ws/payments/", headers=headers
        )
        connected, _code = await socket.connect()
        assert connected
        # The handshake's own reads (the revocation check) are done once a
        # ping is answered.
        await socket.send_json_to({"type": "ping"})
        assert (await socket.receive_json_from(timeout=5))["type"] == "pong"
        every_statement.clear()
        await socket.send_json_to({"type": "subscribe", "bookingId": str(paid.pk)})
        snapshot = await socket.receive_json_from(timeout=5)
        statements = list(every_statement)
        await socket.disconnect()
        return snapshot, statements

    snapshot, statements = async_to_sync(scenario)()

    assert snapshot["type"] == "payment.status"
    assert snapshot["status"] == "succeeded"
    assert len(statements) <= 1, statements


# --- webhooks: ingest and processing ------------------------------------------------


def _signed_post(client, payload: dict):
    body = json.dumps(payload)
    signature = sign_webhook_payload(
        body, secret=settings.STRIPE_WEBHOOK_SECRET, timestamp=int(time.time())
    )
    return client.post(
        "/api/payments/webhook",
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )


def _event(type_: str, obj: dict) -> dict:
    return {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": type_,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }


@pytest.mark.django_db
def test_webhook_ingest_is_one_insert(client, django_capture_on_commit_callbacks):
    payload = _event("payment_intent.succeeded", {"id": "pi_unknown"})

    with (
        django_capture_on_commit_callbacks(execute=False),
        CaptureQueriesContext(connection) as queries,
    ):
        response = _signed_post(client, payload)

    assert response.status_code == 200
    statements = [
        q["sql"] for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
    ]
    assert len(statements) == 1, statements
    assert statements[0].startswith("INSERT")
    assert WebhookEvent.objects.filter(stripe_event_id=payload["id"]).exists()


@pytest.mark.django_db(transaction=True)
def test_webhook_ingest_under_autocommit_is_one_statement_and_dedupes(
    client, every_statement, monkeypatch
):
    """As in production (no test transaction around the request): the INSERT
    is its own transaction, no BEGIN/COMMIT around it; a redelivery is a 200
    duplicate, stored once."""
    queued = []
    monkeypatch.setattr(tasks.process_webhook_event, "delay", queued.append)
    payload = _event("payment_intent.succeeded", {"id": "pi_unknown"})

    first = _signed_post(client, payload)
    statements = list(every_statement)
    again = _signed_post(client, payload)

    assert first.status_code == again.status_code == 200
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    assert len(statements) == 1 and statements[0].startswith("INSERT"), statements
    assert WebhookEvent.objects.filter(stripe_event_id=payload["id"]).count() == 1
    assert len(queued) == 1


@pytest.mark.django_db
def test_processing_a_succeeded_event_is_twelve_statements_one_broadcast_one_task(
    client,
    booking,
    client_user,
    stripe_client,
    make_card,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    """The payment was confirmed at Stripe behind our back (Stripe.js's
    confirmCardPayment): the webhook is what moves it, with its ledger, the
    booking, one live message and one task for the notifications."""
    payment, intent = services.payment_create_intent(booking=booking, actor=client_user)
    card = make_card(VISA)
    stripe_client.v1.payment_methods.attach(
        card, params={"customer": payment.stripe_customer_id}
    )
    stripe_client.v1.payment_intents.update(intent.id, params={"payment_method": card})
    stripe_client.v1.payment_intents.confirm(intent.id)
    obj = stripe_client.v1.payment_intents.retrieve(intent.id).to_dict()
    payload = _event("payment_intent.succeeded", obj)
    with django_capture_on_commit_callbacks(execute=False):
        assert _signed_post(client, payload).status_code == 200
    row = WebhookEvent.objects.get(stripe_event_id=payload["id"])
    # The notifications' task is queued, not run: its statements are its own.
    queued = []
    monkeypatch.setattr(
        tasks.create_notifications, "delay", lambda *args: queued.append(args)
    )
    broadcasts = []
    send = realtime.broadcast_booking
    monkeypatch.setattr(
        realtime,
        "broadcast_booking",
        lambda booking_id: [
            broadcasts.append(booking_id),
            send(booking_id),
        ],
    )

    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        webhook_event_process(event_pk=row.pk)

    payment.refresh_from_db()
    booking.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert booking.status == Booking.Status.CONFIRMED
    assert LedgerEntry.objects.filter(payment=payment).count() == 4
    statements = [
        q["sql"]
        for q in queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"))
    ]
    assert len(statements) <= 12, "\n".join(statements)
    assert broadcasts == [str(booking.pk)]
    assert [args[:2] for args in queued] == [(str(booking.pk), "payment_succeeded")]


# --- pages ------------------------------------------------------------------------


@pytest.mark.django_db
def test_my_bookings_page_does_not_grow_with_payments(client, paid, client_user):
    client.force_login(client_user)
    few, many = _few_then_many(
        paid, lambda: client.get(reverse("bookings:list")).status_code
    )
    assert few == many


@pytest.mark.django_db
def test_coach_bookings_page_does_not_grow_with_payments(client, paid, coach):
    client.force_login(coach)
    few, many = _few_then_many(
        paid, lambda: client.get(reverse("coach:bookings")).status_code
    )
    assert few == many


@pytest.mark.django_db
def test_booking_page_does_not_grow_with_payments(client, paid, client_user):
    client.force_login(client_user)
    url = reverse("bookings:detail", args=[paid.pk])
    few, many = _few_then_many(paid, lambda: client.get(url).status_code)
    assert few == many


@pytest.mark.django_db
def test_earnings_page_does_not_grow_with_payments(client, paid, coach):
    client.force_login(coach)
    few, many = _few_then_many(
        paid, lambda: client.get(reverse("coach:earnings")).status_code
    )
    assert few == many


@pytest.mark.django_db
def test_bookings_api_does_not_grow_with_payments(paid, client_user):
    api = bearer_api(client_user)
    few, many = _few_then_many(paid, lambda: api.get("/api/bookings/").status_code)
    assert few == many


# --- one live message per change --------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_broadcast_on_commit_once_per_booking_and_transaction(monkeypatch):
    from django.db import transaction

    sent = []
    monkeypatch.setattr(realtime, "broadcast_booking", sent.append)
    a, b = str(uuid.uuid4()), str(uuid.uuid4())

    with transaction.atomic():
        realtime.broadcast_booking_on_commit(a)
        realtime.broadcast_booking_on_commit(uuid.UUID(a))
        realtime.broadcast_booking_on_commit(b)
        assert sent == []
    assert sent == [a, b]

    sent.clear()
    with transaction.atomic():
        try:
            with transaction.atomic():
                realtime.broadcast_booking_on_commit(a)
                raise RuntimeError
        except RuntimeError:
            pass
        # The rolled-back savepoint took its registration along: this one counts.
        realtime.broadcast_booking_on_commit(a)
    assert sent == [a]

    sent.clear()
    with transaction.atomic():
        realtime.broadcast_booking_on_commit(a)
        transaction.set_rollback(True)
    assert sent == []
