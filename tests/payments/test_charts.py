"""Geometry of the earnings chart: pure functions."""

import datetime as dt

from payments import charts


def test_bar_chart_widths_follow_the_largest_absolute_value():
    chart = charts.bar_chart(
        [("Jan", 10000, "a"), ("Feb", -2500, "b"), ("Mar", 0, "c"), ("Apr", 10, "d")]
    )
    assert [bar.percent for bar in chart.bars] == [
        "100.00%",
        "25.00%",
        "0.00%",
        "0.50%",
    ]
    assert [bar.negative for bar in chart.bars] == [False, True, False, False]
    assert [bar.text_y for bar in chart.bars] == [18, 66, 114, 162]
    assert chart.height == 4 * charts.ROW_HEIGHT


def test_bar_chart_of_zeros_or_nothing_draws_empty_bars():
    assert [b.percent for b in charts.bar_chart([("Jan", 0, "x")]).bars] == ["0.00%"]
    assert charts.bar_chart([]).bars == []


def test_months_between_crosses_the_year():
    assert charts.months_between(dt.date(2025, 11, 30), dt.date(2026, 2, 1)) == [
        dt.date(2025, 11, 1),
        dt.date(2025, 12, 1),
        dt.date(2026, 1, 1),
        dt.date(2026, 2, 1),
    ]
    assert charts.months_between(dt.date(2026, 3, 1), dt.date(2026, 2, 1)) == []


def test_month_shift_goes_both_ways():
    assert charts.month_shift(dt.date(2026, 1, 15), -11) == dt.date(2025, 2, 1)
    assert charts.month_shift(dt.date(2026, 12, 31), 1) == dt.date(2027, 1, 1)
    assert charts.month_shift(dt.date(2026, 5, 9), 0) == dt.date(2026, 5, 1)
