"""Micro-benchmarks of the pure money core against a trivial baseline.

``money.pricing.breakdown``, ``money.amounts.to_minor``/``to_major``, the
ledger's rounding split and the building of a charge's four (unsaved) ledger
rows, each timed as ``fn(arg)`` in a timeit loop, next to ``baseline(arg)``
(one integer addition in a function: the same loop shape, the floor of a
Python call). Every sample is calibrated to about ``--sample`` seconds, the
benchmarks run interleaved for ``--repeat`` rounds, and the report gives the
median and minimum ns/op and the median of the per-round ratios to the
baseline. No database is touched.

    .venv/bin/python bench/pricing_and_ledger.py --repeat 7
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import timeit
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django() -> None:
    # Models are only instantiated, never saved: no database is opened.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coaching.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault(
        "SQLITE_PATH", str(Path(tempfile.gettempdir()) / "bench-unused.sqlite3")
    )
    import django

    django.setup()


def benchmarks() -> dict[str, tuple[Callable, object]]:
    from money.amounts import to_major, to_minor
    from money.pricing import (
        PriceTerms,
        breakdown,
        round_half_up_div,
    )
    from payments.models import LedgerEntry, Payment

    def baseline(x: int) -> int:
        return x + 1

    included = PriceTerms(
        amount=10_000,
        currency="CHF",
        vat_rate_bps=810,
        vat_included=True,
        platform_fee_bps=1500,
    )
    on_top = PriceTerms(
        amount=9_250,
        currency="chf",
        vat_rate_bps=810,
        vat_included=False,
        platform_fee_bps=1500,
    )
    split = breakdown(included)
    assert (split.vat, split.platform_fee, split.coach_amount) == (749, 1500, 8500)

    def minor_from_str(value: str) -> int:
        return to_minor(value, "CHF")

    def minor_from_decimal(value: Decimal) -> int:
        return to_minor(value, "CHF")

    def major_whole(value: int) -> int | Decimal:
        return to_major(value, "CHF")

    def major_fraction(value: int) -> int | Decimal:
        return to_major(value, "CHF")

    def refund_split(refund: int) -> tuple[int, int]:
        # The proportional reversal of ledger_record_refund for a partial refund.
        fee = round_half_up_div(refund * split.platform_fee, split.gross)
        vat = round_half_up_div(refund * split.vat, split.gross)
        return fee, vat

    payment = Payment(
        amount=split.gross,
        amount_received=split.gross,
        currency="chf",
        platform_fee_amount=split.platform_fee,
        vat_amount=split.vat,
    )
    kinds = LedgerEntry.Kind

    def ledger_charge_rows(paid: Payment) -> list:
        # What ledger_record_charge builds before its one INSERT.
        fee = paid.platform_fee_amount
        return [
            LedgerEntry(payment=paid, kind=kind, amount=amount, currency=paid.currency)
            for kind, amount in (
                (kinds.CHARGE, paid.amount_received),
                (kinds.PLATFORM_FEE, fee),
                (kinds.COACH_EARNING, paid.amount_received - fee),
                (kinds.VAT, paid.vat_amount),
            )
        ]

    assert minor_from_str("12.50") == 1250
    assert major_fraction(1250) == Decimal("12.5")
    assert sum(e.amount for e in ledger_charge_rows(payment)[1:3]) == split.gross
    return {
        "baseline: x + 1": (baseline, 12345),
        "pricing.breakdown (VAT included)": (breakdown, included),
        "pricing.breakdown (VAT on top)": (breakdown, on_top),
        'money.to_minor("12.50", CHF)': (minor_from_str, "12.50"),
        'money.to_minor(Decimal("100"), CHF)': (minor_from_decimal, Decimal("100")),
        "money.to_major(10000, CHF) -> 100": (major_whole, 10_000),
        "money.to_major(1250, CHF) -> 12.5": (major_fraction, 1250),
        "ledger refund split (2 x round_half_up_div)": (refund_split, 3_333),
        "ledger charge rows (4 unsaved LedgerEntry)": (ledger_charge_rows, payment),
    }


def make_timer(fn: Callable, arg: object) -> timeit.Timer:
    return timeit.Timer("fn(arg)", globals={"fn": fn, "arg": arg})


def calibrate(timer: timeit.Timer, sample: float) -> int:
    """Loops per sample so that one sample takes about ``sample`` seconds."""
    number, taken = timer.autorange()
    return max(1, int(number * sample / taken))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--sample", type=float, default=0.2, help="s per sample")
    args = parser.parse_args(argv)
    if not 1 <= args.repeat <= 50 or not 0 < args.sample <= 2:
        parser.error("--repeat in 1..50, --sample in (0, 2] s")

    setup_django()
    cases = benchmarks()
    timers = {name: make_timer(fn, arg) for name, (fn, arg) in cases.items()}
    loops = {name: calibrate(timer, args.sample) for name, timer in timers.items()}
    samples: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(args.repeat):
        for name, timer in timers.items():  # interleaved: drift hits all alike
            samples[name].append(timer.timeit(loops[name]) / loops[name] * 1e9)

    base_name = next(iter(timers))
    base = samples[base_name]
    print(
        f"python {platform.python_version()}, {args.repeat} interleaved rounds, "
        f"~{args.sample:g} s per sample, load average {os.getloadavg()[0]:.2f}; "
        "x baseline: median of the per-round ratios, and ratio of the minimums"
    )
    print()
    print(
        "| benchmark | ns/op (median) | ns/op (min) | x baseline (median of ratios) "
        "| x baseline (min / min) | loops/sample |"
    )
    print("|---|--:|--:|--:|--:|--:|")
    for name, values in samples.items():
        ratio = statistics.median(v / b for v, b in zip(values, base, strict=True))
        print(
            f"| {name} | {statistics.median(values):.0f} | {min(values):.0f} "
            f"| {ratio:.1f} | {min(values) / min(base):.1f} | {loops[name]} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
