"""Parse Prometheus Alertmanager webhook payloads (version 4)."""

import datetime as dt
import hashlib
import json

from incidents.sources import parse_ts, to_utc


class PayloadError(ValueError):
    """The payload is not a usable version 4 webhook; the message says why."""


def _time(value, where: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    when = parse_ts(value)
    if when is None:
        raise PayloadError(f"{where}: not an ISO-8601 time.")
    # Alertmanager sends 0001-01-01T00:00:00Z for "no end time".
    if when.year < 1971:
        return None
    utc = to_utc(when)
    if utc is None:  # e.g. 9999-12-31T23:59:59-05:00 is past year 9999 in UTC
        raise PayloadError(f"{where}: out of range (after 9999-12-31T23:59:59Z in UTC).")
    return utc


def _fingerprint(labels: dict) -> str:
    blob = json.dumps(labels, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()[:32]


def parse_webhook(payload) -> list[dict]:
    """Validate a webhook payload; return its alerts as plain dicts."""
    if not isinstance(payload, dict):
        raise PayloadError("Expected an Alertmanager webhook JSON object.")
    if payload.get("version") != "4":
        raise PayloadError(
            f"Unsupported Alertmanager webhook version {payload.get('version')!r:.20}: "
            'expected "4".'
        )
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError("'alerts' is missing or not a list.")
    parsed = []
    for i, item in enumerate(alerts):
        where = f"alerts[{i}]"
        if not isinstance(item, dict):
            raise PayloadError(f"{where}: not an object.")
        status = item.get("status")
        if status not in ("firing", "resolved"):
            raise PayloadError(f"{where}.status: must be 'firing' or 'resolved'.")
        labels = item.get("labels")
        if not isinstance(labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
        ):
            raise PayloadError(f"{where}.labels: must be an object of strings.")
        name = labels.get("alertname", "").strip()
        if not name:
            raise PayloadError(f"{where}.labels.alertname: missing.")
        annotations = item.get("annotations") or {}
        if not isinstance(annotations, dict):
            raise PayloadError(f"{where}.annotations: must be an object.")
        fingerprint = item.get("fingerprint") or _fingerprint(labels)
        if not isinstance(fingerprint, str) or len(fingerprint) > 200:
            raise PayloadError(f"{where}.fingerprint: must be a short string.")
        parsed.append(
            {
                "status": status,
                "name": name[:200],
                "labels": labels,
                "annotations": annotations,
                "fingerprint": fingerprint,
                "critical": labels.get("severity", "").lower() == "critical",
                "starts_at": _time(item.get("startsAt"), f"{where}.startsAt"),
                "ends_at": _time(item.get("endsAt"), f"{where}.endsAt"),
            }
        )
    return parsed
