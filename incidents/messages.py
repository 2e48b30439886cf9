"""Telegram message texts (the seed's format, plus update and resolved messages)."""

import datetime as dt

from django.conf import settings
from django.urls import reverse

from echopilot.channels.telegram import fit
from incidents.models import Alert

HEADERS = {
    Alert.Kind.OPEN: "🚨 EchoPilot Incident Detected",
    Alert.Kind.NEW_ISSUE: "🚨 EchoPilot Incident Update: new issue",
    Alert.Kind.ESCALATION: "🚨 EchoPilot Incident Escalated",
    Alert.Kind.REPEAT: "🔁 EchoPilot Incident Still Open",
    Alert.Kind.TIER: "📣 EchoPilot Incident Escalated to you: not acknowledged",
    Alert.Kind.REOPENED: "🔁 EchoPilot Incident Reopened",
}


def duration_text(delta: dt.timedelta) -> str:
    """Return a short human duration: 45s, 12m, 3h 05m, 2d 4h."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def admin_link(incident_id: int) -> str:
    base = (settings.BASE_URL or "").rstrip("/")
    if not base:
        return ""
    return base + reverse("admin:incidents_incident_change", args=[incident_id])


def _footer(incident) -> list[str]:
    link = admin_link(incident.pk)
    return [f"Incident #{incident.pk}: {link}" if link else f"Incident #{incident.pk}"]


def incident_text(
    kind,
    incident,
    issues,
    *,
    silenced: set[str],
    new_keys: set[str],
    now,
    runbooks=(),
    omitted: int = 0,
) -> str:
    """Return the message for an open/new_issue/escalation/repeat/tier/reopened alert."""
    lines = [HEADERS[kind], ""]
    for issue in issues:
        mark = ""
        if all(k in silenced for k in issue.keys):
            mark = " (silenced)"
        elif kind != Alert.Kind.OPEN and any(k in new_keys for k in issue.keys):
            mark = " (new)"
        lines.append(f"• {issue.detail}{mark}")
    if omitted:
        lines.append(f"• … and {omitted} more issue keys (see the admin)")
    lines += ["", f"Severity: {incident.severity}"]
    if kind in (Alert.Kind.REPEAT, Alert.Kind.TIER):
        lines.append(f"Open for {duration_text(now - incident.opened_at)}, not acknowledged")
    if kind == Alert.Kind.REOPENED:
        flapping = ", flapping" if incident.flapping else ""
        lines.append(f"Reopened {incident.reopen_count} time(s){flapping}")
    lines += [f"Runbook ({r['pattern']}): {r['url']}" for r in runbooks]
    lines += _footer(incident)
    return fit("\n".join(lines))


def resolved_text(incident, *, reason: str) -> str:
    lines = [
        f"✅ Resolved: EchoPilot Incident #{incident.pk}",
        "",
        f"Lasted {duration_text(incident.resolved_at - incident.opened_at)}.",
        reason,
    ]
    link = admin_link(incident.pk)
    if link:
        lines.append(link)
    return fit("\n".join(lines))
