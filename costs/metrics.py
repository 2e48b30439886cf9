"""Scrape-time gauge of costs (read by GET /metrics, never per request)."""

from costs.models import CostReport


def monthly_usd() -> dict[tuple[str, ...], float]:
    """Return {(): projected monthly USD of the latest report}, or {} before the first one."""
    latest = (
        CostReport.objects.order_by("-created_at", "-id")
        .values_list("total_monthly_usd", flat=True)
        .first()
    )
    return {} if latest is None else {(): float(latest)}
