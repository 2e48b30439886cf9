"""Incidents, the alerts they send, silences, and alerts received from Alertmanager."""

from django.db import models
from django.db.models import Q

from echopilot.text import console_date


class Severity(models.TextChoices):
    MEDIUM = "MEDIUM", "Medium (1-2 issues)"
    HIGH = "HIGH", "High (3 or more issues)"


SEVERITY_RANK = {"": 0, Severity.MEDIUM: 1, Severity.HIGH: 2}


class Incident(models.Model):
    """One episode: opened by a scan that finds issues, resolved when they are gone."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    status = models.CharField(
        max_length=16,
        choices=Status.choices,
        default=Status.OPEN,
        help_text="open → acknowledged → resolved.",
    )
    active = models.BooleanField(
        default=True,
        help_text="True while open or acknowledged; at most one row may be active.",
    )
    severity = models.CharField(
        max_length=8,
        choices=Severity.choices,
        help_text="Severity from the latest scan: 1-2 issues MEDIUM, 3 or more HIGH.",
    )
    issue_keys = models.JSONField(
        default=list, help_text="Alert keys seen by the latest scan (e.g. slo, ops:high_cpu)."
    )
    details = models.JSONField(default=list, help_text="Detail lines from the latest scan.")
    silenced_keys = models.JSONField(
        default=list, help_text="Keys of the latest scan muted by an active silence."
    )
    alerted_keys = models.JSONField(
        default=list,
        help_text="Announced keys still present (a key that vanishes drops out and alerts "
        "again if it returns).",
    )
    alerted_severity = models.CharField(
        max_length=8,
        blank=True,
        default="",
        help_text="Severity last announced, lowered when severity falls (escalations "
        "alert above it).",
    )
    opened_at = models.DateTimeField(help_text="When a scan first found the issues.")
    opened_by = models.CharField(max_length=100, help_text="Who ran the scan that opened it.")
    last_seen_at = models.DateTimeField(help_text="Latest scan that still found issues.")
    last_alert_at = models.DateTimeField(
        null=True, blank=True, help_text="When the latest alert was queued (repeat interval)."
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True, help_text="When acknowledged.")
    acknowledged_by = models.CharField(
        max_length=100, blank=True, default="", help_text="Who acknowledged it."
    )
    resolved_at = models.DateTimeField(null=True, blank=True, help_text="When resolved.")
    resolved_by = models.CharField(
        max_length=100, blank=True, default="", help_text="Who resolved it (schedule: recovered)."
    )
    resolved_how = models.CharField(
        max_length=16,
        blank=True,
        default="",
        help_text="recovered (a scan found no issues) or by_hand; empty while active.",
    )
    issue_keys_omitted = models.PositiveIntegerField(
        default=0,
        help_text="Issue keys of the latest scan past the 200 kept (counted, not listed).",
    )
    reopen_count = models.PositiveIntegerField(
        default=0, help_text="Times its issues came back within INCIDENT_FLAP_MINUTES of resolving."
    )
    reopened_at = models.JSONField(
        default=list, help_text="ISO times of the latest reopenings (at most 20)."
    )
    flapping = models.BooleanField(
        default=False, help_text="Reopened 3 times or more within an hour."
    )
    last_reopen_alert_at = models.DateTimeField(
        null=True, blank=True, help_text="When the latest 'reopened' alert was queued."
    )
    escalation_started_at = models.DateTimeField(
        null=True, blank=True, help_text="Escalation tiers count from here (opened or reopened)."
    )
    fired_tiers = models.JSONField(
        default=list, help_text="Escalation tiers already fired (<route>.<tier>)."
    )
    notified_channels = models.JSONField(
        default=list, help_text="Channels sent an alert of this incident (told when it resolves)."
    )
    updated_at = models.DateTimeField(auto_now=True, help_text="Last change of this row.")

    class Meta:
        ordering = ["-opened_at", "-id"]
        permissions = [
            ("ack_incident", "Can acknowledge an incident"),
            ("resolve_incident", "Can resolve an incident"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["active"],
                condition=Q(active=True),
                name="incidents_one_active_incident",
            ),
            models.CheckConstraint(
                condition=Q(active=True, status__in=["open", "acknowledged"])
                | Q(active=False, status="resolved"),
                name="incidents_active_matches_status",
            ),
        ]
        indexes = [models.Index(fields=["status", "-opened_at"], name="incidents_status_opened")]

    def __str__(self) -> str:
        return f"Incident #{self.pk} ({self.status}, {self.severity})"

    @property
    def duration(self):
        """Return how long it lasted (so far, if still active)."""
        end = self.resolved_at or self.last_seen_at
        return end - self.opened_at


class Alert(models.Model):
    """One message for an incident; pending until every channel it goes to accepted it
    (each channel's state is a `Delivery`)."""

    class Kind(models.TextChoices):
        OPEN = "open", "Opened"
        NEW_ISSUE = "new_issue", "New issue"
        ESCALATION = "escalation", "Escalation"
        REPEAT = "repeat", "Repeat"
        TIER = "tier", "Escalated to the next tier"
        REOPENED = "reopened", "Reopened"
        RESOLVED = "resolved", "Resolved"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        DRY_RUN = "dry_run", "Dry-run (not sent)"

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="alerts", help_text="The incident."
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, help_text="Why it was sent.")
    status = models.CharField(
        max_length=16,
        choices=Status.choices,
        default=Status.PENDING,
        help_text="pending until every channel accepted it; dry_run: no channel configured.",
    )
    text = models.TextField(help_text="The message text (at most 4,096 characters).")
    created_at = models.DateTimeField(help_text="When the alert was queued.")
    attempts = models.PositiveIntegerField(default=0, help_text="Send attempts so far.")
    next_attempt_at = models.DateTimeField(
        help_text="Earliest time of the next attempt (later after a 429 retry_after)."
    )
    delivered_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last of its channels accepted it."
    )
    message_id = models.BigIntegerField(null=True, blank=True, help_text="Telegram message id.")
    last_error = models.CharField(
        max_length=300,
        blank=True,
        default="",
        help_text="Latest failure on any channel (never a secret).",
    )
    payload = models.JSONField(
        default=dict, help_text="The webhook body: {kind, incident} as it was when queued."
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="incidents_alert_due")]

    def __str__(self) -> str:
        return f"Alert #{self.pk} {self.kind} ({self.status})"


