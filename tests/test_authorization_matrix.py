"""Who may do what: every URL and the WebSocket, for every role, in one table.

The routes come from the URL configuration (``get_resolver()``, walked
recursively) and from ``coaching.routing``; ``TABLE`` below must have a row
for each of them, so a new URL without a decision about who may use it fails
``test_every_route_has_a_row``. Django admin's ~90 generated URLs are covered
by one row of representative pages (``ADMIN_PAGES``): they all sit behind
``admin.site``'s single staff check.

Each row is one route and a method it accepts (an API view's methods must all
have rows; a page's other methods answer 405). Its columns are the six roles, each with two
statuses: on an object of the role's own side and on someone else's.

    anonymous | payer | other client | the booking's coach | other coach | admin

There are two sides, each a paid booking made at the Stripe emulator with its
payment, the payer's saved card, notifications and the coach's offering:
side A (payer, coach) and side B (other client, other coach). "Own" is side A
for the payer, the coach, admin and anonymous and side B for the other client
and the other coach; "someone else's" is the other side. For a route without
an object both columns are the same request.

Every cell runs in a savepoint that is rolled back, so one cell's change (a
cancellation, a default card) is not the next one's starting point. Rows that
change state at Stripe too (refunds, cancellations, card removal) get a fresh
paid booking and card for each cell (``FRESH``).
"""

import datetime as dt
import itertools
import json
import re
import zoneinfo
from dataclasses import dataclass

import pytest
import stripe
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from bookings import services as booking_services
from bookings.models import AvailabilityException
from coaching.routing import websocket_application, websocket_urlpatterns
from payments import services as payment_services
from payments.models import Notification, PlatformFeeInvoice
from tests import factories
from tests.payments.conftest import VISA

ROLES = ("anonymous", "payer", "other_client", "coach", "other_coach", "admin")
OWN_SIDE = {
    "anonymous": "A",
    "payer": "A",
    "other_client": "B",
    "coach": "A",
    "other_coach": "B",
    "admin": "A",
}

