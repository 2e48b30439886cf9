"""The overview's Costs card: the latest projection against the budget, a 30-day sparkline."""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from costs.admin import BUDGET_SETTING
from costs.charts import money, sparkline
from costs.models import CostReport
from costs.services import DEFAULT_THRESHOLDS

SPARK_DAYS = 30
# Reports read for the sparkline at most (a report every few minutes for 30 days
# would be thousands; the newest of each day is what is drawn).
SPARK_ROWS = 2000


# (lowest percentage, class), highest first: the default thresholds named in order.
COLOURS = tuple(reversed(tuple(zip(DEFAULT_THRESHOLDS, ("notice", "warn", "bad"), strict=True))))


def colour(percent: float | None) -> str:
    """Return the class of a budget percentage: ok, notice (50 %), warn (80 %), bad (100 %)."""
    if percent is None:  # a zero budget with spending: infinitely over it
        return "bad"
    return next((name for limit, name in COLOURS if percent >= limit), "ok")


def daily_totals(now: dt.datetime) -> list[float]:
    """Return the last report's total of each day of the last SPARK_DAYS days, oldest first."""
    since = now - dt.timedelta(days=SPARK_DAYS)
    rows = (
        CostReport.objects.filter(created_at__gte=since)
        .order_by("-created_at", "-id")
        .values_list("created_at", "total_monthly_usd")[:SPARK_ROWS]
    )
    by_day: dict[dt.date, float] = {}
    for created_at, total in rows:
        by_day.setdefault(created_at.date(), float(total))  # newest first: keep the first
    return [by_day[day] for day in sorted(by_day)]


def card(request: HttpRequest) -> dict[str, Any]:
    """Return the Costs card (2 queries)."""
    latest = CostReport.objects.order_by("-created_at", "-id").defer("payload").first()
    changelist = reverse("admin:costs_costreport_changelist")
    if latest is None:
        return {"report": None, "changelist": changelist}
    budget = latest.budget_usd
    values = daily_totals(timezone.now())
    return {
        "report": latest,
        "url": reverse("admin:costs_costreport_change", args=[latest.pk]),
        "changelist": changelist,
        "total": money(latest.total_monthly_usd, latest.currency),
        "budget": None if budget is None else money(budget, latest.currency),
        "percent": latest.percent_used,
        "colour": colour(latest.percent_used) if budget is not None else "",
        "budget_setting": BUDGET_SETTING,
        "spark": sparkline(values, budget=budget),
        "spark_days": len(values),
        "spark_low": money(min(values), latest.currency) if values else "",
        "spark_high": money(max(values), latest.currency) if values else "",
    }
