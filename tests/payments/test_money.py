"""The one bounded parser of amounts and rates from outside (money.amounts)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from money.amounts import (
    MAX_AMOUNT_MINOR,
    MoneyError,
    parse_amount,
    parse_minor,
    parse_rate_bps,
    to_major,
    to_minor,
)

# Every kind of hostile number DESIGN.md and STYLE.md name, and a few more.
HOSTILE = [
    "9e999990",
    "1e999999999",
    "1E2",
    "1e-2",
    "\u0663",  # Arabic-Indic three
    "\u0661\u0660\u0660",
    "\uff13",  # fullwidth three
    "\U0001d7d7",  # mathematical bold nine
    "-5",
    "+5",
    "-0",
    "0",
    "0.00",
    "12.345",
    "12.",
    ".5",
    "1_000",
    "0x10",
    "1,5",
    " 12",
    "12 ",
    "",
    "NaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1" * 33,
    "9" * 100_000,
    "1000000",  # CHF 1,000,000.00 is more than Stripe's maximum charge
    100_000_000,
    10**400,
    -1,
    0,
    float("inf"),
    float("nan"),
    1e400,
    1e20,
    12.345,
    True,
    False,
    None,
    [],
    [1],
    {},
    {"amount": 1},
    Decimal("9e999990"),
    Decimal("NaN"),
    Decimal("Infinity"),
    Decimal("-1"),
    Decimal("12.345"),
]


@pytest.mark.parametrize("bad", HOSTILE, ids=lambda v: repr(v)[:40])
def test_parse_amount_refuses_hostile_input(bad):
    with pytest.raises(MoneyError):
        parse_amount(bad, "CHF")


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        (100, "CHF", 10000),
        ("100", "CHF", 10000),
        (12.5, "CHF", 1250),
        ("12.50", "CHF", 1250),
        ("0.01", "CHF", 1),
        (Decimal("49.90"), "CHF", 4990),
        ("999999.99", "CHF", MAX_AMOUNT_MINOR),
        (99_999_999, "JPY", MAX_AMOUNT_MINOR),
        ("1.234", "KWD", 1234),
    ],
)
def test_parse_amount_reads_plain_numbers_exactly(value, currency, minor):
    assert parse_amount(value, currency) == minor


def test_parse_amount_knows_the_currency_decimals():
    with pytest.raises(MoneyError):
        parse_amount("1.5", "JPY")
    with pytest.raises(MoneyError):
        parse_amount("1.2345", "KWD")


@given(minor=st.integers(min_value=1, max_value=MAX_AMOUNT_MINOR))
def test_parse_amount_round_trips_every_chargeable_amount(minor):
    major = to_major(minor, "CHF")
    assert parse_amount(str(major), "CHF") == minor
    assert parse_amount(major, "CHF") == minor


@given(text=st.text(max_size=40))
def test_parse_amount_never_raises_anything_but_money_error(text):
    try:
        minor = parse_amount(text, "CHF")
    except MoneyError:
        return
    assert 1 <= minor <= MAX_AMOUNT_MINOR
    assert text.isascii()


# 0 % is a valid rate; everything else hostile for an amount is for a rate too.
RATE_HOSTILE = [
    v for v in HOSTILE if not (type(v) in (str, int) and v in ("0", "0.00", 0))
]


@pytest.mark.parametrize(
    "bad", [*RATE_HOSTILE, "100.01", 101, "8.123", 8.123], ids=lambda v: repr(v)[:40]
)
def test_parse_rate_refuses_hostile_input(bad):
    with pytest.raises(MoneyError):
        parse_rate_bps(bad)


def test_parse_rate_reads_percentages_into_basis_points():
    assert parse_rate_bps(8.1) == 810
    assert parse_rate_bps("8.10") == 810
    assert parse_rate_bps(15) == 1500
    assert parse_rate_bps("100") == 10_000


@pytest.mark.parametrize(
    "bad", [-1, MAX_AMOUNT_MINOR + 1, 1.0, "100", True, None, float("inf")]
)
def test_parse_minor_takes_only_integers_in_range(bad):
    with pytest.raises(MoneyError):
        parse_minor(bad)
    assert parse_minor(0) == 0 and parse_minor(10000) == 10000


def test_to_minor_uses_the_same_parser():
    for bad in ("9e999990", "\u0663", Decimal("9e999990")):
        with pytest.raises(MoneyError):
            to_minor(bad, "CHF")
    assert to_minor(0, "CHF") == 0
