"""Incident operations: scan, deliver alerts, acknowledge, resolve, silence, receive.

The API views, admin actions, management commands and the scheduled task all
call these functions, so every interface behaves the same.
"""

import datetime as dt
import logging
import re

from django.db import IntegrityError, transaction
from django.db.models import Q

from echopilot import mirror
from echopilot.errors import ApiError
from echopilot.secrets import redact
from incidents import alertmanager, clock, limits, messages, sources, telegram
from incidents.models import SEVERITY_RANK, Alert, Incident, ReceivedAlert, Severity, Silence
from incidents.selectors import incident_dict, silence_dict

logger = logging.getLogger("incidents")

STREAM = "incidents"
# Alerts sent per scan at most (oldest first); the rest wait for the next scan.
DELIVERY_BATCH = 20
# Longest silence: muting a key for longer is a mistake (and far-future times
# overflow when converted); also bounds `incidents silence --minutes`.
MAX_SILENCE = dt.timedelta(days=3650)
SILENCE_KEY = re.compile(r"^(slo|payout|cost|ops|alert)(:[^\s]{1,190})?$")


class IncidentNotFound(ApiError):
    status_code = 404
    code = "unknown_incident"
    default_detail = "No such incident."


class IncidentConflict(ApiError):
    status_code = 409
    code = "conflict"
    default_detail = "The incident cannot change that way."


class SilenceInvalid(ApiError):
    """A silence that cannot be created; `field` names the input at fault."""

    def __init__(self, detail: str, *, field: str):
        super().__init__(detail, code="invalid")
        self.field = field


def severity_for(count: int) -> str:
    if count <= 0:
        return ""
    return Severity.HIGH if count >= 3 else Severity.MEDIUM


def active_silences(now) -> list[Silence]:
    return list(Silence.objects.filter(until__gt=now))


# --- scan ----------------------------------------------------------------------


def scan(*, actor: str, now: dt.datetime | None = None) -> dict:
    """Read every source, open/update/resolve the incident, queue and send alerts."""
    now = now or clock.now()
    issues, source_map = sources.collect(now)
    silences = active_silences(now)
    all_keys = [k for issue in issues for k in issue.keys]
    silenced = {k for k in all_keys if any(s.matches(k) for s in silences)}
    dry_run = not telegram.configured()
    invalid = sorted(name for name, rep in source_map.items() if rep.get("status") == "invalid")

    for attempt in range(3):
        try:
            with transaction.atomic():
                outcome = _apply_scan(
                    issues=issues,
                    silenced=silenced,
                    invalid_sources=invalid,
                    dry_run=dry_run,
                    actor=actor,
                    now=now,
                )
            break
        except IntegrityError:
            # Another scan opened the incident between our read and insert
            # (PostgreSQL); run again and update the incident it opened.
            if attempt == 2:
                raise

    delivered = deliver_pending(now=clock.now())
    alert = outcome["alert"]
    if alert is not None:
        alert.refresh_from_db()
    result = {
        "ok": True,
        "breach": bool(issues),
        "incident_count": len(issues),
        "details": [issue.detail for issue in issues],
        "severity": severity_for(len(issues)) or None,
        "incident_id": outcome["incident_id"],
        "incident_status": outcome["incident_status"],
        "alerted": alert is not None,
        "alert": None if alert is None else _alert_brief(alert),
        "delivered": len(delivered),
        "pending_alerts": Alert.objects.filter(status=Alert.Status.PENDING).count(),
        "dry_run": dry_run,
        "issues": [
            {
                "key": issue.key,
                "detail": issue.detail,
                "keys": issue.keys,
                "silenced": all(k in silenced for k in issue.keys),
            }
            for issue in issues
        ],
        "sources": source_map,
    }
    if outcome.get("resolve_blocked"):
        result["resolve_blocked"] = outcome["resolve_blocked"]
    mirror.append(STREAM, {"type": "scan", "actor": actor, **_scan_line(result)})
    return result


