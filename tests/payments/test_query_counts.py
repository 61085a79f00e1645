"""How many SQL statements the hot paths cost, and that it does not grow with data.

Each page and endpoint is measured with a few payments and again with
5,000 for the same client and coach (made with ``bulk_create``, so the
setup stays cheap); the count must be the same, and under a ceiling. The
hot paths of issue 14 have their own tests: the status API, the socket's
subscribe, the webhook ingest and the processing of an event; every page and
GET endpoint of each role is counted by that role's test, which grows the
data once for all of them.
"""

import datetime as dt
import json
import time
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib import admin as django_admin
from django.db import connection
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from bookings.models import Booking
from bookings.selectors import COACH_BOOKING_FILTERS
from coaching.routing import websocket_application
from payments import realtime, services, tasks
from payments.models import (
    LedgerEntry,
    Notification,
    Payment,
    PlatformFeeInvoice,
    Refund,
    WebhookEvent,
)
from payments.services.events import webhook_event_process
from tests.payments.conftest import VISA
from tests.payments.stripe_side import sign_webhook_payload

# The big case: as many paid bookings as a busy coach has in years, so a
# per-row query would show thousands of times over.
MANY = 5000
FEW = 10


def _grow(booking: Booking, *, count: int, start: int) -> list[Payment]:
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
    return payments


def _count(call) -> int:
    # The log keeps at most queries_limit (9,000) statements and nothing
    # empties it between captures (they unhook reset_queries): once full,
    # every later capture would read 0. Start each one empty (a call of more
    # than 9,000 then reads as 9,000, still far above its count with FEW).
    connection.queries_log.clear()
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


# --- every page and GET endpoint, per role --------------------------------------------
# One test per role: the dataset is grown once (FEW, then MANY) and every page
# and GET endpoint the role uses is counted at both sizes, so the file stays
# cheap. The pages are those of tests/browser/test_crawl.py's PAGES (and the
# few NOT_PAGES that are GETs a signed-in user's browser makes: the status
# fragment, the setup checklist, an invoice PDF), the GET endpoints those of
# the API's schema, and for staff every Django admin changelist.
#
# CEILINGS hold today's counts: a later change that adds a statement shows here
# even if it does not grow with the data. Raise one only knowingly.


def _grow_everything(
    booking: Booking,
    *,
    count: int,
    start: int,
    event_status: str = WebhookEvent.Status.PROCESSED,
) -> list[Payment]:
    """``_grow``, with every other session two years back (held: the past
    lists, the statements' months), and what each payment leaves behind
    besides its ledger: a notification for the client and one for the coach,
    and its webhook event (the notifications page and the admin's events list
    show these, not payments); every fourth has a refund pending."""
    payments = _grow(booking, count=count, start=start)
    two_years = dt.timedelta(days=730)
    Booking.objects.filter(pk__in=[p.booking.pk for p in payments[1::2]]).update(
        starts_at=F("starts_at") - two_years, ends_at=F("ends_at") - two_years
    )
    notes, events = [], []
    now = timezone.now()
    for payment in payments:
        for recipient_id in (payment.payer_id, payment.recipient_id):
            notes.append(
                Notification(
                    recipient_id=recipient_id,
                    kind=Notification.Kind.PAYMENT_SUCCEEDED,
                    booking=payment.booking,
                    dedupe_key=payment.stripe_payment_intent_id,
                    title="Payment received",
                    body="CHF 100.00 for your session.",
                )
            )
        event_id = f"evt_bulk_{uuid.uuid4().hex[:20]}"
        events.append(
            WebhookEvent(
                stripe_event_id=event_id,
                type="payment_intent.succeeded",
                payload=_event(
                    "payment_intent.succeeded",
                    {"id": payment.stripe_payment_intent_id},
                )
                | {"id": event_id},
                status=event_status,
                attempts=1,
                processed_at=now,
            )
        )
    Notification.objects.bulk_create(notes)
    WebhookEvent.objects.bulk_create(events)
    _refunds_pending(payments[3::4])
    return payments


