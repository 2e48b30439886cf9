"""Layouts of the admin's inline SVG charts (the templates draw them; no script, no CDN)."""

from typing import Any

PALETTE = ["#417690", "#e07b39", "#5a9e4b", "#a14fb0", "#c4a000", "#d1495b", "#00798c"]
WIDTH, HEIGHT = 560, 180
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 10, 24


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _scale(lo: float, hi: float) -> tuple[float, float]:
    if hi - lo < 1e-12:
        pad = abs(hi) * 0.1 or 0.01
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


def _frame(days: list[str], lo: float, hi: float, fmt: str) -> dict[str, Any]:
    """Return the axes: x per day, y from `lo` to `hi`, with three labelled ticks."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(days) - 1, 1)

    def x(i: int) -> float:
        return round(LEFT + i * step, 2)

    def y(v: float) -> float:
        return round(TOP + plot_h * (hi - v) / (hi - lo), 2)

    ticks = [{"y": y(v), "label": format(v, fmt)} for v in (lo, (lo + hi) / 2, hi)]
    labels = [{"x": x(i), "label": d} for i, d in enumerate(days) if i in (0, len(days) - 1)]
    return {
        "x": x,
        "y": y,
        "out": {
            "width": WIDTH,
            "height": HEIGHT,
            "left": LEFT,
            "right": WIDTH - RIGHT,
            "top": TOP,
            "bottom": HEIGHT - BOTTOM,
            "label_y": HEIGHT - 6,
            "ticks": ticks,
            "days": labels,
        },
    }


def rate_chart(series: dict[str, Any]) -> dict[str, Any] | None:
    """Lay out the conversion rate of each variant over time (cumulative)."""
    days = series["days"]
    if not days:
        return None
    rates = [v["rate"] for d in days for v in d["variants"] if v["rate"] is not None]
    lo, hi = _scale(0.0, max(rates, default=0.0))
    lo = 0.0  # a rate axis starts at 0
    frame = _frame([d["date"] for d in days], lo, hi, ".1%")
    lines = []
    for k, name in enumerate(v["variant"] for v in days[0]["variants"]):
        xy = [
            (frame["x"](i), frame["y"](d["variants"][k]["rate"]))
            for i, d in enumerate(days)
            if d["variants"][k]["rate"] is not None
        ]
        lines.append(
            {
                "name": name,
                "color": color(k),
                "points": " ".join(f"{a},{b}" for a, b in xy),
                "dots": [{"x": a, "y": b} for a, b in xy],
            }
        )
    return {**frame["out"], "lines": lines}


def uplift_chart(series: dict[str, Any]) -> dict[str, Any] | None:
    """Lay out each variant's uplift over time with its always-valid band, and zero."""
    days = series["days"]
    cis = [
        bound
        for d in days
        for v in d["variants"][1:]
        if v["uplift_abs_seq_ci"]
        for bound in v["uplift_abs_seq_ci"]
    ]
    if not cis:
        return None
    lo, hi = _scale(max(min(min(cis), 0.0), -1.0), min(max(max(cis), 0.0), 1.0))
    frame = _frame([d["date"] for d in days], lo, hi, "+.1%")
    x, y = frame["x"], frame["y"]
    series_out = []
    for k in range(1, len(days[0]["variants"])):
        shown = [
            (i, d["variants"][k])
            for i, d in enumerate(days)
            if d["variants"][k]["uplift_abs_seq_ci"]
        ]
        upper = [f"{x(i)},{y(min(v['uplift_abs_seq_ci'][1], hi))}" for i, v in shown]
        lower = [f"{x(i)},{y(max(v['uplift_abs_seq_ci'][0], lo))}" for i, v in reversed(shown)]
        series_out.append(
            {
                "name": days[0]["variants"][k]["variant"],
                "color": color(k),
                "band": " ".join(upper + lower),
                "points": " ".join(f"{x(i)},{y(v['uplift_abs'])}" for i, v in shown),
                "dots": [{"x": x(i), "y": y(v["uplift_abs"])} for i, v in shown],
                # One day: the band as a whisker (a polygon of one x has no area).
                "whiskers": [
                    {
                        "x": x(i),
                        "y1": y(min(v["uplift_abs_seq_ci"][1], hi)),
                        "y2": y(max(v["uplift_abs_seq_ci"][0], lo)),
                    }
                    for i, v in shown
                ]
                if len(shown) == 1
                else [],
            }
        )
    return {**frame["out"], "zero_y": y(0.0), "series": series_out}
