"""Reads: incidents and silences as plain dicts (API, commands, NDJSON lines)."""

from echopilot.mirror import now_iso
from incidents.models import Incident, Silence


def _iso(value):
    return now_iso(value) if value else None


def incident_dict(incident: Incident, *, alerts: bool = False) -> dict:
    data = {
        "id": incident.pk,
        "status": incident.status,
        "severity": incident.severity,
        "issue_keys": incident.issue_keys,
        "details": incident.details,
        "silenced_keys": incident.silenced_keys,
        "opened_at": _iso(incident.opened_at),
        "opened_by": incident.opened_by,
        "last_seen_at": _iso(incident.last_seen_at),
        "last_alert_at": _iso(incident.last_alert_at),
        "acknowledged_at": _iso(incident.acknowledged_at),
        "acknowledged_by": incident.acknowledged_by,
        "resolved_at": _iso(incident.resolved_at),
        "resolved_by": incident.resolved_by,
        "duration_seconds": int(incident.duration.total_seconds()),
    }
    if alerts:
        data["alerts"] = [
            {
                "id": a.pk,
                "kind": a.kind,
                "status": a.status,
                "created_at": _iso(a.created_at),
                "delivered_at": _iso(a.delivered_at),
                "attempts": a.attempts,
                "last_error": a.last_error,
            }
            for a in incident.alerts.all()
        ]
    return data


def list_incidents(*, status: str | None = None, limit: int = 50) -> list[dict]:
    """Return incidents newest first, optionally only those with `status`."""
    rows = Incident.objects.order_by("-opened_at", "-id").prefetch_related("alerts")
    if status == "active":
        rows = rows.filter(active=True)
    elif status:
        rows = rows.filter(status=status)
    return [incident_dict(i, alerts=True) for i in rows[:limit]]


def silence_dict(silence: Silence) -> dict:
    return {
        "id": silence.pk,
        "key": silence.key,
        "until": _iso(silence.until),
        "reason": silence.reason,
        "created_at": _iso(silence.created_at),
        "created_by": silence.created_by,
    }


def list_silences(*, now, include_expired: bool = False) -> list[dict]:
    rows = Silence.objects.all()
    if not include_expired:
        rows = rows.filter(until__gt=now)
    return [silence_dict(s) for s in rows[:500]]