def _refunds_pending(payments: list[Payment]) -> None:
    """A full refund asked for and not settled yet at Stripe on each payment
    (the lists show "refund pending" from it)."""
    Refund.objects.bulk_create(
        Refund(
            payment=payment,
            amount=payment.amount,
            currency=payment.currency,
            reason=Refund.Reason.REQUESTED_BY_CUSTOMER,
            requested_by_id=payment.payer_id,
        )
        for payment in payments
    )


def _grow_trouble(booking: Booking, *, count: int, start: int) -> None:
    """``_grow_everything`` with something for staff to look at: every event
    dead-lettered, every other payment stuck (processing, untouched for an
    hour), the rest with a refund pending at Stripe (the dashboard lists all
    three, the admin lists them)."""
    payments = _grow_everything(
        booking, count=count, start=start, event_status=WebhookEvent.Status.DEAD
    )
    Payment.objects.filter(pk__in=[p.pk for p in payments[::2]]).update(
        status=Payment.Status.PROCESSING,
        updated_at=timezone.now() - dt.timedelta(hours=1),
    )
    _refunds_pending(payments[1::4])  # [3::4] have theirs already


def _page(client, url: str, status: int = 200):
    """A call that GETs ``url`` and checks the answer's status."""

    def call():
        response = client.get(url)
        assert response.status_code == status, (url, response.status_code)

    return call


def _account_pages(browser) -> dict:
    """The pages every signed-in role has under its account menu."""
    return {
        name: _page(browser, reverse(name))
        for name in (
            "account:notifications",
            "accounts:account",
            "accounts:password_change",
        )
    }


def _booking_pages(browser, booking: Booking) -> dict:
    """A booking's pages its client and its coach both open."""
    return {
        name: _page(browser, reverse(name, args=[booking.pk]))
        for name in (
            "bookings:detail",
            "bookings:calendar",
            "payments:status_fragment",
        )
    }


def _api_reads(api, booking: Booking, *, cards_of=None) -> dict:
    """The GET endpoints every role reads; ``cards_of``: whose saved cards."""
    reads = {
        "GET /api/coaches/": "/api/coaches/",
        "GET /api/bookings/": "/api/bookings/",
        "GET /api/bookings/{id}": f"/api/bookings/{booking.pk}",
        "GET /api/payments/status/{id}": f"/api/payments/status/{booking.pk}",
        "GET /api/auth/user/": "/api/auth/user/",
    }
    if cards_of is not None:
        reads["GET /api/payments/methods/{userId}"] = (
            f"/api/payments/methods/{cards_of.pk}"
        )
    return {name: _page(api, url) for name, url in reads.items()}


def _counts_few_then_many(
    booking: Booking, calls: dict[str, object], grow=_grow_everything
) -> tuple[dict[str, int], dict[str, int]]:
    """Every call's statements with FEW paid bookings, then with MANY."""
    for call in calls.values():
        call()  # warm up: per-process caches (content types, sites) fill here
    grow(booking, count=FEW, start=0)
    few = {name: _count(call) for name, call in calls.items()}
    grow(booking, count=MANY - FEW, start=FEW)
    assert Payment.objects.filter(payer_id=booking.client_id).count() >= MANY
    return few, {name: _count(call) for name, call in calls.items()}


def _assert_flat_and_under(few, many, ceilings) -> None:
    grew = {name: (few[name], many[name]) for name in few if few[name] != many[name]}
    assert grew == {}, f"(few, many) statements of what grew: {grew}"
    over = {name: many[name] for name in many if many[name] > ceilings[name]}
    assert over == {}, f"over the ceiling: {over} (ceilings: {ceilings})"
    assert set(ceilings) == set(many), "a page without a ceiling, or a stale one"


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