# fmt: off
# (route name, method): "anonymous | payer | other client | coach | other coach | admin",
# each column "<own object> <someone else's>". 302 = sent to the login page.
TABLE: dict[tuple[str, str], str] = {
    # Pages. Anonymous callers of private pages are sent to log in (302).
    ("accounts:login", "GET"): "200 200 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("accounts:login", "POST"): "200 200 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    # "302!": a redirect elsewhere than the login page (logout sends everyone home).
    ("accounts:logout", "POST"): "302! 302! | 302 302 | 302 302 | 302 302 | 302 302 | 302 302",
    ("accounts:register", "GET"): "200 200 | 302 302 | 302 302 | 302 302 | 302 302 | 302 302",
    ("accounts:register", "POST"): "200 200 | 302 302 | 302 302 | 302 302 | 302 302 | 302 302",
    ("home", "GET"): "200 200 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("home", "POST"): "200 200 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    # A booking is its payer's, its coach's and staff's; anyone else gets 404.
    ("bookings:detail", "GET"): "302 302 | 200 404 | 200 404 | 200 404 | 200 404 | 200 200",
    ("bookings:detail", "POST"): "302 302 | 200 404 | 200 404 | 200 404 | 200 404 | 200 200",
    ("bookings:coach_detail", "GET"): "200 200 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("bookings:coach_book", "POST"): "302 302 | 400 400 | 400 400 | 400 400 | 400 400 | 400 400",
    ("bookings:list", "GET"): "302 302 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    # Checkout is the payer's only; a paid booking redirects to its receipt.
    ("bookings:checkout", "GET"): "302 302 | 302 404 | 302 404 | 404 404 | 404 404 | 404 404",
    ("bookings:checkout", "POST"): "302 302 | 302 404 | 302 404 | 404 404 | 404 404 | 404 404",
    ("bookings:receipt", "GET"): "302 302 | 200 404 | 200 404 | 200 404 | 200 404 | 200 200",
    # A coach opening the client's cancel page is sent to their own (302).
    ("bookings:cancel", "GET"): "302 302 | 200 404 | 200 404 | 302 404 | 302 404 | 200 200",
    ("bookings:cancel", "POST"): "302 302 | 302 404 | 302 404 | 302 404 | 302 404 | 302 302",
    # Cards and notifications: the user's own only (404 for anyone else's).
    ("account:payment_methods", "GET"): "302 302 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("account:payment_method_default", "POST"): "302 302 | 302 404 | 302 404 | 404 404 | 404 404 | 404 404",
    ("account:payment_method_delete", "POST"): "302 302 | 302 404 | 302 404 | 404 404 | 404 404 | 404 404",
    ("account:notifications", "GET"): "302 302 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("account:notifications_read_all", "POST"): "302 302 | 302 302 | 302 302 | 302 302 | 302 302 | 302 302",
    ("account:notification_read", "POST"): "302 302 | 302 404 | 302 404 | 302 404 | 302 404 | 404 404",
    # Coach pages: coaches only (403), each coach's own offerings (404).
    ("coach:bookings", "GET"): "302 302 | 403 403 | 403 403 | 200 200 | 200 200 | 403 403",
    ("coach:offerings", "GET"): "302 302 | 403 403 | 403 403 | 200 200 | 200 200 | 403 403",
    ("coach:offerings", "POST"): "302 302 | 403 403 | 403 403 | 200 200 | 200 200 | 403 403",
    ("coach:offering_edit", "GET"): "302 302 | 403 403 | 403 403 | 200 404 | 200 404 | 403 403",
    ("coach:offering_edit", "POST"): "302 302 | 403 403 | 403 403 | 200 404 | 200 404 | 403 403",
    ("coach:offering_deactivate", "POST"): "302 302 | 403 403 | 403 403 | 302 404 | 302 404 | 403 403",
    ("coach:earnings", "GET"): "302 302 | 403 403 | 403 403 | 200 200 | 200 200 | 403 403",
    ("coach:earnings_csv", "GET"): "302 302 | 403 403 | 403 403 | 200 200 | 200 200 | 403 403",
    # Staff only.
    ("staff:dashboard", "GET"): "302 302 | 403 403 | 403 403 | 403 403 | 403 403 | 200 200",
    ("payments:status_fragment", "GET"): "302 302 | 200 404 | 200 404 | 200 404 | 200 404 | 200 200",
    # The API: 401 without a login, 404 for an object not yours (never 403:
    # a 403 would confirm that it exists).
    ("auth_api:login", "POST"): "400 400 | 400 400 | 400 400 | 400 400 | 400 400 | 400 400",
    ("auth_api:logout", "POST"): "200 200 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("auth_api:user", "GET"): "401 401 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("auth_api:user", "PATCH"): "401 401 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("auth_api:token_refresh", "POST"): "401 401 | 401 401 | 401 401 | 401 401 | 401 401 | 401 401",
    ("auth_api:register", "POST"): "400 400 | 400 400 | 400 400 | 400 400 | 400 400 | 400 400",
    # Stripe's: a signature, not a login, decides (unsigned: 400).
    ("payments_api:webhook", "POST"): "400 400 | 400 400 | 400 400 | 400 400 | 400 400 | 400 400",
    # Paying is the payer's only; this booking is paid already (409).
    ("payments_api:create-intent", "POST"): "401 401 | 409 404 | 409 404 | 404 404 | 404 404 | 404 404",
    ("payments_api:confirm", "POST"): "401 401 | 200 404 | 200 404 | 404 404 | 404 404 | 404 404",
    ("payments_api:status", "GET"): "401 401 | 200 404 | 200 404 | 200 404 | 200 404 | 200 200",
    ("payments_api:refund", "POST"): "401 401 | 200 404 | 200 404 | 200 404 | 200 404 | 200 200",
    ("payments_api:setup-intent", "POST"): "401 401 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    # Own: a new card; someone else's: their saved card, which is refused.
    ("payments_api:methods", "POST"): "401 401 | 201 400 | 201 400 | 201 400 | 201 400 | 201 400",
    ("payments_api:methods-default", "POST"): "401 401 | 200 404 | 200 404 | 404 404 | 404 404 | 404 404",
    ("payments_api:method", "DELETE"): "401 401 | 200 404 | 200 404 | 404 404 | 404 404 | 404 404",
    ("payments_api:method", "GET"): "401 401 | 200 404 | 200 404 | 200 404 | 200 404 | 200 200",
    ("bookings_api:coach-list", "GET"): "200 200 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("bookings_api:booking-list", "GET"): "401 401 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    # Only clients book (403 for coaches and staff); "own" is the offering's side.
    ("bookings_api:booking-list", "POST"): "401 401 | 201 201 | 201 201 | 403 403 | 403 403 | 403 403",
    ("bookings_api:booking-detail", "GET"): "401 401 | 200 404 | 200 404 | 200 404 | 200 404 | 200 200",
    ("bookings_api:booking-cancel", "POST"): "401 401 | 200 404 | 200 404 | 200 404 | 200 404 | 200 200",
    # Public: the API's documentation and the health check.
    ("schema", "GET"): "200 200 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("docs", "GET"): "200 200 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("healthz", "GET"): "200 200 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("healthz", "POST"): "200 200 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    # Account pages: one's own account only (no object in the URL).
    ("accounts:account", "GET"): "302 302 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("accounts:account", "POST"): "302 302 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("accounts:password_change", "GET"): "302 302 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("accounts:password_change", "POST"): "302 302 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    # Password reset and sign-up links: public; an invalid link is refused (400).
    ("accounts:password_reset", "GET"): "200 200 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("accounts:password_reset", "POST"): "200 200 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("accounts:password_reset_done", "GET"): "200 200 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("accounts:password_reset_confirm", "GET"): "200 200 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("accounts:password_reset_complete", "GET"): "200 200 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("accounts:register_done", "GET"): "200 200 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("accounts:register_confirm", "GET"): "400 400 | 400 400 | 400 400 | 400 400 | 400 400 | 400 400",
    ("accounts:register_confirm", "POST"): "400 400 | 400 400 | 400 400 | 400 400 | 400 400 | 400 400",
    # The .ics: the payer's and the coach's (staff read the booking page).
    ("bookings:calendar", "GET"): "302 302 | 200 404 | 200 404 | 200 404 | 200 404 | 404 404",
    # Statements are the coach's own (no one else's in the URL); invoices by number.
    ("coach:statement", "GET"): "302 302 | 403 403 | 403 403 | 200 200 | 200 200 | 403 403",
    ("coach:statement_csv", "GET"): "302 302 | 403 403 | 403 403 | 200 200 | 200 200 | 403 403",
    ("coach:statement_pdf", "GET"): "302 302 | 403 403 | 403 403 | 200 200 | 200 200 | 403 403",
    ("coach:invoice_pdf", "GET"): "302 302 | 403 403 | 403 403 | 200 404 | 200 404 | 403 403",
    # Payouts: staff only.
    ("staff:payouts", "GET"): "302 302 | 403 403 | 403 403 | 403 403 | 403 403 | 200 200",
    ("staff:payouts", "POST"): "302 302 | 403 403 | 403 403 | 403 403 | 403 403 | 400 400",
    # Public: the favicon, readiness; metrics for staff or the METRICS_TOKEN.
    ("favicon", "GET"): "301 301 | 301 301 | 301 301 | 301 301 | 301 301 | 301 301",
    ("readyz", "GET"): "200 200 | 200 200 | 200 200 | 200 200 | 200 200 | 200 200",
    ("metrics", "GET"): "401 401 | 401 401 | 401 401 | 401 401 | 401 401 | 200 200",
    # make bench's baseline views: 404 for everyone unless BENCH_BASELINES is on.
    ("bench_auth", "GET"): "401 401 | 404 404 | 404 404 | 404 404 | 404 404 | 404 404",
    ("bench_webhook", "POST"): "404 404 | 404 404 | 404 404 | 404 404 | 404 404 | 404 404",
    # The coach's practice: own profile, hours and dated exceptions (404 for another
    # coach's exception); a coach cancels their own bookings (a reason is required).
    ("coach:profile", "GET"): "302 302 | 403 403 | 403 403 | 200 200 | 200 200 | 403 403",
    ("coach:profile", "POST"): "302 302 | 403 403 | 403 403 | 200 200 | 200 200 | 403 403",
    ("coach:hours", "GET"): "302 302 | 403 403 | 403 403 | 200 200 | 200 200 | 403 403",
    ("coach:hours", "POST"): "302 302 | 403 403 | 403 403 | 302 302 | 302 302 | 403 403",
    ("coach:exception_add", "POST"): "302 302 | 403 403 | 403 403 | 400 400 | 400 400 | 403 403",
    ("coach:exception_delete", "POST"): "302 302 | 403 403 | 403 403 | 302 404 | 302 404 | 403 403",
    ("coach:setup", "GET"): "302 302 | 403 403 | 403 403 | 200 200 | 200 200 | 403 403",
    ("coach:booking_cancel", "GET"): "302 302 | 403 403 | 403 403 | 200 404 | 200 404 | 403 403",
    ("coach:booking_cancel", "POST"): "302 302 | 403 403 | 403 403 | 400 404 | 400 404 | 403 403",
}
# fmt: on

