"""Charts as data: scaling into the plot, round ticks, gaps left open, nothing to draw."""

from __future__ import annotations

import pytest

from dexpulse.collector.console.charts import Series, line_chart, nice_step, time_label


@pytest.mark.parametrize(
    ("span", "step"), [(100, 20.0), (7, 2.0), (0.3, 0.1), (14, 5.0), (0, 1.0), (1e6, 200000.0)]
)
def test_ticks_are_round(span: float, step: float) -> None:
    assert nice_step(span) == pytest.approx(step)


def test_points_fill_the_plot_and_ticks_cover_them() -> None:
    chart = line_chart("t", [Series("a", [(0, 10.0), (50, 55.0), (100, 90.0)])], y_min=0)
    assert not chart.empty
    (css, name, runs), = chart.lines  # fmt: skip
    xs = [float(p.split(",")[0]) for p in runs[0].split()]
    ys = [float(p.split(",")[1]) for p in runs[0].split()]
    assert xs[0] == chart.plot_left and xs[-1] == chart.plot_right
    assert ys[0] > ys[1] > ys[2]  # higher values are drawn higher up
    labels = [label for _, label in chart.y_ticks]
    assert labels[0] == "0" and float(labels[-1]) >= 90


def test_a_gap_or_a_missing_value_breaks_the_line() -> None:
    points = [(0, 1.0), (60, 2.0), (10_000, 3.0), (10_060, None), (10_120, 4.0)]
    chart = line_chart("t", [Series("a", points)], gap=900)
    assert len(chart.lines[0][2]) == 3


def test_no_data_is_an_empty_chart() -> None:
    chart = line_chart("t", [Series("a", [(0, None)])])
    assert chart.empty and chart.lines == []


def test_time_labels_switch_to_dates_beyond_two_days() -> None:
    assert time_label(3600)(0) == "00:00"
    assert time_label(30 * 86400)(0) == "01 Jan"
