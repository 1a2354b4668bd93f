"""Charts as plain data for the templates to draw as inline SVG (numbers only, no script).

Drawing on the server keeps the console free of a charting library and of any client-side
rendering of endpoint strings: a chart is polylines and tick labels the template escapes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float | None]]
    """(x, y); x in seconds or any number, y None for a gap."""
    css: str = "s1"


@dataclass
class Chart:
    title: str
    width: int = WIDTH
    height: int = HEIGHT
    lines: list[tuple[str, str, list[str]]] = field(default_factory=list)
    """(css class, series name, polyline "x,y x,y" strings: one per unbroken run)."""
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    empty: bool = True
    unit: str = ""

    @property
    def plot_left(self) -> int:
        return LEFT

    @property
    def plot_right(self) -> int:
        return self.width - RIGHT

    @property
    def plot_bottom(self) -> int:
        return self.height - BOTTOM


def nice_step(span: float, count: int = 4) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about ``count`` ticks."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power * 1.25:  # a little finer rather than too coarse
            return float(factor * power)
    return float(10 * power)


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    x_label: Callable[[float], str] | None = None,
    y_min: float | None = None,
    y_max: float | None = None,
    unit: str = "",
    gap: float | None = None,
    height: int = HEIGHT,
) -> Chart:
    """Scale ``series`` into the plot area. Two x values further apart than ``gap`` are not
    joined (a laptop that was off draws no line across the night)."""
    chart = Chart(title, height=height, unit=unit)
    xs = [x for s in series for x, y in s.points if y is not None]
    ys = [y for s in series for _, y in s.points if y is not None]
    if not xs:
        return chart
    chart.empty = False
    x0, x1 = min(xs), max(xs)
    lo = min(ys) if y_min is None else min(y_min, min(ys))
    hi = max(ys) if y_max is None else max(y_max, max(ys))
    if hi == lo:
        hi, lo = hi + 1, lo - (1 if lo != 0 else 0)
    step = nice_step(hi - lo)
    lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
    width = chart.plot_right - LEFT
    height = chart.plot_bottom - TOP

    def sx(x: float) -> float:
        return LEFT + (0.5 if x1 == x0 else (x - x0) / (x1 - x0)) * width

    def sy(y: float) -> float:
        return chart.plot_bottom - (y - lo) / (hi - lo) * height

    for s in series:
        runs: list[str] = []
        current: list[str] = []
        last_x: float | None = None
        for x, y in sorted(s.points, key=lambda p: p[0]):
            broken = y is None or (gap is not None and last_x is not None and x - last_x > gap)
            if broken and current:
                runs.append(" ".join(current))
                current = []
            if y is not None:
                current.append(f"{sx(x):.1f},{sy(y):.1f}")
                last_x = x
        if current:
            runs.append(" ".join(current))
        chart.lines.append((s.css, s.name, runs))
    value = lo
    while value <= hi + step / 2:
        chart.y_ticks.append((round(sy(value), 1), _number(value)))
        value += step
    label = x_label or _number
    for i in range(5):
        x = x0 + (x1 - x0) * i / 4
        text = label(x)
        if not chart.x_ticks or chart.x_ticks[-1][1] != text:  # a short span: no repeats
            chart.x_ticks.append((round(sx(x), 1), text))
    return chart


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:.1f}"


def time_label(span_s: float) -> Callable[[float], str]:
    """Tick labels for epoch seconds (UTC): the time of day within two days, else the date."""

    def label(x: float) -> str:
        at = datetime.fromtimestamp(x, UTC)
        return at.strftime("%H:%M") if span_s <= 2 * 86400 else at.strftime("%d %b")

    return label
