"""Flapping: issues that return soon after recovering reopen the same incident."""

import datetime as dt

from echopilot import mirror
from incidents import limits
from incidents.models import Incident, IncidentEvent
from incidents.selectors import incident_dict
from incidents.services import events
from incidents.services.common import STREAM
from incidents.sources import parse_ts


def _window() -> dt.timedelta:
    return dt.timedelta(minutes=limits.value("INCIDENT_FLAP_MINUTES"))


def candidate(keys: list[str], *, now: dt.datetime) -> Incident | None:
    """Return the incident that recovered within the flap window and shares an issue key."""
    latest = (
        Incident.objects.select_for_update()
        .filter(
            status=Incident.Status.RESOLVED,
            resolved_how="recovered",
            resolved_at__gte=now - _window(),
        )
        .order_by("-resolved_at", "-id")
        .first()
    )
    if latest is not None and set(latest.issue_keys) & set(keys):
        return latest
    return None


def reopen(incident: Incident, *, actor: str, now: dt.datetime) -> bool:
    """Reopen `incident` (saved by the caller); return whether a 'reopened' alert may go out.

    At most one reopened alert per flap window; 3 reopenings within an hour
    mark it flapping. Acknowledgement and escalation start over.
    """
    after = now - incident.resolved_at if incident.resolved_at else dt.timedelta(0)
    incident.status = Incident.Status.OPEN
    incident.active = True
    incident.resolved_at = None
    incident.resolved_by = ""
    incident.resolved_how = ""
    incident.acknowledged_at = None
    incident.acknowledged_by = ""
    incident.escalation_started_at = now
    incident.fired_tiers = []
    incident.reopen_count += 1
    incident.reopened_at = [*incident.reopened_at, mirror.now_iso(now)][-20:]
    hour_ago = now - dt.timedelta(minutes=limits.FLAP_PERIOD_MINUTES)
    recent = [t for t in map(parse_ts, incident.reopened_at) if t is not None and t > hour_ago]
    minutes = int(after.total_seconds() // 60)
    text = (
        f"Reopened: its issues came back {minutes} min after it recovered "
        f"(reopen #{incident.reopen_count})."
    )
    events.record(incident, IncidentEvent.Kind.REOPENED, text, at=now, actor=actor)
    if len(recent) >= limits.FLAPPING_REOPENS and not incident.flapping:
        incident.flapping = True
        events.record(
            incident,
            IncidentEvent.Kind.FLAPPING,
            f"Flapping: reopened {len(recent)} times within an hour.",
            at=now,
            actor=actor,
        )
    incident.save()
    mirror.append(STREAM, {"type": "incident_reopened", "actor": actor, **incident_dict(incident)})
    last = incident.last_reopen_alert_at
    return last is None or now - last >= _window()
