"""What the cost report keeps: stored reports and daily bandwidth counters, 2 years."""

from django.db.models import Min

from costs.models import BandwidthCounter, CostReport
from echopilot.retention import register

register(
    "cost_reports",
    setting="RETENTION_COST_REPORT_DAYS",
    default_days=730,
    queryset=lambda cutoff: CostReport.objects.filter(created_at__lt=cutoff),
    oldest=lambda: CostReport.objects.aggregate(m=Min("created_at"))["m"],
    description="stored cost reports, by when they were computed",
)


def _oldest_day():
    import datetime as dt

    day = BandwidthCounter.objects.aggregate(m=Min("day"))["m"]
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) if day else None


register(
    "bandwidth_days",
    setting="RETENTION_COST_REPORT_DAYS",
    default_days=730,
    # A day is past retention once it ended before the cutoff.
    queryset=lambda cutoff: BandwidthCounter.objects.filter(day__lt=cutoff.date()),
    oldest=_oldest_day,
    description="per-day API bandwidth counters, by day",
)
