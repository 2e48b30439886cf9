"""What incidents keep: the alerts and timeline of incidents resolved over a year ago go.

Incidents themselves are kept (one row per episode: what, when, who opened,
acknowledged and resolved it, which the timeline then shows from the row's own
fields); so are the alerts, timeline entries and notes of incidents not
resolved, whatever their age.
"""

from echopilot.retention import earliest, register
from incidents.models import Alert, Incident, IncidentEvent, IncidentNote, ReceivedAlert


def _of_resolved_before(cutoff) -> dict:
    return {"incident__status": Incident.Status.RESOLVED, "incident__resolved_at__lt": cutoff}


register(
    "incident_alerts",
    setting="RETENTION_INCIDENT_ALERT_DAYS",
    default_days=365,
    queryset=lambda cutoff: Alert.objects.filter(**_of_resolved_before(cutoff)),
    oldest=earliest(Alert, "created_at"),
    description="alert messages of incidents, by when their incident was resolved",
)
register(
    "received_alerts",
    setting="RETENTION_INCIDENT_ALERT_DAYS",
    default_days=365,
    # Only alerts that ended: one still firing (no end) always counts.
    queryset=lambda cutoff: ReceivedAlert.objects.filter(ends_at__lt=cutoff),
    oldest=earliest(ReceivedAlert, "received_at"),
    description="Alertmanager alerts received, by when they ended",
)
register(
    "incident_events",
    setting="RETENTION_INCIDENT_ALERT_DAYS",
    default_days=365,
    queryset=lambda cutoff: IncidentEvent.objects.filter(**_of_resolved_before(cutoff)),
    oldest=earliest(IncidentEvent, "at"),
    description="timeline entries (escalations, silences, reopenings...) of resolved incidents",
)
register(
    "incident_notes",
    setting="RETENTION_INCIDENT_ALERT_DAYS",
    default_days=365,
    queryset=lambda cutoff: IncidentNote.objects.filter(**_of_resolved_before(cutoff)),
    oldest=earliest(IncidentNote, "created_at"),
    description="notes on incidents, by when their incident was resolved",
)
