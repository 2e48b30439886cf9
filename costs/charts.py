"""A server-rendered SVG line chart of projected monthly cost (no JavaScript, no CDN)."""

import datetime as dt

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 760, 220
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 20, 40


def _money(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.4f}"


def trend_svg(
    points: list[tuple[dt.datetime, float]], *, currency: str, budget: float | None = None
) -> SafeString:
    """Return an inline SVG of (time, projected monthly total) points, oldest first."""
    if not points:
        return format_html(
            '<svg class="cost-trend" width="{}" height="60" role="img" '
            'aria-label="No stored reports yet"><text x="10" y="35">'
            "No stored reports yet: run manage.py cost_report.</text></svg>",
            WIDTH,
        )
    times = [p[0].timestamp() for p in points]
    values = [float(p[1]) for p in points]
    t0, t1 = min(times), max(times)
    top = max(values + ([budget] if budget else [])) or 1.0
    top *= 1.1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + (plot_w / 2 if t1 == t0 else (t - t0) / (t1 - t0) * plot_w)

    def y(v: float) -> float:
        return TOP + plot_h - (v / top) * plot_h

    coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(times, values, strict=True))
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="3"><title>{}: {} {}</title></circle>',
        (
            (f"{x(t):.1f}", f"{y(v):.1f}", when.strftime("%Y-%m-%d %H:%M"), _money(v), currency)
            for t, v, (when, _) in zip(times, values, points, strict=True)
        ),
    )
    grid = format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#ddd"/>'
        '<text x="{}" y="{}" text-anchor="end" font-size="11">{}</text>',
        (
            (
                LEFT,
                WIDTH - RIGHT,
                f"{y(top * f):.1f}",
                f"{y(top * f):.1f}",
                LEFT - 6,
                f"{y(top * f) + 4:.1f}",
                _money(top * f),
            )
            for f in (0.0, 0.25, 0.5, 0.75, 1.0)
        ),
    )
    budget_line = ""
    if budget:
        budget_line = format_html(
            '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#ba2121" '
            'stroke-dasharray="6 4"><title>budget {} {}</title></line>'
            '<text x="{}" y="{}" text-anchor="end" font-size="11" fill="#ba2121">'
            "budget</text>",
            LEFT,
            WIDTH - RIGHT,
            f"{y(budget):.1f}",
            f"{y(budget):.1f}",
            _money(budget),
            currency,
            WIDTH - RIGHT,
            f"{y(budget) - 4:.1f}",
        )
    first = points[0][0].strftime("%Y-%m-%d")
    last = points[-1][0].strftime("%Y-%m-%d")
    return format_html(
        '<svg class="cost-trend" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        'viewBox="0 0 {w} {h}" role="img" aria-label="Projected monthly cost, {c}">'
        "{grid}{budget}"
        '<polyline fill="none" stroke="#417690" stroke-width="2" points="{coords}"/>'
        '<g fill="#417690">{dots}</g>'
        '<text x="{l}" y="{by}" font-size="11">{first}</text>'
        '<text x="{r}" y="{by}" font-size="11" text-anchor="end">{last}</text>'
        '<text x="10" y="{my}" font-size="11" transform="rotate(-90 10 {my})">{c} / month</text>'
        "</svg>",
        w=WIDTH,
        h=HEIGHT,
        c=currency,
        grid=grid,
        budget=mark_safe(budget_line),  # built with format_html above
        coords=coords,
        dots=dots,
        l=LEFT,
        r=WIDTH - RIGHT,
        by=HEIGHT - 12,
        first=first,
        last=last,
        my=f"{TOP + plot_h / 2:.1f}",
    )