# Rows whose success changes Stripe's state: a fresh paid booking per cell.
FRESH = {
    ("bookings:cancel", "POST"),
    ("bookings_api:booking-cancel", "POST"),
    ("payments_api:refund", "POST"),
    ("payments_api:method", "DELETE"),
    ("account:payment_method_delete", "POST"),
}

ADMIN_PAGES = (
    "/admin/",
    "/admin/payments/payment/",
    "/admin/payments/webhookevent/",
    "/admin/bookings/booking/{booking}/change/",
    "/admin/accounts/user/",
)
# Everyone but staff is sent to the admin's login page; staff gets the page.
ADMIN_EXPECTED = {role: 302 for role in ROLES} | {"admin": 200}

WEBSOCKET_ROWS = {
    # route: "anonymous | payer | other client | coach | other coach | admin",
    # "closed" = handshake refused (4401), "status" = snapshot of the booking,
    # "forbidden" = {"type": "error", "code": "forbidden"}.
    "ws/payments/": (
        "closed closed | status forbidden | status forbidden "
        "| status forbidden | status forbidden | status status"
    ),
}


def _columns(line: str) -> dict[str, tuple[str, str]]:
    cells = [cell.split() for cell in line.split("|")]
    assert len(cells) == len(ROLES) and all(len(c) == 2 for c in cells), line
    return {role: (own, other) for role, (own, other) in zip(ROLES, cells, strict=True)}


