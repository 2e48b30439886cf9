"""Incidents, the alerts they send, silences, and alerts received from Alertmanager."""

from django.db import models
from django.db.models import Q


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
    updated_at = models.DateTimeField(auto_now=True, help_text="Last change of this row.")

    class Meta:
        ordering = ["-opened_at", "-id"]
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
    """One Telegram message for an incident; pending until Telegram accepted it."""

    class Kind(models.TextChoices):
        OPEN = "open", "Opened"
        NEW_ISSUE = "new_issue", "New issue"
        ESCALATION = "escalation", "Escalation"
        REPEAT = "repeat", "Repeat"
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
        help_text="pending until Telegram accepts it.",
    )
    text = models.TextField(help_text="The message text (at most 4,096 characters).")
    created_at = models.DateTimeField(help_text="When the alert was queued.")
    attempts = models.PositiveIntegerField(default=0, help_text="Send attempts so far.")
    next_attempt_at = models.DateTimeField(
        help_text="Earliest time of the next attempt (later after a 429 retry_after)."
    )
    claimed_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A sender holds the alert until then, so two scans never send it together.",
    )
    delivered_at = models.DateTimeField(null=True, blank=True, help_text="When Telegram took it.")
    message_id = models.BigIntegerField(null=True, blank=True, help_text="Telegram message id.")
    last_error = models.CharField(
        max_length=300, blank=True, default="", help_text="Latest failure (never the token)."
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
        return f"Silence {self.key} until {self.until:%Y-%m-%d %H:%M}Z"

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
