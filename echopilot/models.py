"""The core's tables: the mirror outbox, the run ledger and the API keys."""

from django.db import models
from django.utils import timezone


class OutboxEntry(models.Model):
    """Mirror output committed with its records, waiting to reach the log directory.

    An entry is appended to `<file>` (an `.ndjson` stream) or replaces it (a
    "latest" `.json` file) by `echopilot.mirror.flush()`, in `id` order, and is
    deleted only once the write succeeded.
    """

    file = models.CharField(
        max_length=100, help_text="File under the log directory: <stream>.ndjson or <name>.json."
    )
    data = models.BinaryField(help_text="The bytes to append (whole NDJSON lines) or write.")
    lines = models.PositiveIntegerField(
        default=1, help_text="NDJSON lines in `data` (a batch of events is one entry)."
    )
    created_at = models.DateTimeField(default=timezone.now, help_text="When it was queued.")
    attempts = models.PositiveIntegerField(default=0, help_text="Failed writes so far.")
    last_error = models.CharField(
        max_length=300, blank=True, help_text="Why the last write failed."
    )

    class Meta:
        verbose_name = "mirror outbox entry"
        verbose_name_plural = "mirror outbox"

    def __str__(self) -> str:
        return f"{self.file} ({self.lines} line(s))"


class ScheduleRun(models.Model):
    """The run ledger of one scheduled task: when it last started and finished.

    `echopilot.schedules.scheduled` reads it so a run is never repeated within
    half its period (a retried run that lands next to the following one) and
    the status selector reads it to tell an overdue schedule.
    """

    name = models.CharField(max_length=100, unique=True, help_text="The schedule's name.")
    last_started_at = models.DateTimeField(null=True, help_text="When the last run began.")
    last_finished_at = models.DateTimeField(
        null=True, help_text="When the last run completed (its outcome stored by the task)."
    )
    last_ok = models.BooleanField(null=True, help_text="Whether the last completed run was ok.")
    skipped = models.PositiveIntegerField(
        default=0, help_text="Runs skipped because one was running or had just finished."
    )

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """A named API key: its scopes, lifetime and the SHA-256 of its secret.

    The secret itself is stored nowhere: `echopilot.access` shows it once, at
    creation or rotation. After a rotation the previous secret's hash stays in
    `previous_hash` and keeps working until `previous_valid_until` (the grace
    period). Keys are never deleted, so a name (the `api:<name>` actor in
    every history row) always means one key.
    """

    name = models.CharField(
        max_length=50,
        unique=True,
        help_text="Who holds the key; the actor of its changes is api:NAME. Never reused.",
    )
    prefix = models.CharField(
        max_length=12, help_text="The secret's first characters (ep_ + 6 hex), to recognise it."
    )
    secret_hash = models.CharField(
        max_length=64, unique=True, help_text="SHA-256 (hex) of the secret; not the secret."
    )
    scopes = models.JSONField(
        default=list, help_text="What the key may do: evaluate, read, write, metrics, alertmanager."
    )
    rate = models.CharField(
        max_length=20,
        blank=True,
        default="",
        help_text="The key's own throttle rate (e.g. 100/min); empty: API_THROTTLE_RATE.",
    )
    created_at = models.DateTimeField(default=timezone.now, help_text="When it was created.")
    created_by = models.CharField(max_length=200, help_text="Who created it (cli, or admin:USER).")
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="When it stops working; empty: never."
    )
    revoked_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was revoked; it is refused from then on."
    )
    revoked_by = models.CharField(
        max_length=200, blank=True, default="", help_text="Who revoked it."
    )
    last_used_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Last accepted request (written at most once a minute per process).",
    )
    rotated_at = models.DateTimeField(
        null=True, blank=True, help_text="When the current secret replaced the previous one."
    )
    previous_prefix = models.CharField(
        max_length=12, blank=True, default="", help_text="Prefix of the secret before rotation."
    )
    previous_hash = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="SHA-256 (hex) of the secret before rotation; not the secret.",
    )
    previous_valid_until = models.DateTimeField(
        null=True, blank=True, help_text="End of the grace period of the previous secret."
    )

    class Meta:
        verbose_name = "API key"
        ordering = ["name"]
        # Superusers only (echopilot.admin.ApiKeyAdmin): no permission exists
        # that a group could be given.
        default_permissions = ()
        constraints = [
            models.CheckConstraint(condition=~models.Q(name=""), name="apikey_name_set"),
            models.CheckConstraint(condition=~models.Q(secret_hash=""), name="apikey_hash_set"),
            models.CheckConstraint(
                condition=models.Q(previous_hash="", previous_valid_until__isnull=True)
                | (~models.Q(previous_hash="") & models.Q(previous_valid_until__isnull=False)),
                name="apikey_previous_has_grace",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