# --- routes from the URL configuration --------------------------------------------------


def _walk(patterns, prefix="", namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = namespace
            if pattern.namespace:
                ns = f"{namespace}{pattern.namespace}:"
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            yield (
                prefix + str(pattern.pattern),
                namespace + (pattern.name or ""),
                pattern,
            )


def _routes() -> dict[str, URLPattern]:
    """Every named route but Django admin's, by its reversible name."""
    routes = {}
    for route, name, pattern in _walk(get_resolver().url_patterns):
        if name.startswith("admin:"):
            continue
        assert pattern.name, f"{route} has no name: the table keys routes by name"
        routes[name] = pattern
    return routes


def _api_methods(pattern: URLPattern) -> set[str] | None:
    """The methods a DRF view answers (None for function views)."""
    view_class = getattr(pattern.callback, "cls", None)
    if view_class is None:
        return None
    view = view_class()
    return {m for m in view._allowed_methods() if m not in ("OPTIONS", "HEAD")}


def test_every_route_has_a_row():
    routes = _routes()
    assert set(routes) == {name for name, _method in TABLE}, (
        "Every URL needs its row in TABLE (and no row may outlive its URL)"
    )
    for name, pattern in routes.items():
        methods = _api_methods(pattern)
        if methods is not None and name != "schema":
            assert methods == {m for n, m in TABLE if n == name}, name
    assert {
        str(p.pattern).strip("^$").replace("/?", "/") for p in websocket_urlpatterns
    } == set(WEBSOCKET_ROWS)


# --- the world -------------------------------------------------------------------------


@dataclass
class Side:
    payer: object
    coach: object
    offering: object
    booking: object
    payment: object
    card: str
    payer_notification: object
    coach_notification: object
    invoice: object
    day_off: object


class World:
    def __init__(self, stripe_client):
        self.stripe = stripe_client
        self.days = itertools.count(3)
        self.renewals = itertools.count()
        self.users = {
            "payer": factories.ClientFactory(email="payer@example.com"),
            "other_client": factories.ClientFactory(email="other-client@example.com"),
            "coach": factories.CoachFactory(email="coach@example.com"),
            "other_coach": factories.CoachFactory(email="other-coach@example.com"),
            "admin": factories.AdminFactory(email="admin@example.com"),
        }
        self.offerings = {
            "A": factories.OfferingFactory(coach=self.users["coach"]),
            "B": factories.OfferingFactory(coach=self.users["other_coach"]),
        }
        self.sides = {"A": self.side("A"), "B": self.side("B")}
        self.sessions: dict[str, str] = {}

    def new_card(self) -> str:
        renewal = next(self.renewals)
        return self.stripe.v1.payment_methods.create(
            params={
                "type": "card",
                "card": {
                    "number": VISA,
                    # Each card expires a month later than the last: the wallet
                    # saves one card per fingerprint and takes a renewed one
                    # in place, so every fresh card is the saved one.
                    "exp_month": 1 + renewal % 12,
                    "exp_year": 2034 + renewal // 12,
                    "cvc": "123",
                },
            }
        ).id

    def side(self, which: str) -> Side:
        """A paid booking of this side's payer with its coach, made now."""
        payer = self.users["payer" if which == "A" else "other_client"]
        coach = self.users["coach" if which == "A" else "other_coach"]
        offering = self.offerings[which]
        zurich = zoneinfo.ZoneInfo("Europe/Zurich")
        day = timezone.now().astimezone(zurich).date() + dt.timedelta(
            days=next(self.days)
        )
        booking = booking_services.booking_create(
            client=payer,
            offering=offering,
            starts_at=dt.datetime.combine(day, dt.time(10), tzinfo=zurich),
            actor=payer,
        )
        payment, _ = payment_services.payment_create_intent(
            booking=booking, actor=payer
        )
        card = self.new_card()
        payment_services.payment_method_attach(
            user=payer, payment_method_id=card, make_default=True, actor=payer
        )
        payment, _ = payment_services.payment_confirm(
            payment=payment, payment_method_id=card, actor=payer
        )
        notifications = [
            Notification.objects.create(
                recipient=user,
                kind=Notification.Kind.PAYMENT_SUCCEEDED,
                booking=booking,
                dedupe_key=f"matrix:{booking.pk}:{user.pk}",
                title="Payment received",
                body="",
            )
            for user in (payer, coach)
        ]
        booking.refresh_from_db()
        return Side(
            payer,
            coach,
            offering,
            booking,
            payment,
            card,
            *notifications,
            self.invoice(coach),
            AvailabilityException.objects.get_or_create(
                coach=coach.coach_profile,
                date=day + dt.timedelta(days=30),
                kind=AvailabilityException.Kind.DAY_OFF,
            )[0],
        )

    def invoice(self, coach) -> PlatformFeeInvoice:
        """The coach's platform-fee invoice of last month (one per coach)."""
        month = (timezone.now().date().replace(day=1) - dt.timedelta(days=1)).replace(
            day=1
        )
        existing = PlatformFeeInvoice.objects.filter(coach=coach, month=month).first()
        return existing or PlatformFeeInvoice.objects.create(
            number=f"PF-TEST-{PlatformFeeInvoice.objects.count() + 1:05d}",
            coach=coach,
            month=month,
            currency="CHF",
            fee_net=1387,
            vat_amount=113,
            fee_gross=1500,
            vat_rate_bps=810,
            seller_name="Coaching AG",
            seller_address="Zurich",
            seller_vat_number="CHE-000.000.000 MWST",
            buyer_name=coach.name or coach.email,
            issued_at=timezone.now(),
        )


@pytest.fixture
def world(db, localstripe_url):
    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": localstripe_url}
    )
    return World(client)


