"""Reads of stored cost reports; other apps use these, never the models."""

import datetime as dt

from django.utils import timezone

from echopilot import mirror


def latest_budget_status() -> dict | None:
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


def report_dict(report) -> dict:
    """Return a stored report as the API shows it: its id and the stored payload."""
    return {"id": report.id, "actor": report.actor, **report.payload}


def reports_in_window(*, days: int, now: dt.datetime | None = None) -> list[dict]:
    """Return the reports stored in the last `days` days, oldest first."""
    from costs.models import CostReport

    since = (now or timezone.now()) - dt.timedelta(days=days)
    rows = CostReport.objects.filter(created_at__gte=since).order_by("created_at", "id")
    return [report_dict(r) for r in rows.iterator(chunk_size=500)]


def trend_points(*, limit: int = 365) -> list[tuple[dt.datetime, float]]:
    """Return (created_at, total_monthly_usd) of the latest `limit` reports, oldest first."""
    from costs.models import CostReport

    rows = CostReport.objects.order_by("-created_at", "-id").values_list(
        "created_at", "total_monthly_usd"
    )[:limit]
    return list(reversed(list(rows)))