PUBLIC_CEILINGS = {
    # The coaches with their offerings (a prefetch), the unread count's guard.
    "home": 2,
    # The coach and their offerings, then the free times of the next 14
    # days in one go: the profile, its weekly hours, the exceptions and the
    # bookings of the span (was 4 per day: 59).
    "bookings:coach_detail": 6,
    "accounts:login": 0,
    "accounts:register": 0,
    "accounts:password_reset": 0,
    # The page's coaches, their count, their offerings (a prefetch).
    "GET /api/coaches/": 3,
}


@pytest.mark.django_db
def test_public_pages_do_not_grow_with_payments(paid, coach):
    visitor = Client()
    calls = {
        "home": _page(visitor, reverse("home")),
        "bookings:coach_detail": _page(
            visitor, reverse("bookings:coach_detail", args=[coach.pk])
        ),
        "accounts:login": _page(visitor, reverse("accounts:login")),
        "accounts:register": _page(visitor, reverse("accounts:register")),
        "accounts:password_reset": _page(visitor, reverse("accounts:password_reset")),
        "GET /api/coaches/": _page(APIClient(), "/api/coaches/"),
    }
    few, many = _counts_few_then_many(paid, calls)
    _assert_flat_and_under(few, many, PUBLIC_CEILINGS)


# A signed-in page starts with the session and the user (2), and its menu
# costs one more: the unread notifications' count.
CLIENT_CEILINGS = {
    "home": 5,
    "bookings:coach_detail": 9,
    # Upcoming and past (at most MAX_LISTED each), each with its payments
    # prefetched.
    "bookings:list": 9,
    "bookings:detail": 6,
    "bookings:checkout": 5,
    "bookings:receipt": 7,
    # The refund the policy gives now, from the payment and its refunds.
    "bookings:cancel": 11,
    "bookings:calendar": 3,
    "payments:status_fragment": 5,
    "account:payment_methods": 4,
    "account:notifications": 5,
    "accounts:account": 3,
    "accounts:password_change": 3,
    # With a bearer token: the token's user, then the view's own reads.
    "GET /api/coaches/": 4,
    "GET /api/bookings/": 3,
    "GET /api/bookings/{id}": 2,
    "GET /api/payments/status/{id}": 2,
    "GET /api/payments/methods/{userId}": 3,
    "GET /api/auth/user/": 1,
}


@pytest.mark.django_db
def test_client_pages_and_endpoints_do_not_grow_with_payments(
    paid, client_user, coach, make_booking
):
    unpaid = make_booking(days=4)
    browser = _signed_in(client_user)
    api = bearer_api(client_user)
    calls = {
        "home": _page(browser, reverse("home")),
        "bookings:coach_detail": _page(
            browser, reverse("bookings:coach_detail", args=[coach.pk])
        ),
        "bookings:list": _page(browser, reverse("bookings:list")),
        **_booking_pages(browser, paid),
        "bookings:checkout": _page(
            browser, reverse("bookings:checkout", args=[unpaid.pk])
        ),
        "bookings:receipt": _page(browser, reverse("bookings:receipt", args=[paid.pk])),
        "bookings:cancel": _page(browser, reverse("bookings:cancel", args=[paid.pk])),
        "account:payment_methods": _page(browser, reverse("account:payment_methods")),
        **_account_pages(browser),
        **_api_reads(api, paid, cards_of=client_user),
    }
    few, many = _counts_few_then_many(paid, calls)
    _assert_flat_and_under(few, many, CLIENT_CEILINGS)


