"""Price -> breakdown in minor units. Pure functions: no I/O, no ORM, no floats.

Rates are integers in basis points (hundredths of a percent): VAT 8.1 % is
``810``, a 15 % platform fee is ``1500``. With VAT included in a gross G:
``vat = round_half_up(G * r / (100 + r))`` and ``net = G - vat``; with VAT on top
of a base B: ``G = B + round_half_up(B * r / 100)``. Always
``platform_fee = round_half_up(G * p / 100)`` and ``coach_amount = G - platform_fee``.
"""

from dataclasses import dataclass
from decimal import Decimal

from money.amounts import MoneyError, normalize_currency, parse_rate_bps

BPS_PER_PERCENT = 100
MAX_RATE_BPS = 100 * BPS_PER_PERCENT


def round_half_up_div(numerator: int, denominator: int) -> int:
    """Divide two non-negative integers, rounding halves up."""
    if numerator < 0 or denominator <= 0:
        raise ValueError("round_half_up_div takes a non-negative numerator.")
    quotient, remainder = divmod(numerator, denominator)
    return quotient + (1 if 2 * remainder >= denominator else 0)


def percent_to_bps(percent: Decimal | int | str) -> int:
    """``8.1`` -> ``810``. At most two decimals, between 0 and 100 %.

    The bounded parser of ``money.amounts``; floats are refused here (JSON
    numbers go through ``money.parse_rate_bps`` at the edge).
    """
    if isinstance(percent, float):
        raise MoneyError("Rates must be given as integers, strings or Decimals.")
    return parse_rate_bps(percent)


def bps_to_percent(bps: int) -> int | Decimal:
    """``810`` -> ``Decimal("8.1")``; ``1500`` -> ``15``."""
    value = Decimal(bps) / BPS_PER_PERCENT
    return int(value) if value == value.to_integral_value() else value.normalize()


@dataclass(frozen=True)
class PriceTerms:
    """What a coach charges: the listed amount and how VAT and fee apply."""

    amount: int  # minor units; gross if vat_included, else the base before VAT
    currency: str
    vat_rate_bps: int
    vat_included: bool
    platform_fee_bps: int


@dataclass(frozen=True)
class Breakdown:
    """Where every minor unit of a gross amount goes."""

    base: int  # the listed amount (equals gross when VAT is included)
    gross: int  # what the client pays
    net: int  # gross without VAT
    vat: int
    platform_fee: int
    coach_amount: int
    currency: str
    vat_rate_bps: int
    vat_included: bool
    platform_fee_bps: int

    def __post_init__(self) -> None:
        assert self.net + self.vat == self.gross
        assert self.platform_fee + self.coach_amount == self.gross


def breakdown(terms: PriceTerms) -> Breakdown:
    """Split a price into VAT, net, platform fee and the coach's share.

    Raises MoneyError for a negative amount, a rate outside 0..100 % or a
    malformed currency code.
    """
    currency = normalize_currency(terms.currency)
    if terms.amount < 0:
        raise MoneyError("A price cannot be negative.")
    for rate in (terms.vat_rate_bps, terms.platform_fee_bps):
        if not 0 <= rate <= MAX_RATE_BPS:
            raise MoneyError("Rates must be between 0 and 100 %.")

    rate = terms.vat_rate_bps
    if terms.vat_included:
        gross = terms.amount
        vat = round_half_up_div(gross * rate, 10_000 + rate)
    else:
        vat = round_half_up_div(terms.amount * rate, 10_000)
        gross = terms.amount + vat
    platform_fee = round_half_up_div(gross * terms.platform_fee_bps, 10_000)
    return Breakdown(
        base=terms.amount,
        gross=gross,
        net=gross - vat,
        vat=vat,
        platform_fee=platform_fee,
        coach_amount=gross - platform_fee,
        currency=currency,
        vat_rate_bps=rate,
        vat_included=terms.vat_included,
        platform_fee_bps=terms.platform_fee_bps,
    )
