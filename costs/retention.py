"""What the cost report keeps: stored reports and daily bandwidth counters, 2 years."""

from costs.models import BandwidthCounter, CostReport
from echopilot.retention import earliest, register

register(
    "cost_reports",
    setting="RETENTION_COST_REPORT_DAYS",
    default_days=730,
    queryset=lambda cutoff: CostReport.objects.filter(created_at__lt=cutoff),
    oldest=earliest(CostReport, "created_at"),
    description="stored cost reports, by when they were computed",
)


register(
    "bandwidth_days",
    setting="RETENTION_COST_REPORT_DAYS",
    default_days=730,
    # A day is past retention once it ended before the cutoff.
    queryset=lambda cutoff: BandwidthCounter.objects.filter(day__lt=cutoff.date()),
    oldest=earliest(BandwidthCounter, "day"),
    description="per-day API bandwidth counters, by day",
)
