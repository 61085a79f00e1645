"""Currencies and the conversion between major and minor units, without floats.

Amounts live in the currency's minor unit (Rappen for CHF, yen for JPY).
Major units appear only at the edges: JSON bodies and templates.
"""

import math
import re
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

# Stripe's zero-decimal and three-decimal currencies; every other one has two.
ZERO_DECIMAL = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()  # noqa: SIM905
)
THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])

# What Stripe accepts as one charge, in minor units: (minimum, maximum).
# Minimums from Stripe's "minimum and maximum charge amounts" table for the
# currencies it lists; any other currency gets the usual 0.50. The maximum is
# eight digits of the minor unit for every currency (99999999 = CHF 999,999.99):
# no amount from outside is larger (``parse_amount``).
MAX_AMOUNT_MINOR = 99_999_999
_DEFAULT_MIN_CHARGE_MINOR = 50
CHARGE_LIMITS: dict[str, tuple[int, int]] = {
    code: (minimum, MAX_AMOUNT_MINOR)
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
        (_DEFAULT_MIN_CHARGE_MINOR, MAX_AMOUNT_MINOR),
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


# What ``to_minor`` converts for our own code (sums, tests): far beyond any
# charge, still small enough that every step below stays a few microseconds.
_MAX_CONVERTIBLE_MINOR = 10**15
# Rates (VAT, platform fee) are percentages with at most two decimals, 0..100.
RATE_DECIMALS = 2
MAX_RATE_PERCENT = 100
# Longer text is refused before it is looked at: "999999.99" needs 9 characters.
_MAX_TEXT = 32
# ASCII only: Python's ``\d``, ``int()`` and ``Decimal()`` also take other
# scripts' digits ("٣" is 3), which no client of ours means to send.
_PLAIN_NUMBER = re.compile(r"([+-]?)([0-9]+)(?:\.([0-9]+))?", re.ASCII)


def _scaled(value: Any, decimals: int, *, signed: bool, allow_float: bool) -> int:
    """``value`` as a whole number of 10**-decimals, or MoneyError.

    The one parser of numbers from outside (API, forms, admin, webhooks): plain
    ASCII decimal notation only (no exponent, no NaN or Infinity, no other
    scripts' digits), at most ``decimals`` decimals, a sign only if ``signed``.
    Every check is on bounded text or a bounded integer, never ``Decimal``
    arithmetic on raw input: "9e999990" would cost a minute of CPU there.
    """
    if isinstance(value, bool) or value is None:
        raise MoneyError(_("Enter a number."))
    if isinstance(value, int):
        # Comparing ints is cheap at any size; the bound keeps what follows small.
        if abs(value) >= 10**_MAX_TEXT:
            raise MoneyError(_("The number is too large."))
        if value < 0 and not signed:
            raise MoneyError(_("The number cannot be negative."))
        return value * 10**decimals
    if isinstance(value, float):
        if not allow_float:
            raise MoneyError(_("Give amounts as integers, strings or Decimals."))
        if not math.isfinite(value):
            raise MoneyError(_("Enter a finite number."))
        # A JSON number's shortest repr is the decimal the client wrote (12.5);
        # a huge or tiny one comes out with an exponent and is refused below.
        text = repr(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise MoneyError(_("Enter a finite number."))
        _sign, digits, exp = value.as_tuple()
        if len(digits) + abs(int(exp)) > _MAX_TEXT:
            raise MoneyError(_("The number is too large or has too many decimals."))
        text = format(value, "f")  # bounded by the check above
    elif isinstance(value, str):
        text = value
    else:
        raise MoneyError(_("Enter a number."))
    if len(text) > _MAX_TEXT:
        raise MoneyError(_("The number is too long."))
    match = _PLAIN_NUMBER.fullmatch(text)
    if match is None:
        raise MoneyError(
            _(
                "Enter a plain number: digits 0-9 and at most one decimal point "
                "(no exponent)."
            )
        )
    sign, whole, fraction = match.groups()
    fraction = fraction or ""
    if sign and not signed:
        raise MoneyError(_("Enter the number without a sign."))
    if len(fraction) > decimals:
        raise MoneyError(
            ngettext(
                "Enter at most %(count)d decimal.",
                "Enter at most %(count)d decimals.",
                decimals,
            )
            % {"count": decimals}
            if decimals
            else _("Enter a whole number, without decimals.")
        )
    scaled = int(whole + fraction.ljust(decimals, "0"))
    return -scaled if sign == "-" else scaled


def parse_amount(
    value: Any,
    currency: str,
    *,
    minimum: int = 1,
    maximum: int = MAX_AMOUNT_MINOR,
) -> int:
    """Parse an amount in major units from outside into minor units.

    Takes JSON numbers (``100``, ``12.5``), strings (``"12.50"``) and Decimals;
    at most the currency's decimals, no sign, between ``minimum`` and
    ``maximum`` minor units (default: more than zero, at most Stripe's
    maximum charge). Raises MoneyError, with a message for the person who
    typed it, for anything else; never slow, whatever the input.
    """
    minor = _scaled(value, exponent(currency), signed=False, allow_float=True)
    if minor < minimum:
        raise MoneyError(
            _("The amount must be more than zero.")
            if minimum == 1
            else _("The amount must be at least %(minimum)s.")
            % {"minimum": format_money(minimum, currency)}
        )
    if minor > maximum:
        raise MoneyError(
            _("The amount must be at most %(maximum)s.")
            % {"maximum": format_money(maximum, currency)}
        )
    return minor


def parse_rate_bps(value: Any) -> int:
    """Parse a percentage from outside (``8.1``, ``"15"``) into basis points.

    At most two decimals, from 0 to 100; JSON numbers, strings and Decimals.
    Raises MoneyError for anything else, at once.
    """
    bps = _scaled(value, RATE_DECIMALS, signed=False, allow_float=True)
    if bps > MAX_RATE_PERCENT * 10**RATE_DECIMALS:
        raise MoneyError(
            _("A rate is at most %(maximum)d %%.") % {"maximum": MAX_RATE_PERCENT}
        )
    return bps


def parse_minor(value: Any, *, maximum: int = MAX_AMOUNT_MINOR) -> int:
    """Parse a count of minor units that Stripe sent (webhook amounts).

    A JSON integer from 0 to ``maximum``; anything else raises MoneyError.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise MoneyError(_("An amount in minor units must be an integer."))
    if not 0 <= value <= maximum:
        raise MoneyError(_("The amount is out of range."))
    return value


def to_minor(major: Decimal | int | str, currency: str) -> int:
    """Convert a major-unit value (``100``, ``"12.50"``) to minor units exactly.

    For our own values (zero allowed, no Stripe maximum); outside input goes
    through ``parse_amount``. Both use the same bounded parser. Floats are
    refused: they cannot carry 0.1 exactly. More decimals than the currency
    has is an error, never a silent rounding.
    """
    minor = _scaled(major, exponent(currency), signed=False, allow_float=False)
    if minor > _MAX_CONVERTIBLE_MINOR:
        raise MoneyError(_("The number is too large."))
    return minor


# The most decimals any currency has (BHD, KWD, ...).
MAX_DECIMALS = 3


def parse_major(value: Any) -> Decimal:
    """Check a major-unit amount from outside before its currency is known.

    The same rules as ``parse_amount`` with the loosest currency (three
    decimals, at most Stripe's eight digits); returns an exact Decimal for
    ``parse_amount`` to check against the currency once it is known. Raises
    MoneyError, at once, for anything else.
    """
    scaled = _scaled(value, MAX_DECIMALS, signed=False, allow_float=True)
    if scaled < 1:
        raise MoneyError(_("The amount must be more than zero."))
    if scaled > MAX_AMOUNT_MINOR * 10**MAX_DECIMALS:
        raise MoneyError(_("The amount is too large."))
    major = Decimal(scaled).scaleb(-MAX_DECIMALS)
    if major == major.to_integral_value():
        return major.quantize(Decimal(1))
    return major.normalize()


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
