"""Lay out the cost charts (no JavaScript, no CDN): the admin's trend and the overview sparkline.

`trend_chart()` and `sparkline()` compute the coordinates; the templates
`admin/costs/costreport/trend_chart.html` and `costs/sparkline.html` draw
them as inline SVG. The value axis always has round ticks (1-2-5 steps).
"""

import datetime as dt
import math
from typing import Any

WIDTH, HEIGHT = 760, 220
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 20, 40
TICKS = 4  # about this many steps on the value axis
SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 240, 48, 3


def money(value: float, currency: str = "") -> str:
    """Return an amount with as many decimals as its size needs, and the currency."""
    if value == 0:
        text = "0"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 1:
        text = f"{value:,.2f}"
    else:
        text = f"{value:.4f}".rstrip("0")
    return f"{text} {currency}".strip()


def nice_step(span: float, steps: int = TICKS) -> float:
    """Return the smallest 1-2-5 step (… 0.5, 1, 2, 5, 10 …) cutting `span` in <= `steps`+1."""
    if span <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(span / steps))
    for factor in (1, 2, 5, 10, 20):
        step = factor * power
        if math.ceil(span / step - 1e-9) <= steps + 1:
            return float(step)
    return float(20 * power)


def ticks(top_value: float) -> list[float]:
    """Return round tick values from 0 to the first step at or above `top_value`."""
    step = nice_step(top_value)
    count = max(1, math.ceil(top_value / step - 1e-9))
    return [round(i * step, 10) for i in range(count + 1)]


def _label(value: float, step: float) -> str:
    places = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:,.{places}f}"


def _px(value: float) -> str:
    return f"{value:.1f}"


def trend_chart(
    points: list[tuple[dt.datetime, float]], *, currency: str, budget: float | None = None
) -> dict[str, Any]:
    """Return the layout of (time, projected monthly total) points, oldest first."""
    chart: dict[str, Any] = {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "currency": currency,
        "points": len(points),
    }
    if not points:
        return chart
    times = [p[0].timestamp() for p in points]
    values = [float(p[1]) for p in points]
    t0, t1 = min(times), max(times)
    grid = ticks(max(values + ([budget] if budget else [])) or 1.0)
    top = grid[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + (plot_w / 2 if t1 == t0 else (t - t0) / (t1 - t0) * plot_w)

    def y(v: float) -> float:
        return TOP + plot_h - (v / top) * plot_h

    step = grid[1] - grid[0] if len(grid) > 1 else 1.0
    chart.update(
        grid=[{"y": _px(y(v)), "label_y": _px(y(v) + 4), "label": _label(v, step)} for v in grid],
        budget=None,
        coords=" ".join(f"{_px(x(t))},{_px(y(v))}" for t, v in zip(times, values, strict=True)),
        dots=[
            {"x": _px(x(t)), "y": _px(y(v)), "when": when, "value": money(v, currency)}
            for t, v, (when, _) in zip(times, values, points, strict=True)
        ],
        first=points[0][0],
        last=points[-1][0],
        label_x=LEFT - 6,
        bottom_y=HEIGHT - 12,
        middle_y=_px(TOP + plot_h / 2),
    )
    if budget:
        chart["budget"] = {
            "y": _px(y(budget)),
            "label_y": _px(y(budget) - 4),
            "value": money(budget, currency),
        }
    return chart


def sparkline(values: list[float], *, budget: float | None = None) -> dict[str, Any]:
    """Return the layout of a small line of daily values (oldest first), 0 at the bottom."""
    chart: dict[str, Any] = {"width": SPARK_WIDTH, "height": SPARK_HEIGHT, "points": len(values)}
    if not values:
        return chart
    top = max(values + ([budget] if budget else [])) or 1.0
    plot_w, plot_h = SPARK_WIDTH - 2 * SPARK_PAD, SPARK_HEIGHT - 2 * SPARK_PAD

    def x(i: int) -> float:
        return SPARK_PAD + (plot_w / 2 if len(values) == 1 else i / (len(values) - 1) * plot_w)

    def y(v: float) -> float:
        return SPARK_PAD + plot_h - v / top * plot_h

    chart["coords"] = " ".join(f"{_px(x(i))},{_px(y(v))}" for i, v in enumerate(values))
    chart["last_x"], chart["last_y"] = _px(x(len(values) - 1)), _px(y(values[-1]))
    chart["budget_y"] = _px(y(budget)) if budget else None
    return chart
