"""Geometry of the server-rendered SVG charts; pure functions, no I/O.

A chart is drawn as one row per value: a text line (label and amount) above a
horizontal bar whose width is a percentage of the chart's width. Text keeps its
size at any width and bars scale, so the same SVG reads on a phone and on a
desktop without any script. The template ``payments/partials/_bar_chart.html``
draws it.
"""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

ROW_HEIGHT = 48
TEXT_BASELINE = 18
BAR_TOP = 26
BAR_HEIGHT = 14
# A bar for a non-zero value never vanishes, however small next to the largest.
MIN_VISIBLE_PERCENT = Decimal("0.5")


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    text: str
    percent: str  # of the chart's width, for SVG: "42.50%"
    negative: bool
    text_y: int
    bar_y: int


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    height: int
    bar_height: int = BAR_HEIGHT


def bar_chart(points: list[tuple[str, int, str]]) -> BarChart:
    """Lay out ``(label, value, text)`` points, one row each, in their order.

    Widths are proportional to the largest absolute value; negative values
    (a month whose refunds outweigh its charges) are flagged for their own
    style. All zeros give empty bars.
    """
    largest = max((abs(value) for _, value, _ in points), default=0)
    bars = []
    for row, (label, value, text) in enumerate(points):
        if largest and value:
            share = Decimal(abs(value)) * 100 / largest
            share = max(share, MIN_VISIBLE_PERCENT)
        else:
            share = Decimal(0)
        share = share.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        bars.append(
            Bar(
                label=label,
                value=value,
                text=text,
                percent=f"{share}%",
                negative=value < 0,
                text_y=row * ROW_HEIGHT + TEXT_BASELINE,
                bar_y=row * ROW_HEIGHT + BAR_TOP,
            )
        )
    return BarChart(bars=bars, height=max(len(bars), 1) * ROW_HEIGHT)


def months_between(first: date, last: date) -> list[date]:
    """First days of the months from ``first``'s to ``last``'s, both included."""
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def month_shift(day: date, months: int) -> date:
    """The first day of the month ``months`` after (or before) ``day``'s."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
