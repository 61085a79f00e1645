"""Pricing and money conversion: the DESIGN.md formulas and their invariants."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from money.amounts import (
    THREE_DECIMAL,
    ZERO_DECIMAL,
    MoneyError,
    exponent,
    format_money,
    to_major,
    to_minor,
)
from money.pricing import (
    PriceTerms,
    bps_to_percent,
    breakdown,
    percent_to_bps,
    round_half_up_div,
)

CURRENCIES = ["CHF", "EUR", "USD", "GBP", "JPY", "KRW", "CLP", "BHD", "KWD"]

amounts = st.integers(min_value=0, max_value=10**12)
rates = st.integers(min_value=0, max_value=10_000)


def test_breakdown_demo_session_matches_design():
    result = breakdown(PriceTerms(10000, "chf", 810, True, 1500))
    assert (result.gross, result.vat, result.net) == (10000, 749, 9251)
    assert (result.platform_fee, result.coach_amount) == (1500, 8500)
    assert result.currency == "CHF"


def test_breakdown_vat_on_top_adds_rounded_vat():
    result = breakdown(PriceTerms(5000, "CHF", 810, False, 1500))
    # 5000 * 8.1 % = 405 exactly; gross 5405; fee 15 % of 5405 = 810.75 -> 811
    assert (result.base, result.gross, result.vat, result.net) == (
        5000,
        5405,
        405,
        5000,
    )
    assert (result.platform_fee, result.coach_amount) == (811, 4594)


def test_round_half_up_div_rounds_halves_up():
    assert round_half_up_div(5, 2) == 3
    assert round_half_up_div(4, 2) == 2
    assert round_half_up_div(7, 4) == 2
    assert round_half_up_div(5, 4) == 1


@given(
    amount=amounts,
    vat=rates,
    fee=rates,
    included=st.booleans(),
    currency=st.sampled_from(CURRENCIES),
)
def test_breakdown_invariants_hold_for_any_price(amount, vat, fee, included, currency):
    result = breakdown(PriceTerms(amount, currency, vat, included, fee))
    assert result.net + result.vat == result.gross
    assert result.platform_fee + result.coach_amount == result.gross
    assert 0 <= result.vat <= result.gross
    assert 0 <= result.platform_fee <= result.gross
    if included:
        assert result.gross == amount
        # The formula of DESIGN.md, computed independently in Decimal.
        exact = Decimal(amount) * vat / (10_000 + vat)
        assert abs(Decimal(result.vat) - exact) <= Decimal("0.5")
    else:
        assert result.net == amount
        assert abs(Decimal(result.vat) - Decimal(amount) * vat / 10_000) <= Decimal(
            "0.5"
        )


@given(minor=amounts, currency=st.sampled_from(CURRENCIES))
def test_major_minor_round_trip_is_exact(minor, currency):
    major = to_major(minor, currency)
    assert to_minor(major, currency) == minor
    assert to_minor(str(major), currency) == minor


@pytest.mark.parametrize(
    ("currency", "digits"), [("CHF", 2), ("jpy", 0), ("KRW", 0), ("BHD", 3), ("EUR", 2)]
)
def test_exponent_knows_zero_and_three_decimal_currencies(currency, digits):
    assert exponent(currency) == digits
    assert "JPY" in ZERO_DECIMAL and "KWD" in THREE_DECIMAL


def test_to_major_gives_ints_for_whole_amounts_and_exact_decimals_otherwise():
    assert to_major(10000, "CHF") == 100 and isinstance(to_major(10000, "CHF"), int)
    assert to_major(1250, "CHF") == Decimal("12.5")
    assert to_major(500, "JPY") == 500
    assert to_major(1234, "KWD") == Decimal("1.234")


@pytest.mark.parametrize("bad", [1.5, "abc", "1.001", "NaN", "Infinity", True])
def test_to_minor_refuses_floats_and_excess_decimals(bad):
    with pytest.raises(MoneyError):
        to_minor(bad, "CHF")


def test_to_minor_refuses_decimals_in_a_zero_decimal_currency():
    with pytest.raises(MoneyError):
        to_minor("1.5", "JPY")


@pytest.mark.parametrize("bad", ["CH", "chf1", "", "C H"])
def test_currency_codes_are_validated(bad):
    with pytest.raises(MoneyError):
        exponent(bad)


def test_percent_and_basis_points_convert_both_ways():
    assert percent_to_bps("8.1") == 810
    assert percent_to_bps(15) == 1500
    assert bps_to_percent(810) == Decimal("8.1")
    assert bps_to_percent(1500) == 15
    for bad in ["8.123", "-1", "100.01", 8.1]:
        with pytest.raises(MoneyError):
            percent_to_bps(bad)


def test_format_money_shows_every_decimal_and_the_code():
    assert format_money(123450, "CHF") == "CHF 1,234.50"
    assert format_money(1500, "JPY") == "JPY 1,500"


def test_breakdown_refuses_negative_amounts_and_rates_over_100_percent():
    with pytest.raises(MoneyError):
        breakdown(PriceTerms(-1, "CHF", 810, True, 1500))
    with pytest.raises(MoneyError):
        breakdown(PriceTerms(100, "CHF", 10_001, True, 1500))