# A coach's pages also ask whether the setup checklist is done (their
# profile, hours, an active offering): 3 more in the menu.
COACH_CEILINGS = {
    "home": 11,
    "coach:bookings": 20,
    "coach:bookings?show=upcoming": 15,
    "coach:bookings?show=holds": 11,
    "coach:bookings?show=past": 15,
    "coach:bookings?show=cancelled": 11,
    # Balances and the per-month, per-offering and recent-payments sums:
    # aggregates, each one query whatever the number of payments.
    "coach:earnings": 18,
    "coach:earnings_csv": 6,
    # The opening balance, one SUM per kind of the month's entries, the
    # charges with their bookings and offerings joined, their split in one
    # GROUP BY, the invoice, the first month.
    "coach:statement": 22,
    "coach:statement_csv": 15,
    "coach:statement_pdf": 15,
    "coach:invoice_pdf": 3,
    "coach:offerings": 8,
    "coach:offering_edit": 8,
    "coach:profile": 7,
    "coach:hours": 9,
    "coach:setup": 9,
    "coach:booking_cancel": 13,
    "bookings:detail": 9,
    "bookings:calendar": 3,
    "payments:status_fragment": 5,
    "account:notifications": 8,
    "accounts:account": 6,
    "accounts:password_change": 6,
    "GET /api/coaches/": 4,
    "GET /api/bookings/": 3,
    "GET /api/bookings/{id}": 2,
    "GET /api/payments/status/{id}": 2,
    "GET /api/auth/user/": 1,
}


@pytest.mark.django_db
def test_coach_pages_and_endpoints_do_not_grow_with_payments(paid, coach, offering):
    today = timezone.localdate()
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    invoice = PlatformFeeInvoice.objects.create(
        number=f"PF-{last_month:%Y}-000001",
        coach=coach,
        month=last_month,
        currency="CHF",
        fee_net=1850,
        vat_amount=150,
        fee_gross=2000,
        vat_rate_bps=810,
        seller_name="Coaching Platform AG",
        seller_address="Bahnhofstrasse 1\n8001 Zürich",
        seller_vat_number="CHE-123.456.789 MWST",
        buyer_name=coach.name or coach.email,
        issued_at=timezone.now(),
    )
    month = {"year": today.year, "month": today.month}
    browser = _signed_in(coach)
    api = bearer_api(coach)
    calls = {
        "home": _page(browser, reverse("home")),
        "coach:bookings": _page(browser, reverse("coach:bookings")),
        **{
            f"coach:bookings?show={show}": _page(
                browser, f"{reverse('coach:bookings')}?show={show}"
            )
            for show in COACH_BOOKING_FILTERS
        },
        "coach:earnings": _page(browser, reverse("coach:earnings")),
        "coach:earnings_csv": _page(browser, reverse("coach:earnings_csv")),
        "coach:statement": _page(browser, reverse("coach:statement", kwargs=month)),
        "coach:statement_csv": _page(
            browser, reverse("coach:statement_csv", kwargs=month)
        ),
        "coach:statement_pdf": _page(
            browser, reverse("coach:statement_pdf", kwargs=month)
        ),
        "coach:invoice_pdf": _page(
            browser, reverse("coach:invoice_pdf", args=[invoice.number])
        ),
        "coach:offerings": _page(browser, reverse("coach:offerings")),
        "coach:offering_edit": _page(
            browser, reverse("coach:offering_edit", args=[offering.pk])
        ),
        "coach:profile": _page(browser, reverse("coach:profile")),
        "coach:hours": _page(browser, reverse("coach:hours")),
        "coach:setup": _page(browser, reverse("coach:setup")),
        "coach:booking_cancel": _page(
            browser, reverse("coach:booking_cancel", args=[paid.pk])
        ),
        **_booking_pages(browser, paid),
        **_account_pages(browser),
        **_api_reads(api, paid),
    }
    few, many = _counts_few_then_many(paid, calls)
    _assert_flat_and_under(few, many, COACH_CEILINGS)


