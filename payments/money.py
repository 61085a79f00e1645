"""Currencies and the conversion between major and minor units, without floats.

Amounts live in the currency's minor unit (Rappen for CHF, yen for JPY).
Major units appear only at the edges: JSON bodies and templates.
"""

import re
from decimal import Decimal, InvalidOperation

# Stripe's zero-decimal and three-decimal currencies; every other one has two.
ZERO_DECIMAL = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()  # noqa: SIM905
)
THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])

# What Stripe accepts as one charge, in minor units: (minimum, maximum).
# Minimums from Stripe's "minimum and maximum charge amounts" table for the
# currencies it lists; any other currency gets the usual 0.50. The maximum is
# eight digits of the minor unit for every currency (99999999 = CHF 999,999.99).
STRIPE_MAX_CHARGE_MINOR = 99_999_999
_DEFAULT_MIN_CHARGE_MINOR = 50
CHARGE_LIMITS: dict[str, tuple[int, int]] = {
    code: (minimum, STRIPE_MAX_CHARGE_MINOR)
    for code, minimum in {
        "AED": 200,
        "AUD": 50,
        "BGN": 100,
        "BRL": 50,
        "CAD": 50,
        "CHF": 50,
        "CZK": 1500,
        "DKK": 250,
        "EUR": 50,
        "GBP": 30,
        "HKD": 400,
        "HUF": 17500,
        "INR": 50,
        "JPY": 50,
        "MXN": 1000,
        "MYR": 200,
        "NOK": 300,
        "NZD": 50,
        "PLN": 200,
        "RON": 200,
        "SEK": 300,
        "SGD": 50,
        "THB": 1000,
        "USD": 50,
    }.items()
}


def charge_limits(currency: str) -> tuple[int, int]:
    """The smallest and largest charge Stripe accepts in ``currency`` (minor units)."""
    return CHARGE_LIMITS.get(
        normalize_currency(currency),
        (_DEFAULT_MIN_CHARGE_MINOR, STRIPE_MAX_CHARGE_MINOR),
    )


_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


class MoneyError(ValueError):
    """A value that cannot be an amount of money in the given currency."""


def normalize_currency(code: str) -> str:
    """Return the uppercase ISO 4217 code, or raise MoneyError."""
    upper = (code or "").strip().upper()
    if not _CURRENCY_RE.match(upper):
        raise MoneyError(f"{code!r} is not an ISO 4217 currency code.")
    return upper


def exponent(currency: str) -> int:
    """Number of decimals of the currency's minor unit (0, 2 or 3)."""
    code = normalize_currency(currency)
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def to_minor(major: Decimal | int | str, currency: str) -> int:
    """Convert a major-unit value (``100``, ``"12.50"``) to minor units exactly.

    Floats are refused: they cannot carry 0.1 exactly. More decimals than the
    currency has is an error, never a silent rounding.
    """
    if isinstance(major, float | bool):
        raise MoneyError("Amounts must be given as integers, strings or Decimals.")
    try:
        value = Decimal(str(major)) if not isinstance(major, Decimal) else major
    except InvalidOperation as exc:
        raise MoneyError(f"{major!r} is not a number.") from exc
    if not value.is_finite():
        raise MoneyError(f"{major!r} is not a finite number.")
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise MoneyError(
            f"{major} has more decimals than {normalize_currency(currency)} allows."
        )
    return int(scaled)


def to_major(minor: int, currency: str) -> int | Decimal:
    """Convert minor units to a major-unit number: ``10000`` CHF -> ``100``.

    Whole amounts come back as ``int`` so JSON shows ``100``, not ``100.0``;
    others as an exact ``Decimal`` (``1250`` -> ``Decimal("12.5")``).
    """
    value = Decimal(int(minor)).scaleb(-exponent(currency))
    if value == value.to_integral_value():
        return int(value)
    return value.normalize()


def format_money(minor: int, currency: str) -> str:
    """Human form with every decimal and the code: ``CHF 1,234.50``."""
    digits = exponent(currency)
    value = Decimal(int(minor)).scaleb(-digits)
    return f"{normalize_currency(currency)} {value:,.{digits}f}"
