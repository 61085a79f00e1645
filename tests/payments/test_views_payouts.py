"""The staff payouts page: balances per coach, recording a bank payout."""

import pytest
from django.urls import reverse

from payments.models import Payout
from payments.services import balances
from tests.payments.test_balances import complete, later, make_coach, pay

pytestmark = pytest.mark.django_db


@pytest.fixture
def matured_coach():
    coach, offering = make_coach()
    payment = pay(offering)
    complete(payment)
    balances.earnings_mature_due(now=later())
    return coach


def post(client, coach, amount: str, reference: str = "UBS-1"):
    return client.post(
        reverse("staff:payouts"),
        {
            "coach": coach.pk,
            "currency": "CHF",
            "amount": amount,
            "bank_reference": reference,
            "paid_on": "2026-11-30",
        },
    )


def test_staff_page_lists_balances_and_records_a_payout(
    client, admin_user, matured_coach
):
    client.force_login(admin_user)
    page = client.get(reverse("staff:payouts")).content.decode()
    assert 'data-figure="available">CHF 85.00<' in page

    response = post(client, matured_coach, "80.50")

    assert response.status_code == 302
    payout = Payout.objects.get()
    assert (payout.amount, payout.bank_reference, payout.recorded_by) == (
        8050,
        "UBS-1",
        admin_user,
    )
    got = balances.coach_balances(coach=matured_coach, currency="CHF")
    assert (got.available, got.paid_out) == (450, 8050)


@pytest.mark.parametrize("amount", ["85.01", "1e3", "-5", "12.345", "", "\uff18"])
def test_staff_payout_refuses_more_than_available_and_bad_amounts(
    client, admin_user, matured_coach, amount
):
    client.force_login(admin_user)
    response = post(client, matured_coach, amount)
    assert response.status_code in (400, 409)
    assert not Payout.objects.exists()


def test_payouts_page_is_staff_only(client, matured_coach):
    client.force_login(matured_coach)
    response = client.get(reverse("staff:payouts"))
    assert response.status_code in (302, 403, 404)
    assert post(client, matured_coach, "10").status_code in (302, 403, 404)
    assert not Payout.objects.exists()
