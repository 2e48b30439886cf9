"""The time series: cumulative results per variant at the end of each UTC day, from aggregates."""

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from echopilot.exceptions import Invalid
from experiments import stats
from experiments.limits import DAYS_DEFAULT, DAYS_MAX
from experiments.models import EventDay, Experiment, ExposureDay
from experiments.selectors import Comparison, comparisons
from experiments.services import check_event_name, get_experiment


def check_days(days: object) -> int:
    """Refuse a window that is not a whole number of days in 1..DAYS_MAX (400 naming it)."""
    if isinstance(days, str) and days.strip().isdigit() and days.strip() == days:
        days = int(days)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= DAYS_MAX:
        raise Invalid(f"days: must be a whole number from 1 to {DAYS_MAX}.")
    return days


def _point(
    exp: Experiment, how: list[Comparison], users: Mapping[str, int], conv: Mapping[str, int]
) -> list[dict]:
    """Return one day's cumulative figures per variant (control first)."""
    n0 = users[exp.variants[0]]
    x0 = min(conv[exp.variants[0]], n0)
    out = []
    for i, variant in enumerate(exp.variants):
        n = users[variant]
        x = min(conv[variant], n)  # as in `_variant_result`
        compare = i > 0 and n > 0 and n0 > 0
        out.append(
            {
                "variant": variant,
                "users": n,
                "converters": x,
                "rate": x / n if n else None,
                "uplift_abs": x / n - x0 / n0 if compare else None,
                "uplift_abs_ci": stats.diff_ci(x, n, x0, n0) if compare else None,
                "uplift_abs_seq_ci": (
                    stats.sequential_diff_ci(x, n, x0, n0, how[i]["n_star"], how[i]["alpha"])
                    if compare
                    else None
                ),
            }
        )
    return out


def timeseries(
    *, experiment: str, event: str = "conversion", days: object = DAYS_DEFAULT
) -> dict[str, Any]:
    """Return cumulative results at the end of each of the last `days` UTC days.

    Days before the first exposure are left out; two indexed reads of the
    per-day aggregates, whatever the number of events.
    """
    check_event_name(event)
    window = check_days(days)
    exp = get_experiment(experiment)
    exposed = ExposureDay.objects.filter(experiment=exp).values_list("day", "variant", "users")
    converted = EventDay.objects.filter(experiment=exp, event=event).values_list(
        "day", "variant", "converters"
    )
    changes: dict[date, list[tuple[str, str, int]]] = {}
    for kind, rows in (("users", exposed), ("conv", converted)):
        for day, variant, n in rows:
            changes.setdefault(day, []).append((kind, variant, int(n)))
    today = timezone.now().date()
    start = today - timedelta(days=window - 1)
    totals = {kind: dict.fromkeys(exp.variants, 0) for kind in ("users", "conv")}
    points = []
    for day in sorted(changes):  # everything before the window: the starting totals
        if day < start:
            for kind, variant, n in changes[day]:
                totals[kind][variant] = totals[kind].get(variant, 0) + n
    first = min(changes, default=today + timedelta(days=1))
    day = max(start, first)
    how = comparisons(exp)
    while day <= today:
        for kind, variant, n in changes.get(day, []):
            totals[kind][variant] = totals[kind].get(variant, 0) + n
        points.append(
            {
                "date": day.isoformat(),
                "variants": _point(exp, how, totals["users"], totals["conv"]),
            }
        )
        day += timedelta(days=1)
    return {"experiment": exp.key, "event": event, "analysis": exp.analysis, "days": points}
