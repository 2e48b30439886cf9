"""Reads: incidents and silences as plain dicts (API, commands, NDJSON lines)."""

import datetime as dt
from typing import Any

from echopilot import channels
from echopilot.exceptions import Invalid
from echopilot.mirror import iso
from incidents.errors import IncidentNotFound
from incidents.models import Incident, IncidentEvent, IncidentNote, Silence

# What `list_incidents(status=…)` filters on: a state, or "active" (open or acknowledged).
STATUS_FILTERS = (*Incident.Status.values, "active")
# Incidents listed at most, and by default (the API; the command shows fewer by default).
LIST_LIMIT_MAX = 500
LIST_LIMIT_DEFAULT = 50
# Silences listed at most.
SILENCES_LIMIT = 500


def incident_dict(
    incident: Incident, *, alerts: bool = False, conf: channels.Config | None = None
) -> dict[str, Any]:
    conf = conf or channels.load()
    data: dict[str, Any] = {
        "id": incident.pk,
        "status": incident.status,
        "severity": incident.severity,
        "issue_keys": incident.issue_keys,
        "details": incident.details,
        "silenced_keys": incident.silenced_keys,
        "opened_at": iso(incident.opened_at),
        "opened_by": incident.opened_by,
        "last_seen_at": iso(incident.last_seen_at),
        "last_alert_at": iso(incident.last_alert_at),
        "acknowledged_at": iso(incident.acknowledged_at),
        "acknowledged_by": incident.acknowledged_by,
        "resolved_at": iso(incident.resolved_at),
        "resolved_by": incident.resolved_by,
        "duration_seconds": int(incident.duration.total_seconds()),
        "issue_keys_omitted": incident.issue_keys_omitted,
        "reopen_count": incident.reopen_count,
        "flapping": incident.flapping,
        "runbooks": channels.runbooks_for(conf, incident.issue_keys),
    }
    if alerts:
        data["alerts"] = [
            {
                "id": a.pk,
                "kind": a.kind,
                "status": a.status,
                "created_at": iso(a.created_at),
                "delivered_at": iso(a.delivered_at),
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
    conf = channels.load()
    return [incident_dict(i, alerts=True, conf=conf) for i in rows[:limit]]


def incident_detail(incident_id: int) -> dict[str, Any]:
    """Return one incident with its alerts, runbooks and timeline (ISO times)."""
    incident = Incident.objects.prefetch_related("alerts").filter(pk=incident_id).first()
    if incident is None:
        raise IncidentNotFound(f"No incident with id {incident_id}.")
    data = incident_dict(incident, alerts=True)
    data["timeline"] = [{**entry, "at": iso(entry["at"])} for entry in timeline(incident)]
    return data


def note_dict(note: IncidentNote) -> dict[str, Any]:
    return {
        "id": note.pk,
        "incident_id": note.incident_id,
        "text": note.text,
        "author": note.author,
        "created_at": iso(note.created_at),
    }


def _delivery_text(kind: str, channel: str, status: str, attempts: int, error: str) -> str:
    state = {"delivered": "delivered", "pending": "pending", "dry_run": "dry run (not sent)"}
    text = f"{kind} alert on {channel}: {state.get(status, status)}"
    if attempts:
        text += f", {attempts} attempt(s)"
    if error and status == "pending":
        text += f" (last error: {error})"
    return text


def _alert_entries(incident: Incident) -> list[dict[str, Any]]:
    entries = []
    for alert in incident.alerts.prefetch_related("deliveries").order_by("created_at", "id"):
        rows = list(alert.deliveries.all())
        if not rows:
            entries.append(
                {
                    "at": alert.created_at,
                    "kind": "alert",
                    "text": f"{alert.kind} alert: dry run (no channel configured)",
                    "alert_id": alert.pk,
                    "alert_kind": alert.kind,
                    "channel": None,
                    "status": alert.status,
                    "attempts": alert.attempts,
                    "delivered_at": alert.delivered_at,
                    "last_error": alert.last_error,
                }
            )
        for d in rows:
            entries.append(
                {
                    "at": alert.created_at,
                    "kind": "alert",
                    "text": _delivery_text(
                        alert.kind, d.channel, d.status, d.attempts, d.last_error
                    ),
                    "alert_id": alert.pk,
                    "alert_kind": alert.kind,
                    "channel": d.channel,
                    "status": d.status,
                    "attempts": d.attempts,
                    "delivered_at": d.delivered_at,
                    "last_error": d.last_error,
                }
            )
    return entries


def timeline(incident: Incident) -> list[dict[str, Any]]:
    """Return what happened to `incident`, in time order: each {"at", "kind", "text", ...}.

    Opened, every alert per channel (delivery state, attempts), escalations,
    silences applied, acknowledgement, notes, reopenings and resolution.
    """

    def entry(at: Any, kind: str, text: str, actor: str) -> dict[str, Any]:
        return {"at": at, "kind": kind, "text": text, "actor": actor}

    entries = [
        entry(incident.opened_at, "opened", f"Opened by {incident.opened_by}.", incident.opened_by)
    ]
    kinds = set()
    for event in IncidentEvent.objects.filter(incident=incident).exclude(kind="opened"):
        kinds.add(event.kind)
        entries.append(entry(event.at, event.kind, event.text, event.actor))
    # Incidents from before the timeline existed: their own fields tell the rest.
    for kind, at, by in (
        ("acknowledged", incident.acknowledged_at, incident.acknowledged_by),
        ("resolved", incident.resolved_at, incident.resolved_by),
    ):
        if kind not in kinds and at:
            entries.append(entry(at, kind, f"{kind.capitalize()} by {by}.", by))
    entries += _alert_entries(incident)
    for note in IncidentNote.objects.filter(incident=incident):
        entries.append(entry(note.created_at, "note", note.text, note.author))
    order = {"opened": 0, "alert": 2, "note": 3}
    return sorted(entries, key=lambda e: (e["at"], order.get(e["kind"], 1)))


def silence_dict(silence: Silence) -> dict[str, Any]:
    return {
        "id": silence.pk,
        "key": silence.key,
        "until": iso(silence.until),
        "reason": silence.reason,
        "created_at": iso(silence.created_at),
        "created_by": silence.created_by,
    }


def list_silences(*, now: dt.datetime, include_expired: bool = False) -> list[dict[str, Any]]:
    """Return silences, latest end first: active ones, or all with `include_expired`."""
    rows = Silence.objects.all()
    if not include_expired:
        rows = rows.filter(until__gt=now)
    return [silence_dict(s) for s in rows[:SILENCES_LIMIT]]
