"""The overview's Incident card: the active incident with its buttons, or all clear."""

from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from incidents.messages import duration_text
from incidents.models import Alert, Incident

# The buttons (CONTRACTS.md interface 2): URL name, permission, label; the
# state an incident must be in for the button to make sense.
BUTTONS = (
    ("admin:incidents_incident_acknowledge", "incidents.ack_incident", "Acknowledge", "open"),
    ("admin:incidents_incident_resolve", "incidents.resolve_incident", "Resolve", None),
)


def _buttons(request: HttpRequest, incident: Incident) -> list[dict[str, str]]:
    """Return the buttons whose view exists and whose permission the user holds."""
    shown = []
    for url_name, perm, label, needs_status in BUTTONS:
        if needs_status and incident.status != needs_status:
            continue
        if not request.user.has_perm(perm):
            continue
        shown.append({"url": reverse(url_name, args=[incident.pk]), "label": label})
    return shown


def _deliveries(incident: Incident) -> dict[str, int]:
    """Count the incident's alerts by delivery state (one query)."""
    pending = Q(status=Alert.Status.PENDING)
    return Alert.objects.filter(incident=incident).aggregate(
        total=Count("id"),
        delivered=Count("id", filter=Q(status=Alert.Status.DELIVERED)),
        pending=Count("id", filter=pending & Q(attempts=0)),
        failing=Count("id", filter=pending & Q(attempts__gt=0)),
        dry_run=Count("id", filter=Q(status=Alert.Status.DRY_RUN)),
    )


def card(request: HttpRequest) -> dict[str, Any]:
    """Return the Incident card (at most 3 queries)."""
    active = Incident.objects.filter(active=True).first()
    if active is None:
        last = Incident.objects.filter(status=Incident.Status.RESOLVED).order_by(
            "-resolved_at", "-id"
        )
        resolved = last.only("id", "severity", "details", "opened_at", "resolved_at").first()
        return {
            "active": None,
            "last": resolved,
            "last_url": resolved and reverse("admin:incidents_incident_change", args=[resolved.pk]),
            "last_duration": resolved and duration_text(resolved.resolved_at - resolved.opened_at),
        }
    return {
        "active": active,
        "url": reverse("admin:incidents_incident_change", args=[active.pk]),
        "open_for": duration_text(timezone.now() - active.opened_at),
        "details": [str(line) for line in active.details] or [str(k) for k in active.issue_keys],
        "deliveries": _deliveries(active),
        "buttons": _buttons(request, active),
        "next": reverse("admin:index"),
    }
