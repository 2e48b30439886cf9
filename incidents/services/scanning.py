"""The scan: read every signal, open/update/resolve the one active incident, alert."""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from echopilot import channels, mirror
from echopilot.text import console_date
from incidents import clock, limits, messages, sources
from incidents.models import SEVERITY_RANK, Alert, Incident, IncidentEvent, Silence
from incidents.selectors import incident_dict
from incidents.services import events, flapping, routing
from incidents.services.common import STREAM
from incidents.services.delivery import deliver_pending
from incidents.services.episodes import close_incident, queue_alert, severity_for
from incidents.services.silences import active_silences
from incidents.sources import Issue

# Tries of the scan's transaction: a concurrent scan may open the incident
# between our read and our insert (the one-active constraint refuses ours).
SCAN_ATTEMPTS = 3


@dataclass
class Findings:
    """What one scan found, and for whom it runs."""

    issues: list[Issue]
    silenced: set[str]
    invalid_sources: list[str]
    dry_run: bool
    actor: str
    now: dt.datetime
    conf: channels.Config
    silences: list[Silence]
    omitted: int = 0

    @property
    def loud(self) -> list[str]:
        return [k for k in self.keys if k not in self.silenced]

    @property
    def keys(self) -> list[str]:
        return [key for issue in self.issues for key in issue.keys]

    @property
    def details(self) -> list[str]:
        return [issue.detail for issue in self.issues]

    @property
    def severity(self) -> str:
        return severity_for(len(self.issues))

    @property
    def loud_severity(self) -> str:
        """Severity of the unsilenced issues only (what the on-call chat is told about)."""
        loud = [i for i in self.issues if any(k not in self.silenced for k in i.keys)]
        return severity_for(len(loud))


@dataclass
class ScanOutcome:
    incident_id: int | None = None
    incident_status: str | None = None
    alert: Alert | None = None
    resolve_blocked: str = ""