def _scan_line(result: dict) -> dict:
    keys = (
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
    return {k: result[k] for k in keys if k in result}


def _alert_brief(alert: Alert) -> dict:
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "status": alert.status,
        "attempts": alert.attempts,
        "last_error": alert.last_error,
    }


def _apply_scan(*, issues, silenced, invalid_sources, dry_run, actor, now) -> dict:
    """Update the one active incident from a scan's issues (inside a transaction)."""
    incident = Incident.objects.select_for_update().filter(active=True).first()
    outcome = {"incident_id": None, "incident_status": None, "alert": None}

    if not issues:
        if incident is None:
            return outcome
        outcome["incident_id"] = incident.pk
        if invalid_sources:
            # An unreadable source may hide a problem that is still there.
            incident.last_seen_at = now
            incident.save(update_fields=["last_seen_at", "updated_at"])
            outcome["incident_status"] = incident.status
            outcome["resolve_blocked"] = "unreadable sources: " + ", ".join(invalid_sources)
            return outcome
        outcome["alert"] = _resolve(
            incident, actor=actor, now=now, reason="Signals recovered.", dry_run=dry_run
        )
        outcome["incident_status"] = incident.status
        return outcome

    keys = [k for issue in issues for k in issue.keys]
    details = [issue.detail for issue in issues]
    severity = severity_for(len(issues))
    created = incident is None
    # What the previous scan of this episode found unsilenced: a key is new when
    # it is not among these (first seen, back after vanishing, or unsilenced).
    previously_loud = set() if created else set(incident.issue_keys) - set(incident.silenced_keys)
    if created:
        incident = Incident.objects.create(
            status=Incident.Status.OPEN,
            active=True,
            severity=severity,
            issue_keys=keys,
            details=details,
            silenced_keys=sorted(silenced),
            opened_at=now,
            opened_by=actor,
            last_seen_at=now,
        )
        mirror.append(
            STREAM, {"type": "incident_opened", "actor": actor, **incident_dict(incident)}
        )
    else:
        changed = (
            incident.issue_keys != keys
            or incident.details != details
            or incident.severity != severity
            or incident.silenced_keys != sorted(silenced)
        )
        incident.issue_keys = keys
        incident.details = details
        incident.severity = severity
        incident.silenced_keys = sorted(silenced)
        incident.last_seen_at = now
        incident.save()
        if changed:
            mirror.append(
                STREAM, {"type": "incident_updated", "actor": actor, **incident_dict(incident)}
            )

    loud = [k for k in keys if k not in silenced]
    new_keys = [k for k in loud if k not in previously_loud]
    # Escalation counts only issues someone is told about: a silenced third
    # issue does not make an incident "HIGH" for the on-call chat.
    loud_severity = severity_for(sum(1 for i in issues if any(k not in silenced for k in i.keys)))
    rose = SEVERITY_RANK[loud_severity] > SEVERITY_RANK[incident.alerted_severity]
    kind = None
    if new_keys and incident.last_alert_at is None:
        kind = Alert.Kind.OPEN
    elif rose:
        kind = Alert.Kind.ESCALATION
    elif new_keys:
        kind = Alert.Kind.NEW_ISSUE
    elif loud and incident.status == Incident.Status.OPEN and incident.last_alert_at:
        repeat = dt.timedelta(minutes=limits.value("INCIDENT_REPEAT_MINUTES"))
        if now - incident.last_alert_at >= repeat:
            kind = Alert.Kind.REPEAT

    # alerted_keys/alerted_severity describe what the chat was told and still
    # holds: vanished keys drop out and a fall in severity lowers it, so a
    # problem that comes back (or a severity that rises again) is announced.
    alerted_keys = set(incident.alerted_keys) & set(loud)
    alerted_severity = min(
        incident.alerted_severity, severity, key=lambda value: SEVERITY_RANK[value]
    )
    if kind is not None:
        text = messages.incident_text(
            kind, incident, issues, silenced=silenced, new_keys=set(new_keys), now=now
        )
        outcome["alert"] = _queue_alert(incident, kind=kind, text=text, dry_run=dry_run, now=now)
        alerted_keys = set(loud)
        # The message shows the incident's severity (silenced issues included).
        alerted_severity = severity
        incident.last_alert_at = now
    incident.alerted_keys = sorted(alerted_keys)
    incident.alerted_severity = alerted_severity
    incident.save(update_fields=["alerted_keys", "alerted_severity", "last_alert_at"])

    outcome["incident_id"] = incident.pk
    outcome["incident_status"] = incident.status
    return outcome


