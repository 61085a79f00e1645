"""``manage.py seed_demo_history``: months of past money for the demo coach.

Run by ``seed_demo`` after the accounts exist. Three full months back from
the current one (on the coach's clock), Anna Keller held sessions that were
paid, completed and matured; one was partly refunded before it matured, and
staff paid her out once. One more session ended three hours ago, so a
pending balance and the next maturity show too. Everything goes through the
services (``payments.services.offline``: the live flow minus Stripe) and is
dated when it happened; the months' platform-fee invoices are issued.

Idempotent: once the coach has history, nothing is written again.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from bookings.models import Offering
from payments.models import Notification, PaymentTransition
from payments.services import invoices, offline, statements

COACH = "coach@example.com"
CLIENTS = ("client@example.com", "client2@example.com")
DEEP, QUICK = "Deep-dive session", "Quick check-in"


@dataclass(frozen=True)
class Session:
    months_back: int
    day: int
    hour: int
    offering: str
    refund: int = 0  # refunded the day after the session, before maturity


SESSIONS = (
    Session(3, 5, 10, DEEP),
    Session(3, 12, 10, QUICK),
    Session(3, 19, 14, DEEP),
    Session(2, 3, 9, DEEP),
    Session(2, 10, 11, DEEP, refund=4000),
    Session(2, 17, 10, QUICK),
    Session(1, 7, 10, DEEP),
    Session(1, 14, 15, QUICK),
)
# Paid out on this day of the month two months back.
PAYOUT = (2, 20, 20000, "DEMO-PAYOUT-0001")
CAUSE = "offline_history"


def month_back(today: dt.date, months: int) -> dt.date:
    index = today.year * 12 + today.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


class Command(BaseCommand):
    help = "Give the demo coach months of past sessions, a refund and a payout."

    def handle(self, *args: Any, **options: Any) -> None:
        coach = User.objects.filter(email=COACH).first()
        if coach is None:
            self.stdout.write("No demo coach: run seed_demo first.")
            return
        if PaymentTransition.objects.filter(
            payment__recipient=coach, cause=CAUSE
        ).exists():
            self.stdout.write("Demo history already there.")
            return
        with transaction.atomic():
            written = self._history(coach)
        # The services announced each past payment as it was recorded; a
        # "payment received" notice dated today for a session months ago is
        # noise in the demo's inbox.
        Notification.objects.filter(
            booking__payments__transitions__cause=CAUSE
        ).delete()
        self.stdout.write(self.style.SUCCESS(f"Demo history: {written} sessions."))

    def _history(self, coach: User) -> int:
        zone = ZoneInfo(coach.coach_profile.time_zone)
        today = timezone.now().astimezone(zone).date()
        offerings = {o.title: o for o in Offering.objects.filter(coach=coach)}
        clients = [User.objects.get(email=email) for email in CLIENTS]
        hold = dt.timedelta(hours=48)
        events: list[tuple[dt.datetime, int, Any]] = []
        for index, session in enumerate(SESSIONS):
            month = month_back(today, session.months_back)
            starts = dt.datetime.combine(
                month.replace(day=session.day), dt.time(session.hour), tzinfo=zone
            )
            events.append((starts - dt.timedelta(days=2), 0, ("pay", index, starts)))
        payout_month = month_back(today, PAYOUT[0])
        payout_at = dt.datetime.combine(
            payout_month.replace(day=PAYOUT[1]), dt.time(12), tzinfo=zone
        )
        events.append((payout_at, 5, ("payout",)))
        # One session just held: pending, maturing in 45 hours.
        recent = timezone.now().replace(minute=0, second=0, microsecond=0)
        recent -= dt.timedelta(hours=4)
        events.append((recent - dt.timedelta(days=2), 0, ("pay", -1, recent)))

        payments: dict[int, Any] = {}
        queue = sorted(events, key=lambda e: (e[0], e[1]))
        while queue:
            at, _order, event = queue.pop(0)
            if event[0] == "pay":
                _, index, starts = event
                session = SESSIONS[index] if index >= 0 else Session(0, 1, 0, QUICK)
                payment = offline.booking_paid_offline(
                    client=clients[max(index, 0) % len(clients)],
                    offering=offerings[session.offering],
                    starts_at=starts,
                    paid_at=at,
                )
                payments[index] = payment
                ends = payment.booking.ends_at
                follow = [(ends, 1, ("complete", index))]
                if session.refund:
                    follow.append((ends + dt.timedelta(days=1), 2, ("refund", index)))
                if index >= 0:
                    follow.append((ends + hold, 3, ("mature", index)))
                queue = sorted(queue + follow, key=lambda e: (e[0], e[1]))
            elif event[0] == "complete":
                offline.booking_complete_offline(payment=payments[event[1]], at=at)
            elif event[0] == "refund":
                offline.refund_offline(
                    payment=payments[event[1]],
                    amount=SESSIONS[event[1]].refund,
                    at=at,
                )
            elif event[0] == "mature":
                offline.earning_mature_offline(payment=payments[event[1]], at=at)
            elif event[0] == "payout":
                offline.payout_offline(
                    coach=coach,
                    amount=PAYOUT[2],
                    currency="CHF",
                    reference=PAYOUT[3],
                    at=at,
                )
        for months in (3, 2, 1):
            invoices.invoice_issue(
                coach=coach,
                month=statements.month_start(month_back(today, months)),
                currency="CHF",
            )
        return len(payments)