def scan(*, actor: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """Read every source, open/update/resolve the incident, queue and send alerts."""
    now = now or clock.now()
    issues, source_map = sources.collect(now)
    issues, omitted = cap_issues(issues)
    silences = active_silences(now)
    conf = routing.config()
    found = Findings(
        issues=issues,
        silenced={k for issue in issues for k in issue.keys if any(s.matches(k) for s in silences)},
        invalid_sources=sorted(
            n for n, rep in source_map.items() if rep.get("status") == "invalid"
        ),
        dry_run=not conf.channels,
        actor=actor,
        now=now,
        conf=conf,
        silences=silences,
        omitted=omitted,
    )
    outcome = _apply_with_retry(found)
    delivered = deliver_pending(now=clock.now())
    if outcome.alert is not None:
        outcome.alert.refresh_from_db()
    result = _scan_result(found, outcome, delivered=len(delivered), source_map=source_map)
    mirror.append(STREAM, {"type": "scan", "actor": actor, **_scan_line(result)})
    return result


def cap_issues(issues: list[Issue]) -> tuple[list[Issue], int]:
    """Keep issues up to 200 distinct keys; return them and how many keys were left out."""
    kept: list[Issue] = []
    keys: set[str] = set()
    omitted = 0
    for issue in issues:
        new = {k for k in issue.keys if k not in keys}
        if len(keys) + len(new) > limits.ISSUE_KEYS_MAX:
            omitted += len(new)
            continue
        keys |= new
        kept.append(issue)
    return kept, omitted


def _apply_with_retry(found: Findings) -> ScanOutcome:
    attempt = 0
    while True:
        attempt += 1
        try:
            with transaction.atomic():
                return _apply_scan(found)
        except IntegrityError:
            # Another scan opened the incident between our read and insert
            # (PostgreSQL); run again and update the incident it opened.
            if attempt >= SCAN_ATTEMPTS:
                raise


def _scan_result(
    found: Findings, outcome: ScanOutcome, *, delivered: int, source_map: dict[str, dict]
) -> dict[str, Any]:
    alert = outcome.alert
    result = {
        "ok": True,
        "breach": bool(found.issues),
        "incident_count": len(found.issues),
        "details": found.details,
        "severity": found.severity or None,
        "incident_id": outcome.incident_id,
        "incident_status": outcome.incident_status,
        "alerted": alert is not None,
        "alert": None if alert is None else _alert_brief(alert),
        "delivered": delivered,
        "pending_alerts": Alert.objects.filter(status=Alert.Status.PENDING).count(),
        "dry_run": found.dry_run,
        "issues": [
            {
                "key": issue.key,
                "detail": issue.detail,
                "keys": issue.keys,
                "silenced": all(k in found.silenced for k in issue.keys),
            }
            for issue in found.issues
        ],
        "sources": source_map,
    }
    if outcome.resolve_blocked:
        result["resolve_blocked"] = outcome.resolve_blocked
    return result


# The scan result's fields that go into the NDJSON `scan` line (not `issues`, `ok`).
SCAN_LINE_FIELDS = (
    "breach",
    "incident_count",
    "details",
    "severity",
    "incident_id",
    "incident_status",
    "alerted",
    "alert",
    "delivered",
    "pending_alerts",
    "dry_run",
    "sources",
    "resolve_blocked",
)


def _scan_line(result: dict[str, Any]) -> dict[str, Any]:
    return {k: result[k] for k in SCAN_LINE_FIELDS if k in result}


def _alert_brief(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "status": alert.status,
        "attempts": alert.attempts,
        "last_error": alert.last_error,
    }


# --- inside the scan's transaction ---------------------------------------------------


def _apply_scan(found: Findings) -> ScanOutcome:
    """Update the one active incident from a scan's findings (inside a transaction)."""
    incident = Incident.objects.select_for_update().filter(active=True).first()
    if not found.issues:
        return ScanOutcome() if incident is None else _recovered(incident, found)
    if incident is None:
        reopened = flapping.candidate(found.keys, now=found.now)
        if reopened is not None:
            return _reopen(reopened, found)
        incident = _open(found)
        previously_loud: set[str] = set()
    else:
        # What the previous scan of this episode found unsilenced: a key is new when
        # it is not among these (first seen, back after vanishing, or unsilenced).
        previously_loud = set(incident.issue_keys) - set(incident.silenced_keys)
        _update(incident, found)
    alert = _alert_if_due(incident, found, previously_loud)
    return ScanOutcome(incident.pk, incident.status, alert)


def _recovered(incident: Incident, found: Findings) -> ScanOutcome:
    """No issues: resolve the incident, unless a source could not be read."""
    if found.invalid_sources:
        # An unreadable source may hide a problem that is still there.
        incident.last_seen_at = found.now
        incident.save(update_fields=["last_seen_at", "updated_at"])
        blocked = "unreadable sources: " + ", ".join(found.invalid_sources)
        return ScanOutcome(incident.pk, incident.status, resolve_blocked=blocked)
    alert = close_incident(
        incident,
        actor=found.actor,
        now=found.now,
        reason="Signals recovered.",
        dry_run=found.dry_run,
        recovered=True,
    )
    return ScanOutcome(incident.pk, incident.status, alert)


def _reopen(incident: Incident, found: Findings) -> ScanOutcome:
    """The issues came back soon after recovering: reopen the same incident."""
    allowed = flapping.reopen(incident, actor=found.actor, now=found.now)
    _update(incident, found)
    alert = None
    if allowed and found.loud:
        text = _followup_text(Alert.Kind.REOPENED, incident, found)
        alert = _queue_routed(incident, found, Alert.Kind.REOPENED, text)
        incident.last_reopen_alert_at = found.now
        incident.last_alert_at = found.now
    # Told (or, inside the flap window, deliberately not told again): no "new issue" next.
    incident.alerted_keys = sorted(found.loud)
    incident.alerted_severity = found.severity
    incident.save()
    return ScanOutcome(incident.pk, incident.status, alert)


def _queue_routed(incident: Incident, found: Findings, kind: str, text: str) -> Alert:
    """Queue an alert to the channels told so far plus the tiers due now."""
    targets, fresh = routing.targets_now(
        incident, found.conf, severity=found.severity, keys=found.loud, now=found.now
    )
    alert = queue_alert(
        incident,
        kind=kind,
        text=text,
        dry_run=found.dry_run,
        now=found.now,
        targets=targets,
        conf=found.conf,
    )
    routing.mark(incident, fired=fresh, told=targets)
    for tier_id, tier in fresh:
        if tier.after_minutes > 0:
            _escalated_event(incident, found, tier_id, tier)
    return alert


def _escalated_event(
    incident: Incident, found: Findings, tier_id: str, tier: channels.Tier
) -> None:
    text = (
        f"Not acknowledged after {tier.after_minutes:g} min: escalated to "
        f"{', '.join(tier.channels)} (route {tier_id})."
    )
    events.record(incident, IncidentEvent.Kind.ESCALATED, text, at=found.now, actor=found.actor)


def _escalate(incident: Incident, found: Findings) -> Alert | None:
    """Fire the tiers whose delay has passed, telling only the channels not told yet."""
    names, fresh = routing.newly_due(
        incident, found.conf, severity=found.severity, keys=found.loud, now=found.now
    )
    if not fresh:
        return None
    routing.mark(incident, fired=fresh, told=names)
    for tier_id, tier in fresh:
        _escalated_event(incident, found, tier_id, tier)
    if not names:
        return None
    text = _followup_text(Alert.Kind.TIER, incident, found)
    return queue_alert(
        incident,
        kind=Alert.Kind.TIER,
        text=text,
        dry_run=found.dry_run,
        now=found.now,
        targets=names,
        conf=found.conf,
    )


def _open(found: Findings) -> Incident:
    incident = Incident.objects.create(
        status=Incident.Status.OPEN,
        active=True,
        severity=found.severity,
        issue_keys=found.keys,
        details=found.details,
        silenced_keys=sorted(found.silenced),
        issue_keys_omitted=found.omitted,
        opened_at=found.now,
        opened_by=found.actor,
        last_seen_at=found.now,
        escalation_started_at=found.now,
    )
    _silence_events(incident, found, set(found.silenced))
    mirror.append(
        STREAM, {"type": "incident_opened", "actor": found.actor, **incident_dict(incident)}
    )
    return incident


def _silence_events(incident: Incident, found: Findings, keys: set[str]) -> None:
    """Put the silences that started muting an issue of this incident on its timeline."""
    for key in sorted(keys):
        silence = next((s for s in found.silences if s.matches(key)), None)
        if silence is None:
            continue
        text = f"{key} silenced by {silence.created_by} until {console_date(silence.until)}"
        text += f" ({silence.reason})." if silence.reason else "."
        events.record(incident, IncidentEvent.Kind.SILENCED, text, at=found.now, actor=found.actor)


def _update(incident: Incident, found: Findings) -> None:
    keys, details, severity, silenced = (
        found.keys,
        found.details,
        found.severity,
        sorted(found.silenced),
    )
    changed = (
        incident.issue_keys != keys
        or incident.details != details
        or incident.severity != severity
        or incident.silenced_keys != silenced
    )
    _silence_events(incident, found, set(silenced) - set(incident.silenced_keys))
    incident.issue_keys = keys
    incident.details = details
    incident.severity = severity
    incident.silenced_keys = silenced
    incident.issue_keys_omitted = found.omitted
    incident.last_seen_at = found.now
    incident.save()
    if changed:
        mirror.append(
            STREAM, {"type": "incident_updated", "actor": found.actor, **incident_dict(incident)}
        )


def _alert_kind(
    incident: Incident, found: Findings, loud: list[str], new_keys: list[str]
) -> str | None:
    """Return the kind of alert this scan sends, or None."""
    if new_keys and incident.last_alert_at is None:
        return Alert.Kind.OPEN
    # Escalation counts only issues someone is told about: a silenced third
    # issue does not make an incident "HIGH" for the on-call chat.
    if SEVERITY_RANK[found.loud_severity] > SEVERITY_RANK[incident.alerted_severity]:
        return Alert.Kind.ESCALATION
    if new_keys:
        return Alert.Kind.NEW_ISSUE
    if loud and incident.status == Incident.Status.OPEN and incident.last_alert_at:
        repeat = dt.timedelta(minutes=limits.value("INCIDENT_REPEAT_MINUTES"))
        if found.now - incident.last_alert_at >= repeat:
            return Alert.Kind.REPEAT
    return None


def _alert_if_due(incident: Incident, found: Findings, previously_loud: set[str]) -> Alert | None:
    """Queue the alert this scan calls for, if any; record what the channels were told."""
    loud = found.loud
    new_keys = [k for k in loud if k not in previously_loud]
    kind = _alert_kind(incident, found, loud, new_keys)
    # alerted_keys/alerted_severity describe what the chat was told and still
    # holds: vanished keys drop out and a fall in severity lowers it, so a
    # problem that comes back (or a severity that rises again) is announced.
    alerted_keys = set(incident.alerted_keys) & set(loud)
    alerted_severity = min(
        incident.alerted_severity, found.severity, key=lambda value: SEVERITY_RANK[value]
    )
    alert = None
    if kind is not None:
        text = messages.incident_text(
            kind,
            incident,
            found.issues,
            silenced=found.silenced,
            new_keys=set(new_keys),
            now=found.now,
            runbooks=routing.runbooks(found.keys, found.conf),
            omitted=found.omitted,
        )
        alert = _queue_routed(incident, found, kind, text)
        alerted_keys = set(loud)
        # The message shows the incident's severity (silenced issues included).
        alerted_severity = found.severity
        incident.last_alert_at = found.now
    elif loud and incident.last_alert_at is not None:
        alert = _escalate(incident, found)
    incident.alerted_keys = sorted(alerted_keys)
    incident.alerted_severity = alerted_severity
    incident.save(
        update_fields=[
            "alerted_keys",
            "alerted_severity",
            "last_alert_at",
            "fired_tiers",
            "notified_channels",
        ]
    )
    return alert


def _followup_text(kind: str, incident: Incident, found: Findings) -> str:
    """The alert text of a reopening or an escalation: no issue is new to it."""
    return messages.incident_text(
        kind,
        incident,
        found.issues,
        silenced=found.silenced,
        new_keys=set(),
        now=found.now,
        runbooks=routing.runbooks(found.keys, found.conf),
        omitted=found.omitted,
    )
