"""Reads of stored cost reports; other apps use these, never the models."""

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from echopilot import mirror
from echopilot.exceptions import Invalid

if TYPE_CHECKING:
    from costs.models import CostReport

# The history window in days: the one definition the API, the command and this
# selector use.
HISTORY_DAYS = 90
MAX_HISTORY_DAYS = 3650
# Stored reports the admin's trend chart plots (the latest, about a year of dailies).
TREND_POINTS = 365


def latest_budget_status() -> dict[str, Any] | None:
    """Return the budget status of the latest stored cost report, or None (no report stored, or no budget in that report)."""  # noqa: E501
    from costs.models import CostReport

    report = (
        CostReport.objects.order_by("-created_at", "-id")
        .only(
            "id",
            "created_at",
            "total_monthly_usd",
            "budget_usd",
            "percent_used",
            "over_budget",
            "currency",
        )
        .first()
    )
    if report is None or report.budget_usd is None:
        return None
    percent = report.percent_used
    if percent is None:  # a zero budget: any spending is infinitely over it
        percent = float("inf") if report.total_monthly_usd > 0 else 0.0
    return {
        "over_budget": bool(report.over_budget),
        "total_monthly_usd": round(report.total_monthly_usd, 6),
        "budget_usd": float(report.budget_usd),
        "currency": report.currency,
        "percent_used": float(percent),
        "report_id": report.id,
        "ts_iso": mirror.now_iso(report.created_at),
    }


def report_dict(report: "CostReport") -> dict[str, Any]:
    """Return a stored report as the API shows it: its id and the stored payload."""
    return {"id": report.id, "actor": report.actor, **report.payload}


def reports_in_window(*, days: int, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Return the reports stored in the last `days` days, oldest first.

    Raise `Invalid` unless `days` is a whole number from 1 to MAX_HISTORY_DAYS.
    """
    from costs.models import CostReport

    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_HISTORY_DAYS:
        raise Invalid(f"days must be a whole number from 1 to {MAX_HISTORY_DAYS}")
    since = (now or timezone.now()) - dt.timedelta(days=days)
    rows = CostReport.objects.filter(created_at__gte=since).order_by("created_at", "id")
    return [report_dict(r) for r in rows.iterator(chunk_size=500)]


def history(*, days: int = HISTORY_DAYS, now: dt.datetime | None = None) -> dict[str, Any]:
    """Return the body of the history: `{"ok": true, "count": n, "reports": [...]}`."""
    reports = reports_in_window(days=days, now=now)
    return {"ok": True, "count": len(reports), "reports": reports}


def trend_points(*, limit: int = TREND_POINTS) -> list[tuple[dt.datetime, float]]:
    """Return (created_at, total_monthly_usd) of the latest `limit` reports, oldest first."""
    from costs.models import CostReport

    rows = CostReport.objects.order_by("-created_at", "-id").values_list(
        "created_at", "total_monthly_usd"
    )[:limit]
    return list(reversed(list(rows)))