def _target(world: World, role: str, whose: str, *, fresh: bool) -> tuple[Side, object]:
    """The side a cell works on, and the user whose id stands for "a user"."""
    own = OWN_SIDE[role]
    which = own if whose == "own" else ("B" if own == "A" else "A")
    side = world.side(which) if fresh else world.sides[which]
    me = world.users.get(role)
    user = me if (whose == "own" and me is not None) else side.payer
    return side, user


def _notification(side: Side, role: str):
    return (
        side.coach_notification if role.endswith("coach") else side.payer_notification
    )


def _request(world: World, name: str, method: str, role: str, side: Side, user):
    """The URL and body of one cell: the route's object taken from ``side``."""
    kwargs = {
        "booking_id": side.booking.pk,
        "coach_id": side.coach.pk,
        "offering_id": side.offering.pk,
        "method_id": side.card,
        "notification_id": _notification(side, role).pk,
        "item_id": user.pk if method == "GET" else side.card,
        "year": side.invoice.month.year,
        "month": side.invoice.month.month,
        "number": side.invoice.number,
        "exception_id": side.day_off.pk,
        # A sign-up or reset link that is not valid: the page says so.
        "uidb64": "MQ",
        "token": "not-a-token",
    }
    pattern = _routes()[name]
    wanted = set(re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", str(pattern.pattern)))
    names = {a or b for a, b in wanted}
    url = reverse(name, kwargs={k: kwargs[k] for k in names})
    starts = side.booking.starts_at + dt.timedelta(hours=2)
    bodies = {
        "bookings:coach_book": {
            "offering": str(side.offering.pk),
            "starts_at": starts.isoformat(),
        },
        "payments_api:create-intent": {"bookingId": str(side.booking.pk)},
        "payments_api:confirm": {
            "paymentIntentId": side.payment.stripe_payment_intent_id,
            "paymentMethodId": side.card,
        },
        "payments_api:refund": {
            "paymentIntentId": side.payment.stripe_payment_intent_id,
            "reason": "requested_by_customer",
        },
        "payments_api:methods": {
            "paymentMethodId": world.new_card() if user is not side.payer else side.card
        },
        "payments_api:methods-default": {"paymentMethodId": side.card},
        "bookings_api:booking-list": {
            "offeringId": str(side.offering.pk),
            "startsAt": starts.isoformat(),
        },
        "auth_api:user": {"name": "Renamed"},
    }
    return url, bodies.get(name, {})


def _client_for(world: World, role: str) -> Client:
    """A client logged in as ``role``: one session per role, made once.

    Each cell gets a new client carrying that session's cookie: a cell that
    logs out ends the session only inside its rolled-back savepoint.
    """
    client = Client()
    if role == "anonymous":
        return client
    if role not in world.sessions:
        login = Client()
        login.force_login(world.users[role])
        world.sessions[role] = login.cookies[settings.SESSION_COOKIE_NAME].value
    client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[role]
    return client


def _call(client: Client, method: str, url: str, body: dict, *, api: bool):
    if method == "GET":
        return client.get(url)
    if api:
        return client.generic(
            method, url, json.dumps(body), content_type="application/json"
        )
    return client.generic(
        method,
        url,
        "&".join(f"{k}={v}" for k, v in body.items()),
        content_type="application/x-www-form-urlencoded",
    )


def _cell_savepoint() -> transaction.Atomic:
    """The savepoint a cell runs in, rolled back after it.

    It is test isolation, like the block Django's TestCase opens around each
    test, and marked the same way: the gateway refuses Stripe calls inside
    transactions our code opens, and this one is not the product's.
    """
    block = transaction.atomic()
    block._from_testcase = True
    return block


def _observe(world: World, name: str, method: str, expected: dict) -> dict:
    observed = {}
    for role in ROLES:
        for whose in ("own", "other"):
            cache.clear()  # throttles count per test, not per cell
            # Only a cell that is expected to succeed can change Stripe's state.
            fresh = (name, method) in FRESH and not expected[role][
                whose == "other"
            ].startswith("4")
            with _cell_savepoint():
                side, user = _target(world, role, whose, fresh=fresh)
                url, body = _request(world, name, method, role, side, user)
                response = _call(
                    _client_for(world, role),
                    method,
                    url,
                    body,
                    api=url.startswith("/api/"),
                )
                transaction.set_rollback(True)
            status = str(response.status_code)
            # Anonymous callers must be sent to log in, nowhere else.
            if (
                role == "anonymous"
                and response.status_code == 302
                and not response["Location"].startswith(reverse("accounts:login"))
            ):
                status += "!"
            observed[(role, whose)] = status
    return observed


def _line(observed: dict) -> str:
    return " | ".join(f"{observed[(r, 'own')]} {observed[(r, 'other')]}" for r in ROLES)


def test_http_matrix(world):
    for role in ROLES:
        _client_for(world, role)  # the sessions, outside the cells' savepoints
    wrong = []
    for (name, method), line in TABLE.items():
        expected = _columns(line)
        observed = _observe(world, name, method, expected)
        if _line(observed) != " | ".join(f"{a} {b}" for a, b in expected.values()):
            wrong.append(
                f"{name} {method}\n  expected {line}\n  observed {_line(observed)}"
            )
    assert not wrong, "\n".join(wrong)


def test_admin_is_staff_only(world):
    for role in ROLES:
        client = _client_for(world, role)
        for page in ADMIN_PAGES:
            url = page.format(booking=world.sides["A"].booking.pk)
            response = client.get(url)
            assert response.status_code == ADMIN_EXPECTED[role], (role, url)
            if role != "admin":
                assert response["Location"].startswith("/admin/login/"), (role, url)


# --- the WebSocket ---------------------------------------------------------------------


async def _subscribe(role: str, user, booking_id: str) -> str:
    headers = [(b"origin", b"http://testserver")]
    if user is not None:
        token = AccessToken.for_user(user)
        headers.append((b"authorization", f"Bearer {token}".encode()))
    socket = WebsocketCommunicator(
        websocket_application, "/ws/payments/", headers=headers
    )
    connected, _code = await socket.connect()
    if not connected:
        return "closed"
    try:
        await socket.send_json_to({"type": "subscribe", "bookingId": booking_id})
        message = await socket.receive_json_from(timeout=5)
    finally:
        await socket.disconnect()
    if message.get("type") == "payment.status":
        assert message["bookingId"] == booking_id
        return "status"
    assert message.get("type") == "error", message
    return message["code"]


@pytest.mark.django_db(transaction=True)
def test_websocket_matrix(localstripe_url):
    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": localstripe_url}
    )
    world = World(client)
    for route, line in WEBSOCKET_ROWS.items():
        observed = {}
        for role in ROLES:
            for whose in ("own", "other"):
                side, _user = _target(world, role, whose, fresh=False)
                observed[(role, whose)] = async_to_sync(_subscribe)(
                    role, world.users.get(role), str(side.booking.pk)
                )
        expected = " | ".join(
            f"{own} {other}" for own, other in _columns(line).values()
        )
        assert _line(observed) == expected, route
