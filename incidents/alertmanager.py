"""Parse Prometheus Alertmanager webhook payloads (version 4)."""

import datetime as dt
import hashlib
import json

from echopilot.exceptions import TooLarge
from echopilot.text import cut_utf8, single_line
from incidents.sources import parse_ts, to_utc

# Bounds of one webhook (docs/security.md). Alertmanager groups alerts by
# receiver and sends each group; 1,000 firing alerts in one group is an outage
# of the alerting itself, not something to store row by row.
MAX_ALERTS = 1000
# Per alert: label and annotation count and name length (a payload over these
# is refused, 400), and value size: longer values are cut to 1 KiB (UTF-8) and
# marked with "…", so a long description never costs the alert itself.
MAX_FIELDS = 100
MAX_FIELD_NAME = 200
MAX_VALUE_BYTES = 1024


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
    if len(alerts) > MAX_ALERTS:
        raise TooLarge(
            f"The payload holds {len(alerts)} alerts; at most {MAX_ALERTS} are accepted "
            "in one webhook (lower group_limit or split the route)."
        )
    parsed = []
    for i, item in enumerate(alerts):
        where = f"alerts[{i}]"
        if not isinstance(item, dict):
            raise PayloadError(f"{where}: not an object.")
        status = item.get("status")
        if status not in ("firing", "resolved"):
            raise PayloadError(f"{where}.status: must be 'firing' or 'resolved'.")
        raw_labels = item.get("labels")
        labels = _strings(raw_labels, f"{where}.labels")
        name = labels.get("alertname", "")
        if not name:
            raise PayloadError(f"{where}.labels.alertname: missing.")
        annotations = _strings(item.get("annotations") or {}, f"{where}.annotations")
        # Computed from the labels as sent, so a resolved alert matches its firing one.
        fingerprint = item.get("fingerprint") or _fingerprint(raw_labels)
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


def _strings(mapping, where: str) -> dict[str, str]:
    """Return labels or annotations as single-line strings, values cut to 1 KiB.

    Control characters (newlines included) become spaces, so no label can
    forge a line in an alert message; a value over MAX_VALUE_BYTES is cut.
    """
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        raise PayloadError(f"{where}: must be an object of strings.")
    if len(mapping) > MAX_FIELDS:
        raise PayloadError(f"{where}: {len(mapping)} entries; at most {MAX_FIELDS}.")
    clean = {}
    for key, value in mapping.items():
        if len(key) > MAX_FIELD_NAME:
            raise PayloadError(f"{where}: a name is over {MAX_FIELD_NAME} characters.")
        # Cut first (bounded work), then clean: the result stays within the limit.
        clean[single_line(key)] = single_line(cut_utf8(value, MAX_VALUE_BYTES))
    return clean
