"""What incidents keep: the alerts of incidents resolved over a year ago go.

Incidents themselves are kept (one row per episode); so are alerts of open
incidents, whatever their age.
"""

from django.db.models import Min

from echopilot.retention import register
from incidents.models import Alert, Incident, ReceivedAlert

register(
    "incident_alerts",
    setting="RETENTION_INCIDENT_ALERT_DAYS",
    default_days=365,
    queryset=lambda cutoff: Alert.objects.filter(
        incident__status=Incident.Status.RESOLVED, incident__resolved_at__lt=cutoff
    ),
    oldest=lambda: Alert.objects.aggregate(m=Min("created_at"))["m"],
    description="alert messages of incidents, by when their incident was resolved",
)
register(
    "received_alerts",
    setting="RETENTION_INCIDENT_ALERT_DAYS",
    default_days=365,
    # Only alerts that ended: one still firing (no end) always counts.
    queryset=lambda cutoff: ReceivedAlert.objects.filter(ends_at__lt=cutoff),
    oldest=lambda: ReceivedAlert.objects.aggregate(m=Min("received_at"))["m"],
    description="Alertmanager alerts received, by when they ended",
)
