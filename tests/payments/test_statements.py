"""The demo coach's statement for a month, computed by hand, to the Rappen, in
the page, the CSV and the PDF; the platform-fee invoice; the earnings page."""

import csv
import io
import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import User
from payments.models import LedgerEntry, Notification, PlatformFeeInvoice
from payments.services import balances, invoices, statements

pytestmark = pytest.mark.django_db


def month_back(months: int):
    today = timezone.now().astimezone(statements.ZoneInfo("Europe/Zurich")).date()
    index = today.year * 12 + today.month - 1 - months
    return today.replace(year=index // 12, month=index % 12 + 1, day=1)


@pytest.fixture
def demo(client):
    call_command("seed_demo", stdout=io.StringIO())
    coach = User.objects.get(email="coach@example.com")
    client.force_login(coach)
    return coach


# Two months back: three sessions (CHF 100, 100, 55; VAT 8.1 % included, fee
# 15 %), CHF 40 refunded from the second before it matured, CHF 200 paid out.
# Opening: the month before's three sessions, 85.00 + 46.75 + 85.00.
HAND = {
    "opening": 21675,
    "sessions": 3,
    "gross": 10000 + 10000 + 5500,
    # 749 + 749 + 412 on the charges, less 300 (4000 * 749 / 10000) refunded.
    "vat": 1610,
    "platform_fee": -(1500 + 1500 + 825),
    # 4000 less the 600 of fee the platform gives back in proportion.
    "refunds": -3400,
    "adjustments": 0,
    "payouts": -20000,
    # 21675 + 25500 - 3825 - 3400 - 20000
    "closing": 19950,
}


def chf(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"CHF {sign}{abs(minor) // 100:,}.{abs(minor) % 100:02d}"


def test_statement_service_matches_the_hand_computed_month(demo):
    month = month_back(2)
    got = statements.statement_for_month(coach=demo, month=month, currency="CHF")
    assert {key: amount for key, _label, amount in got.summary()} | {
        "sessions": got.sessions
    } == HAND | {"platform_fee": -3825}


def test_statement_page_csv_and_pdf_show_the_same_figures(client, demo):
    month = month_back(2)
    args = [month.year, month.month]

    page = client.get(reverse("coach:statement", args=args)).content.decode()
    for key, amount in HAND.items():
        cell = re.search(rf'data-figure="{key}">([^<]*)<', page)
        assert cell, key
        want = str(amount) if key == "sessions" else f"CHF {amount / 100:,.2f}"
        assert cell.group(1) == want, key

    rows = list(
        csv.reader(
            io.StringIO(
                client.get(reverse("coach:statement_csv", args=args)).content.decode()
            )
        )
    )
    figures = {row[0]: row[2] for row in rows[1:10]}
    assert figures == {
        key: (str(amount) if key == "sessions" else f"{amount / 100:.2f}")
        for key, amount in HAND.items()
    }

    response = client.get(reverse("coach:statement_pdf", args=args))
    assert response["Content-Type"] == "application/pdf"
    text = "\n".join(
        p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages
    )
    for label, key in [
        ("Opening balance", "opening"),
        ("Gross charged", "gross"),
        ("of which VAT", "vat"),
        ("Platform fee", "platform_fee"),
        ("Refunds (your share)", "refunds"),
        ("Adjustments (disputes)", "adjustments"),
        ("Payouts", "payouts"),
        ("Closing balance", "closing"),
    ]:
        assert re.search(rf"{re.escape(label)}\s*CHF {HAND[key] / 100:,.2f}", text), (
            label,
            text,
        )
    assert re.search(r"Sessions\s*3", text)


def test_statements_chain_closing_to_next_opening(demo):
    three, two = month_back(3), month_back(2)
    first = statements.statement_for_month(coach=demo, month=three, currency="CHF")
    second = statements.statement_for_month(coach=demo, month=two, currency="CHF")
    assert first.opening == 0 and first.closing == second.opening


def test_platform_fee_invoice_shows_vat_and_numbers_run_without_gaps(client, demo):
    issued = list(PlatformFeeInvoice.objects.filter(coach=demo).order_by("number"))
    assert len(issued) == 3
    numbers = [int(inv.number.rsplit("-", 1)[1]) for inv in issued]
    years = {inv.number.split("-")[1] for inv in issued}
    if len(years) == 1:
        assert numbers == list(range(numbers[0], numbers[0] + 3))
    two = PlatformFeeInvoice.objects.get(coach=demo, month=month_back(2))
    # 3825 of fee less 600 given back; VAT 8.1 % inside it.
    assert (two.fee_gross, two.vat_amount, two.fee_net) == (3225, 242, 2983)
    assert (
        invoices.invoice_issue(coach=demo, month=month_back(2), currency="CHF") == two
    )
    with pytest.raises(ValueError):
        two.save()
    response = client.get(reverse("coach:invoice_pdf", args=[two.number]))
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert two.number in text and "CHE-123.456.789 MWST" in text
    assert re.search(r"VAT 8.1 %\s*CHF 2.42", text)
    assert re.search(r"Total\s*CHF 32.25", text)


def test_seeded_earnings_page_shows_balances_next_maturity_and_several_bars(
    client, demo
):
    got = balances.coach_balances(coach=demo, currency="CHF")
    assert got.paid_out == 20000 and got.pending == 4675 and got.available > 0
    assert got.total == sum(
        LedgerEntry.objects.filter(coach=demo, kind__in=LedgerEntry.COACH).values_list(
            "amount", flat=True
        )
    )
    page = client.get(reverse("coach:earnings")).content.decode()
    assert f'data-balance="pending">{chf(got.pending)}<' in page
    assert f'data-balance="available">{chf(got.available)}<' in page
    assert f'data-balance="paid-out">{chf(20000)}<' in page
    assert "becomes available on" in page
    assert page.count('class="bar-track"') + page.count("<rect") >= 3


def test_seed_history_is_idempotent(demo):
    before = LedgerEntry.objects.count()
    call_command("seed_demo", stdout=io.StringIO())
    assert LedgerEntry.objects.count() == before
    assert PlatformFeeInvoice.objects.count() == 3


def test_other_coach_cannot_read_an_invoice(client, demo):
    number = PlatformFeeInvoice.objects.filter(coach=demo).first().number
    client.force_login(User.objects.get(email="coach2@example.com"))
    assert client.get(reverse("coach:invoice_pdf", args=[number])).status_code == 404


def test_seed_history_leaves_no_notifications_about_the_past(demo):
    assert not Notification.objects.exists()
