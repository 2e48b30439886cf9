"""Reads: incidents and silences as plain dicts (API, commands, NDJSON lines)."""

import datetime as dt
from typing import Any

from echopilot.exceptions import Invalid
from echopilot.mirror import now_iso
from incidents.models import Incident, Silence

# What `list_incidents(status=…)` filters on: a state, or "active" (open or acknowledged).
STATUS_FILTERS = (*Incident.Status.values, "active")
# Incidents listed at most, and by default (the API; the command shows fewer by default).
LIST_LIMIT_MAX = 500
LIST_LIMIT_DEFAULT = 50
# Silences listed at most.
SILENCES_LIMIT = 500


def _iso(value: dt.datetime | None) -> str | None:
    return now_iso(value) if value else None


def incident_dict(incident: Incident, *, alerts: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
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


def list_incidents(
    *, status: str | None = None, limit: int = LIST_LIMIT_DEFAULT
) -> list[dict[str, Any]]:
    """Return incidents newest first, optionally only those with `status`."""
    if status and status not in STATUS_FILTERS:
        raise Invalid(f"'status' must be one of {', '.join(STATUS_FILTERS)}.")
    if not 1 <= limit <= LIST_LIMIT_MAX:
        raise Invalid(f"'limit' must be between 1 and {LIST_LIMIT_MAX}.")
    rows = Incident.objects.order_by("-opened_at", "-id").prefetch_related("alerts")
    if status == "active":
        rows = rows.filter(active=True)
    elif status:
        rows = rows.filter(status=status)
    return [incident_dict(i, alerts=True) for i in rows[:limit]]


def silence_dict(silence: Silence) -> dict[str, Any]:
    return {
        "id": silence.pk,
        "key": silence.key,
        "until": _iso(silence.until),
        "reason": silence.reason,
        "created_at": _iso(silence.created_at),
        "created_by": silence.created_by,
    }


def list_silences(*, now: dt.datetime, include_expired: bool = False) -> list[dict[str, Any]]:
    """Return silences, latest end first: active ones, or all with `include_expired`."""
    rows = Silence.objects.all()
    if not include_expired:
        rows = rows.filter(until__gt=now)
    return [silence_dict(s) for s in rows[:SILENCES_LIMIT]]
