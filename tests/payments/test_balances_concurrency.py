"""Payouts and maturation at the same time, on PostgreSQL (real row locks)."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from payments.exceptions import PayoutExceedsAvailable
from payments.models import LedgerEntry, Payout, PlatformFeeInvoice
from payments.services import balances, invoices, payouts, statements
from tests.payments.test_balances import complete, later, make_coach, pay

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def concurrently(count: int, call) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call(index)
        except BaseException as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return results


def test_concurrent_payouts_never_exceed_available(admin_user):
    coach, offering = make_coach()
    payment = pay(offering)
    complete(payment)
    balances.earnings_mature_due(now=later())
    # 8500 available; six payouts of 3000 at once: two fit.
    results = concurrently(
        6,
        lambda i: payouts.payout_record(
            coach=coach,
            amount=3000,
            currency="CHF",
            bank_reference=f"ref-{i}",
            paid_on=dt.date.today(),
            actor=admin_user,
        ),
    )
    made = [r for r in results if isinstance(r, Payout)]
    refused = [r for r in results if isinstance(r, PayoutExceedsAvailable)]
    assert (len(made), len(refused)) == (2, 4), results
    got = balances.coach_balances(coach=coach, currency="CHF")
    assert (got.available, got.paid_out) == (2500, 6000)


def test_concurrent_maturation_books_each_payment_once():
    coach, offering = make_coach()
    made = [pay(offering) for _ in range(3)]
    for payment in made:
        complete(payment)
    now = later()
    results = concurrently(4, lambda i: balances.earnings_mature_due(now=now))
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(results) == 3
    assert (
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EARNING_MATURED).count() == 3
    )
    got = balances.coach_balances(coach=coach, currency="CHF")
    assert (got.pending, got.available) == (0, 3 * 8500)
    assert timezone.now() < now


def test_concurrent_invoices_are_numbered_without_gaps_or_repeats():
    last_month = statements.month_start(
        statements.month_start(timezone.now().date()) - dt.timedelta(days=1)
    )
    paid_at = timezone.make_aware(
        dt.datetime.combine(last_month + dt.timedelta(days=10), dt.time(12))
    )
    coaches = []
    for _ in range(5):
        coach, offering = make_coach()
        payment = pay(offering, days_ago=40)
        LedgerEntry.objects.filter(payment=payment).update(created_at=paid_at)
        coaches.append(coach)
    # Each coach's invoice issued twice at once: five invoices, numbered 1-5.
    results = concurrently(
        10,
        lambda i: (
            invoices.invoice_issue(
                coach=coaches[i % 5], month=last_month, currency="CHF"
            ).number
        ),
    )
    assert not [r for r in results if isinstance(r, BaseException)], results
    numbers = sorted(PlatformFeeInvoice.objects.values_list("number", flat=True))
    assert [int(n.rsplit("-", 1)[1]) for n in numbers] == [1, 2, 3, 4, 5]
    assert sorted(set(results)) == numbers
