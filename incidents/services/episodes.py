"""An incident's states: severity, queued alerts, acknowledge and resolve."""

import datetime as dt
from typing import Any

from django.db import transaction

from echopilot import mirror
from incidents import clock, messages, telegram
from incidents.models import Alert, Incident, Severity
from incidents.selectors import incident_dict
from incidents.services.common import STREAM, IncidentConflict, IncidentNotFound
from incidents.services.delivery import deliver_pending

# An incident with this many issues or more is HIGH; fewer (but some) is MEDIUM.
HIGH_ISSUES = 3


def severity_for(count: int) -> str:
    """Return the severity of `count` issues ("" for none)."""
    if count <= 0:
        return ""
    return Severity.HIGH if count >= HIGH_ISSUES else Severity.MEDIUM


def queue_alert(
    incident: Incident, *, kind: str, text: str, dry_run: bool, now: dt.datetime
) -> Alert:
    """Store an alert for `incident` (pending, or dry_run without Telegram credentials)."""
    alert = Alert.objects.create(
        incident=incident,
        kind=kind,
        text=text,
        status=Alert.Status.DRY_RUN if dry_run else Alert.Status.PENDING,
        created_at=now,
        next_attempt_at=now,
    )
    mirror.append(
        STREAM,
        {
            "type": "alert_queued",
            "incident_id": incident.pk,
            "alert_id": alert.pk,
            "kind": kind,
            "status": alert.status,
            "text": text,
        },
    )
    return alert


def close_incident(
    incident: Incident, *, actor: str, now: dt.datetime, reason: str, dry_run: bool
) -> Alert | None:
    """Mark `incident` resolved; queue a resolved message if anything was announced."""
    incident.status = Incident.Status.RESOLVED
    incident.active = False
    incident.resolved_at = now
    incident.resolved_by = actor
    incident.save()
    mirror.append(STREAM, {"type": "incident_resolved", "actor": actor, **incident_dict(incident)})
    if incident.last_alert_at is None:
        return None  # nobody was told about it (all silenced): nothing to close
    text = messages.resolved_text(incident, reason=reason)
    return queue_alert(incident, kind=Alert.Kind.RESOLVED, text=text, dry_run=dry_run, now=now)


def _locked(incident_id: int) -> Incident:
    try:
        return Incident.objects.select_for_update().get(pk=incident_id)
    except Incident.DoesNotExist:
        raise IncidentNotFound(f"No incident with id {incident_id}.") from None


def acknowledge(*, incident_id: int, actor: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """Acknowledge an open incident: no more repeats (a new issue still alerts)."""
    now = now or clock.now()
    with transaction.atomic():
        incident = _locked(incident_id)
        if incident.status == Incident.Status.RESOLVED:
            raise IncidentConflict(f"Incident {incident_id} is already resolved.")
        changed = incident.status == Incident.Status.OPEN
        if changed:
            incident.status = Incident.Status.ACKNOWLEDGED
            incident.acknowledged_at = now
            incident.acknowledged_by = actor
            incident.save()
            mirror.append(
                STREAM, {"type": "incident_acknowledged", "actor": actor, **incident_dict(incident)}
            )
    return {"ok": True, "changed": changed, "incident": incident_dict(incident)}


def resolve(*, incident_id: int, actor: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """Resolve an incident by hand; a later scan that still finds issues opens a new one."""
    now = now or clock.now()
    with transaction.atomic():
        incident = _locked(incident_id)
        changed = incident.status != Incident.Status.RESOLVED
        if changed:
            close_incident(
                incident,
                actor=actor,
                now=now,
                reason=f"Resolved by {actor}.",
                dry_run=not telegram.configured(),
            )
    if changed:
        deliver_pending(now=clock.now())
    return {"ok": True, "changed": changed, "incident": incident_dict(incident)}