def _queue_alert(incident, *, kind, text, dry_run, now) -> Alert:
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


def _resolve(incident, *, actor, now, reason, dry_run) -> Alert | None:
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
    return _queue_alert(incident, kind=Alert.Kind.RESOLVED, text=text, dry_run=dry_run, now=now)


# --- delivery ------------------------------------------------------------------


def deliver_pending(*, now: dt.datetime | None = None) -> list[int]:
    """Send pending alerts oldest first; return the ids Telegram accepted.

    Stops at the first failure so messages keep their order. While a 429 asked
    to wait longer than 5 seconds, nothing is sent before that time.
    """
    now = now or clock.now()
    pending = Alert.objects.filter(status=Alert.Status.PENDING)
    if not telegram.configured():
        return []
    if pending.filter(next_attempt_at__gt=now).exists():
        return []
    delivered = []
    hold = dt.timedelta(seconds=2 * limits.value("TELEGRAM_TIMEOUT") + 30)
    for alert in pending.order_by("created_at", "id")[:DELIVERY_BATCH]:
        claimed = (
            Alert.objects.filter(pk=alert.pk, status=Alert.Status.PENDING)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .update(claimed_until=now + hold)
        )
        if not claimed:
            break  # another scan is sending this queue right now
        result = telegram.send(alert.text, sleep=clock.sleep)
        _record_attempt(alert, result, now=clock.now())
        if not result.ok:
            break
        delivered.append(alert.pk)
    return delivered


def _record_attempt(alert: Alert, result: telegram.SendResult, *, now) -> None:
    alert.attempts += 1
    alert.claimed_until = None
    if result.ok:
        alert.status = Alert.Status.DELIVERED
        alert.delivered_at = now
        alert.message_id = result.message_id
        alert.last_error = ""
        line = {"type": "alert_delivered", "attempts": alert.attempts}
    else:
        alert.last_error = redact(result.error)[:300]
        alert.next_attempt_at = now
        if result.retry_after is not None:
            alert.next_attempt_at = now + dt.timedelta(seconds=result.retry_after)
        # Never given up: an alert stays pending and every scan retries it until
        # Telegram accepts it (deliver_pending keeps the order and the batch cap).
        line = {
            "type": "alert_failed",
            "attempts": alert.attempts,
            "error": alert.last_error,
            "next_attempt_at": mirror.now_iso(alert.next_attempt_at),
        }
    with transaction.atomic():
        alert.save()
        mirror.append(
            STREAM,
            {**line, "alert_id": alert.pk, "incident_id": alert.incident_id, "kind": alert.kind},
        )


# --- acknowledge / resolve -----------------------------------------------------


def _locked(incident_id: int) -> Incident:
    try:
        return Incident.objects.select_for_update().get(pk=incident_id)
    except Incident.DoesNotExist:
        raise IncidentNotFound(f"No incident with id {incident_id}.") from None


def acknowledge(*, incident_id: int, actor: str, now: dt.datetime | None = None) -> dict:
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


def resolve(*, incident_id: int, actor: str, now: dt.datetime | None = None) -> dict:
    """Resolve an incident by hand; a later scan that still finds issues opens a new one."""
    now = now or clock.now()
    with transaction.atomic():
        incident = _locked(incident_id)
        changed = incident.status != Incident.Status.RESOLVED
        if changed:
            _resolve(
                incident,
                actor=actor,
                now=now,
                reason=f"Resolved by {actor}.",
                dry_run=not telegram.configured(),
            )
    if changed:
        deliver_pending(now=clock.now())
    return {"ok": True, "changed": changed, "incident": incident_dict(incident)}