ADMIN_CEILINGS = {
    "home": 5,
    # Today's totals (one GROUP BY), then each list (at most 50, joined) and
    # its count: stuck payments, dead events, retrying events, pending refunds.
    "staff:dashboard": 11,
    # Per coach profile (one here) its balances: by coach, not by payment.
    "staff:payouts": 8,
    "admin:index": 3,
    "account:notifications": 4,
    "accounts:account": 3,
    "accounts:password_change": 3,
    # A changelist: session, user, the page (100 rows, list_select_related),
    # its count and the unfiltered count, and the filters' or the date
    # hierarchy's distinct values.
    "admin:accounts_user_changelist": 5,
    "admin:auth_group_changelist": 5,
    "admin:bookings_booking_changelist": 7,
    "admin:bookings_coachprofile_changelist": 5,
    "admin:bookings_offering_changelist": 6,
    "admin:payments_notification_changelist": 7,
    "admin:payments_payment_changelist": 8,
    "admin:payments_refund_changelist": 8,
    "admin:payments_savedpaymentmethod_changelist": 6,
    "admin:payments_stripecustomer_changelist": 5,
    "admin:payments_webhookevent_changelist": 8,
    "admin:token_blacklist_blacklistedtoken_changelist": 5,
    "admin:token_blacklist_outstandingtoken_changelist": 5,
    # The payment with its ledger, refunds, transitions and audit trail.
    "admin:payments_payment_change": 20,
    "admin:bookings_booking_change": 9,
    "admin:payments_webhookevent_change": 3,
    "admin:accounts_user_change": 7,
    "GET /api/coaches/": 4,
    "GET /api/bookings/": 3,
    "GET /api/bookings/{id}": 2,
    "GET /api/payments/status/{id}": 2,
    "GET /api/payments/methods/{userId}": 3,
    "GET /api/auth/user/": 1,
    # Session and user, then the scrape's aggregates: payments and events by
    # status, failed payments, stuck ones, the oldest unapplied event, the
    # recent events' lag (at most 5,000 rows, one query), reconcile fixes.
    "metrics": 9,
}


@pytest.mark.django_db
def test_staff_pages_admin_and_endpoints_do_not_grow_with_payments(
    paid, admin_user, client_user
):
    payment = Payment.objects.get(booking=paid)
    event = WebhookEvent.objects.create(
        stripe_event_id="evt_paid",
        type="payment_intent.succeeded",
        payload=_event(
            "payment_intent.succeeded", {"id": payment.stripe_payment_intent_id}
        ),
        status=WebhookEvent.Status.PROCESSED,
    )
    browser = _signed_in(admin_user)
    api = bearer_api(admin_user)
    calls = {
        "home": _page(browser, reverse("home")),
        "staff:dashboard": _page(browser, reverse("staff:dashboard")),
        "staff:payouts": _page(browser, reverse("staff:payouts")),
        "admin:index": _page(browser, reverse("admin:index")),
        **_account_pages(browser),
        # Every model of the admin, listed (100 a page).
        **{
            f"admin:{name}_changelist": _page(
                browser, reverse(f"admin:{name}_changelist")
            )
            for name in sorted(
                f"{model._meta.app_label}_{model._meta.model_name}"
                for model in django_admin.site._registry
            )
        },
        "admin:payments_payment_change": _page(
            browser, reverse("admin:payments_payment_change", args=[payment.pk])
        ),
        "admin:bookings_booking_change": _page(
            browser, reverse("admin:bookings_booking_change", args=[paid.pk])
        ),
        "admin:payments_webhookevent_change": _page(
            browser, reverse("admin:payments_webhookevent_change", args=[event.pk])
        ),
        "admin:accounts_user_change": _page(
            browser, reverse("admin:accounts_user_change", args=[client_user.pk])
        ),
        **_api_reads(api, paid, cards_of=client_user),
        # Prometheus' scrape, which staff may open too.
        "metrics": _page(browser, reverse("metrics")),
    }
    few, many = _counts_few_then_many(paid, calls, grow=_grow_trouble)
    _assert_flat_and_under(few, many, ADMIN_CEILINGS)


def test_every_page_of_the_crawl_is_counted_for_its_role():
    """A page added to a role in test_crawl's PAGES needs its count here too."""
    crawl = pytest.importorskip("tests.browser.test_crawl")
    counted = {
        "visitor": PUBLIC_CEILINGS,
        "client": CLIENT_CEILINGS,
        "coach": COACH_CEILINGS,
        "admin": ADMIN_CEILINGS,
    }
    missing = {
        role: sorted(set(pages) - set(counted[role]))
        for role, pages in crawl.PAGES.items()
    }
    assert missing == {role: [] for role in crawl.PAGES}


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
