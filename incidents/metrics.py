"""Scrape-time gauges of incidents (read by GET /metrics, never per request)."""

from django.db.models import Count

from incidents.models import Alert, Incident, Severity


def open_by_severity() -> dict[tuple[str, ...], float]:
    """Return {(severity,): open or acknowledged incidents}, every severity present."""
    rows = Incident.objects.filter(active=True).values_list("severity").annotate(n=Count("id"))
    counts = dict(rows)
    return {(s,): float(counts.get(s, 0)) for s in Severity.values}


def alerts_pending() -> dict[tuple[str, ...], float]:
    """Return {(): alerts not yet delivered}."""
    return {(): float(Alert.objects.filter(status=Alert.Status.PENDING).count())}