# --- silences ------------------------------------------------------------------


def validate_silence(*, key: str, until: dt.datetime, now: dt.datetime) -> tuple[str, dt.datetime]:
    """Return the key and `until` (UTC) to store; raise SilenceInvalid (also used by the admin)."""
    key = key.strip()
    if not SILENCE_KEY.match(key):
        raise SilenceInvalid(
            f"Unknown issue key {key!r}: use slo, payout, cost, ops, ops:<type>, alert or "
            "alert:<name>.",
            field="key",
        )
    if until.tzinfo is None:
        until = until.replace(tzinfo=dt.UTC)
    # Compare before converting: 9999-12-31T23:59:59-05:00 cannot be put in UTC.
    if until <= now:
        raise SilenceInvalid("'until' must be in the future.", field="until")
    if until - now > MAX_SILENCE:
        raise SilenceInvalid(
            f"'until' must be at most {MAX_SILENCE.days} days ahead.", field="until"
        )
    return key, until.astimezone(dt.UTC)


def create_silence(
    *, key: str, until: dt.datetime, reason: str = "", actor: str, now: dt.datetime | None = None
) -> dict:
    """Mute alerts for `key` (and the keys below it) until `until`."""
    now = now or clock.now()
    key, until = validate_silence(key=key, until=until, now=now)
    with transaction.atomic():
        silence = Silence.objects.create(
            key=key, until=until, reason=reason.strip()[:500], created_at=now, created_by=actor
        )
        mirror.append(STREAM, {"type": "silence_created", "actor": actor, **silence_dict(silence)})
    return {"ok": True, "silence": silence_dict(silence)}


def expire_silence(*, silence_id: int, actor: str, now: dt.datetime | None = None) -> dict:
    """End a silence now."""
    now = now or clock.now()
    with transaction.atomic():
        silence = Silence.objects.select_for_update().filter(pk=silence_id).first()
        if silence is None:
            raise ApiError(f"No silence with id {silence_id}.", code="not_found", status_code=404)
        if silence.until > now:
            silence.until = now
            silence.save(update_fields=["until"])
            mirror.append(
                STREAM, {"type": "silence_expired", "actor": actor, **silence_dict(silence)}
            )
    return {"ok": True, "silence": silence_dict(silence)}


# --- Alertmanager --------------------------------------------------------------


def receive_alertmanager(*, payload, actor: str, now: dt.datetime | None = None) -> dict:
    """Keep firing critical alerts of an Alertmanager webhook (version 4); drop resolved."""
    now = now or clock.now()
    try:
        parsed = alertmanager.parse_webhook(payload)
    except alertmanager.PayloadError as exc:
        raise ApiError(str(exc), code="invalid") from None
    stored, removed, ignored = [], [], 0
    with transaction.atomic():
        for alert in parsed:
            if alert["status"] == "firing" and alert["critical"]:
                ReceivedAlert.objects.update_or_create(
                    fingerprint=alert["fingerprint"],
                    defaults={
                        "name": alert["name"],
                        "labels": alert["labels"],
                        "annotations": alert["annotations"],
                        "starts_at": alert["starts_at"],
                        "ends_at": alert["ends_at"],
                        "received_at": now,
                    },
                )
                stored.append(alert["name"])
            else:
                count, _ = ReceivedAlert.objects.filter(fingerprint=alert["fingerprint"]).delete()
                if count:
                    removed.append(alert["name"])
                else:
                    ignored += 1
        mirror.append(
            STREAM,
            {
                "type": "alertmanager_received",
                "actor": actor,
                "status": payload.get("status") if isinstance(payload.get("status"), str) else "",
                "firing_critical": stored,
                "removed": removed,
                "ignored": ignored,
            },
        )
    return {"ok": True, "stored": len(stored), "removed": len(removed), "ignored": ignored}
