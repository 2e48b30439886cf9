"""Lay out the admin's line chart of projected monthly cost (no JavaScript, no CDN).

`trend_chart()` computes the coordinates; the template
`admin/costs/costreport/trend_chart.html` draws them as inline SVG.
"""

import datetime as dt
from typing import Any

WIDTH, HEIGHT = 760, 220
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 20, 40
GRID = (0.0, 0.25, 0.5, 0.75, 1.0)  # horizontal lines, as fractions of the axis top


def _money(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.4f}"


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
    top = (max(values + ([budget] if budget else [])) or 1.0) * 1.1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + (plot_w / 2 if t1 == t0 else (t - t0) / (t1 - t0) * plot_w)

    def y(v: float) -> float:
        return TOP + plot_h - (v / top) * plot_h

    chart.update(
        grid=[
            {"y": _px(y(top * f)), "label_y": _px(y(top * f) + 4), "label": _money(top * f)}
            for f in GRID
        ],
        budget=None,
        coords=" ".join(f"{_px(x(t))},{_px(y(v))}" for t, v in zip(times, values, strict=True)),
        dots=[
            {"x": _px(x(t)), "y": _px(y(v)), "when": f"{when:%Y-%m-%d %H:%M}", "value": _money(v)}
            for t, v, (when, _) in zip(times, values, points, strict=True)
        ],
        first=points[0][0].strftime("%Y-%m-%d"),
        last=points[-1][0].strftime("%Y-%m-%d"),
        label_x=LEFT - 6,
        bottom_y=HEIGHT - 12,
        middle_y=_px(TOP + plot_h / 2),
    )
    if budget:
        chart["budget"] = {
            "y": _px(y(budget)),
            "label_y": _px(y(budget) - 4),
            "value": _money(budget),
        }
    return chart
