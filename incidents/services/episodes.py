"""An incident's states: severity, queued alerts, acknowledge, resolve, notes."""

import datetime as dt
from typing import Any

from django.db import transaction

from echopilot import channels, mirror
from incidents import clock, messages
from incidents.models import Alert, Delivery, Incident, IncidentEvent, IncidentNote, Severity
from incidents.selectors import incident_dict, note_dict
from incidents.services import events
from incidents.services.common import STREAM, IncidentConflict, IncidentNotFound, NoteInvalid
from incidents.services.delivery import WEBHOOK_KINDS, deliver_pending

# An incident with this many issues or more is HIGH; fewer (but some) is MEDIUM.
HIGH_ISSUES = 3
# A note's length at most (API, admin, acknowledge/resolve with a note).
NOTE_MAX = 2000


def severity_for(count: int) -> str:
    """Return the severity of `count` issues ("" for none)."""
    if count <= 0:
        return ""
    return Severity.HIGH if count >= HIGH_ISSUES else Severity.MEDIUM


def queue_alert(
    incident: Incident,
    *,
    kind: str,
    text: str,
    dry_run: bool,
    now: dt.datetime,
    targets: list[str] | None = None,
    conf: channels.Config | None = None,
) -> Alert:
    """Store an alert for `incident` with one delivery per target channel.

    Without targets (no channel configured, or none routed) it is a dry run.
    `conf` is the channel configuration the caller already read (a scan's).
    """
    conf = conf or channels.load()
    names = [n for n in (targets or []) if n in conf.channels] if not dry_run else []
    alert = Alert.objects.create(
        incident=incident,
        kind=kind,
        text=text,
        status=Alert.Status.PENDING if names else Alert.Status.DRY_RUN,
        created_at=now,
        next_attempt_at=now,
    )
    Delivery.objects.bulk_create(
        Delivery(
            alert=alert,
            channel=name,
            channel_type=conf.channels[name].type,
            created_at=now,
            next_attempt_at=now,
        )
        for name in names
    )
    alert.payload = {
        "kind": WEBHOOK_KINDS.get(Alert.Kind(kind), kind),
        "incident": incident_dict(incident, alerts=True, conf=conf),
    }
    alert.save(update_fields=["payload"])
    mirror.append(
        STREAM,
        {
            "type": "alert_queued",
            "incident_id": incident.pk,
            "alert_id": alert.pk,
            "kind": kind,
            "status": alert.status,
            "channels": names,
            "text": text,
        },
    )
    return alert


def close_incident(
    incident: Incident,
    *,
    actor: str,
    now: dt.datetime,
    reason: str,
    dry_run: bool,
    recovered: bool = False,
) -> Alert | None:
    """Mark `incident` resolved; tell every channel that was notified, if any was."""
    incident.status = Incident.Status.RESOLVED
    incident.active = False
    incident.resolved_at = now
    incident.resolved_by = actor
    incident.resolved_how = "recovered" if recovered else "by_hand"
    incident.save()
    how = "Resolved automatically: signals recovered." if recovered else reason
    events.record(incident, IncidentEvent.Kind.RESOLVED, how, at=now, actor=actor)
    mirror.append(STREAM, {"type": "incident_resolved", "actor": actor, **incident_dict(incident)})
    if incident.last_alert_at is None:
        return None  # nobody was told about it (all silenced): nothing to close
    text = messages.resolved_text(incident, reason=reason)
    return queue_alert(
        incident,
        kind=Alert.Kind.RESOLVED,
        text=text,
        dry_run=dry_run,
        now=now,
        targets=list(incident.notified_channels),
    )


def _locked(incident_id: int) -> Incident:
    try:
        return Incident.objects.select_for_update().get(pk=incident_id)
    except Incident.DoesNotExist:
        raise IncidentNotFound(f"No incident with id {incident_id}.") from None


def _note(incident: Incident, text: str, *, actor: str, now: dt.datetime) -> IncidentNote | None:
    text = validate_note(text, required=False)
    if not text:
        return None
    note = IncidentNote.objects.create(incident=incident, text=text, author=actor, created_at=now)
    mirror.append(STREAM, {"type": "incident_note", "actor": actor, **note_dict(note)})
    return note


def validate_note(text: Any, *, required: bool = True) -> str:
    """Return the note's text, stripped; raise NoteInvalid when empty or too long."""
    if not isinstance(text, str):
        raise NoteInvalid("'text' must be a string.")
    cleaned: str = text.strip()
    if required and not cleaned:
        raise NoteInvalid("'text' must not be empty.")
    if len(cleaned) > NOTE_MAX:
        raise NoteInvalid(f"'text' must be at most {NOTE_MAX} characters.")
    return cleaned


def add_note(
    *, incident_id: int, text: str, actor: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Write a note on an incident (any state)."""
    now = now or clock.now()
    text = validate_note(text)
    with transaction.atomic():
        incident = _locked(incident_id)
        note = _note(incident, text, actor=actor, now=now)
    assert note is not None
    return {"ok": True, "note": note_dict(note)}


def acknowledge(
    *, incident_id: int, actor: str, note: str = "", now: dt.datetime | None = None
) -> dict[str, Any]:
    """Acknowledge an open incident: no more repeats or escalation (a new issue still alerts)."""
    now = now or clock.now()
    validate_note(note, required=False)
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
            events.record(
                incident,
                IncidentEvent.Kind.ACKNOWLEDGED,
                f"Acknowledged by {actor}.",
                at=now,
                actor=actor,
            )
            mirror.append(
                STREAM, {"type": "incident_acknowledged", "actor": actor, **incident_dict(incident)}
            )
        _note(incident, note, actor=actor, now=now)
    return {"ok": True, "changed": changed, "incident": incident_dict(incident)}


def resolve(
    *, incident_id: int, actor: str, note: str = "", now: dt.datetime | None = None
) -> dict[str, Any]:
    """Resolve an incident by hand; a later scan that still finds issues opens a new one."""
    now = now or clock.now()
    validate_note(note, required=False)
    with transaction.atomic():
        incident = _locked(incident_id)
        changed = incident.status != Incident.Status.RESOLVED
        if changed:
            close_incident(
                incident,
                actor=actor,
                now=now,
                reason=f"Resolved by {actor}.",
                dry_run=not channels.configured(),
            )
        _note(incident, note, actor=actor, now=now)
    if changed:
        deliver_pending(now=clock.now())
    return {"ok": True, "changed": changed, "incident": incident_dict(incident)}