class Silence(models.Model):
    """Mute alerts for an issue key (or a key prefix such as `ops`) until a time."""

    key = models.CharField(
        max_length=200,
        help_text="Issue key: slo, payout, cost, ops, ops:<type>, alert, alert:<name>. "
        "A key also mutes the keys below it (ops mutes ops:high_cpu).",
    )
    until = models.DateTimeField(help_text="Alerts resume after this time.")
    reason = models.CharField(max_length=500, blank=True, default="", help_text="Why.")
    created_at = models.DateTimeField(help_text="When the silence was created.")
    created_by = models.CharField(max_length=100, help_text="Who created it.")

    class Meta:
        ordering = ["-until", "-id"]
        indexes = [models.Index(fields=["until"], name="incidents_silence_until")]

    def __str__(self) -> str:
        return f"Silence {self.key} until {console_date(self.until)}"

    def matches(self, key: str) -> bool:
        return key == self.key or key.startswith(self.key + ":")


class ReceivedAlert(models.Model):
    """A firing critical alert pushed by Prometheus Alertmanager (webhook version 4)."""

    fingerprint = models.CharField(
        max_length=200, unique=True, help_text="Alertmanager's fingerprint of the label set."
    )
    name = models.CharField(max_length=200, help_text="labels.alertname.")
    labels = models.JSONField(default=dict, help_text="The alert's labels.")
    annotations = models.JSONField(default=dict, help_text="The alert's annotations.")
    starts_at = models.DateTimeField(null=True, blank=True, help_text="startsAt.")
    ends_at = models.DateTimeField(
        null=True, blank=True, help_text="endsAt when set; past it the alert no longer counts."
    )
    received_at = models.DateTimeField(help_text="Latest webhook that reported it firing.")

    class Meta:
        ordering = ["name", "fingerprint"]

    def __str__(self) -> str:
        return f"{self.name} ({self.fingerprint})"


class Delivery(models.Model):
    """One alert on one channel: pending until that channel accepted it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"

    alert = models.ForeignKey(
        Alert, on_delete=models.CASCADE, related_name="deliveries", help_text="The alert."
    )
    channel = models.CharField(max_length=50, help_text="Channel name (configs/incidents.json).")
    channel_type = models.CharField(max_length=16, help_text="telegram, slack, webhook or email.")
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, help_text="State."
    )
    created_at = models.DateTimeField(help_text="When it was queued.")
    attempts = models.PositiveIntegerField(default=0, help_text="Send attempts so far.")
    next_attempt_at = models.DateTimeField(help_text="Earliest next attempt (later after a 429).")
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="A sender holds it until then."
    )
    delivered_at = models.DateTimeField(null=True, blank=True, help_text="When it was accepted.")
    external_id = models.CharField(
        max_length=100, blank=True, default="", help_text="The channel's id (Telegram message)."
    )
    last_error = models.CharField(
        max_length=300, blank=True, default="", help_text="Latest failure (never a secret)."
    )

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["alert", "channel"], name="incidents_delivery_once")
        ]
        indexes = [
            models.Index(fields=["channel", "status", "next_attempt_at"], name="incidents_dlv_due")
        ]

    def __str__(self) -> str:
        return f"Alert #{self.alert_id} on {self.channel} ({self.status})"


class IncidentEvent(models.Model):
    """What happened to an incident, for its timeline (state changes, escalations, silences)."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Opened"
        ESCALATED = "escalated", "Escalated to a tier"
        SILENCED = "silenced", "Silence applied"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        REOPENED = "reopened", "Reopened"
        FLAPPING = "flapping", "Marked flapping"
        RESOLVED = "resolved", "Resolved"

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="events", help_text="The incident."
    )
    at = models.DateTimeField(help_text="When it happened.")
    kind = models.CharField(max_length=16, choices=Kind.choices, help_text="What happened.")
    actor = models.CharField(max_length=100, blank=True, default="", help_text="Who.")
    text = models.CharField(max_length=500, help_text="One readable line.")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} at {console_date(self.at)}"


class IncidentNote(models.Model):
    """A note someone wrote on an incident (API, admin, acknowledge/resolve)."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="notes", help_text="The incident."
    )
    text = models.TextField(help_text="The note (at most 2,000 characters).")
    author = models.CharField(max_length=100, help_text="Who wrote it (api:<key>, admin:<user>).")
    created_at = models.DateTimeField(help_text="When it was written.")

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Note by {self.author} on incident #{self.incident_id}"
