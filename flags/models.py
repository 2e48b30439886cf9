"""Feature flags, their change history, and the shared version stamp."""

import re

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from echopilot.text import console_date
from flags.limits import (
    ACTOR_MAX_LENGTH,
    FIELD_MAX_LENGTH,
    KEY_MAX_LENGTH,
    NAME_MAX,
    NOTE_MAX,
    SEGMENT_NAME_MAX,
)

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$"
KEY_RE = re.compile(KEY_PATTERN)


class FlagType(models.TextChoices):
    BOOLEAN = "boolean", "boolean"
    STRING = "string", "string"
    INTEGER = "integer", "integer"
    FLOAT = "float", "float"
    OBJECT = "object", "object"


class Flag(models.Model):
    key = models.CharField(
        max_length=KEY_MAX_LENGTH,
        unique=True,
        validators=[RegexValidator(KEY_PATTERN, "Letters, digits and . _ : - only.")],
        help_text=f"Stable identifier, e.g. `payments.live` (no spaces, at most {KEY_MAX_LENGTH} "
        "characters).",
    )
    type = models.CharField(
        max_length=10,
        choices=FlagType.choices,
        help_text="JSON type of the value, rule values and rollout value.",
    )
    value = models.JSONField(
        help_text="Served when the flag is disabled, or when no rule or rollout applies.",
    )
    description = models.TextField(blank=True, default="", help_text="What the flag controls.")
    rules = models.JSONField(
        default=list,
        blank=True,
        help_text='Ordered targeting rules: [{"name", "conditions": [{"attribute", "op", '
        '"value"}], "value"}]; the first rule whose conditions all hold wins.',
    )
    rollout = models.JSONField(
        null=True,
        blank=True,
        help_text='Percentage rollout {"percentage": 0-100, "value": …, "name": "rollout"}; '
        "other targeting keys get the default value.",
    )
    prerequisites = models.JSONField(
        default=list,
        blank=True,
        help_text='Flags that must evaluate to a value first: [{"flag": "payments.live", '
        '"value": true}]; otherwise the flag serves its value (PREREQUISITE_FAILED).',
    )
    enabled = models.BooleanField(
        default=True,
        help_text="Off: rules and rollout are skipped and everyone gets the value (DISABLED).",
    )
    archived = models.BooleanField(
        default=False,
        help_text="Archived flags are hidden from /api/flags/get and evaluate as not found.",
    )
    announce = models.BooleanField(
        default=False,
        help_text="Announce every change of this flag on the notification channels.",
    )
    announce_channels = models.JSONField(
        default=list,
        blank=True,
        help_text='Channel names to announce on (e.g. ["slack"]); [] means every configured one.',
    )
    created_at = models.DateTimeField(auto_now_add=True, help_text="When the flag was created.")
    updated_at = models.DateTimeField(auto_now=True, help_text="When the flag last changed.")
    updated_by = models.CharField(
        max_length=ACTOR_MAX_LENGTH,
        blank=True,
        default="",
        help_text="Actor of the last change.",
    )

    class Meta:
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=FlagType.values), name="flags_flag_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.key


class ChangeField(models.TextChoices):
    CREATED = "created", "created"
    VALUE = "value", "value"
    RULES = "rules", "rules"
    ROLLOUT = "rollout", "rollout"
    ENABLED = "enabled", "enabled"
    ARCHIVED = "archived", "archived"
    DESCRIPTION = "description", "description"
    PREREQUISITES = "prerequisites", "prerequisites"
    ANNOUNCE = "announce", "announce"
    ANNOUNCE_CHANNELS = "announce_channels", "announce channels"
    # Segment rows (key "segment:<name>"): its conditions, and its removal.
    CONDITIONS = "conditions", "conditions"
    DELETED = "deleted", "deleted"


class ChangeSource(models.TextChoices):
    API = "api", "API"
    ADMIN = "admin", "admin"
    CLI = "cli", "command"
    CONFIG = "config", "config load"
    SCHEDULE = "schedule", "schedule"


class FlagChange(models.Model):
    flag = models.ForeignKey(
        Flag,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="changes",
        help_text="The changed flag (empty for a segment's row).",
    )
    key = models.CharField(
        max_length=KEY_MAX_LENGTH,
        help_text="Flag key at the time, or segment:<name> (kept for filtering).",
    )
    field = models.CharField(
        max_length=FIELD_MAX_LENGTH, choices=ChangeField.choices, help_text="Which field changed."
    )
    old = models.JSONField(null=True, blank=True, help_text="Value before the change.")
    new = models.JSONField(null=True, blank=True, help_text="Value after the change.")
    actor = models.CharField(
        max_length=ACTOR_MAX_LENGTH,
        help_text="Who changed it: api:<key label>, admin:<user>, cli, config, schedule:<id>.",
    )
    source = models.CharField(
        max_length=10, choices=ChangeSource.choices, help_text="Interface the change came through."
    )
    revert_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The history row this change reverted, if it is a revert.",
    )
    ts = models.DateTimeField(db_index=True, help_text="When the change was committed (UTC).")

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["key", "-id"], name="flags_change_key_id")]
        constraints = [
            models.CheckConstraint(
                condition=Q(field__in=ChangeField.values), name="flags_change_field_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.key}.{self.field}"


class FlagStamp(models.Model):
    """One row whose `stamp` changes with every flag change (the cache version)."""

    stamp = models.CharField(max_length=32, help_text="Random token replaced on every change.")

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="flags_stamp_single_row")]

    def __str__(self) -> str:
        return self.stamp


class Segment(models.Model):
    """A named, reusable set of conditions that rules refer to with `"segment": name`."""

    name = models.CharField(
        max_length=SEGMENT_NAME_MAX,
        unique=True,
        validators=[RegexValidator(KEY_PATTERN, "Letters, digits and . _ : - only.")],
        help_text=f"Stable name, e.g. `beta-testers` (at most {SEGMENT_NAME_MAX} characters).",
    )
    conditions = models.JSONField(
        help_text='Conditions that must all hold: [{"attribute", "op", "value"}] (as in a rule).',
    )
    description = models.TextField(blank=True, default="", help_text="Who is in the segment.")
    created_at = models.DateTimeField(auto_now_add=True, help_text="When it was created.")
    updated_at = models.DateTimeField(auto_now=True, help_text="When it last changed.")
    updated_by = models.CharField(
        max_length=ACTOR_MAX_LENGTH, blank=True, default="", help_text="Actor of the last change."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ScheduleState(models.TextChoices):
    PENDING = "pending", "pending"
    APPLIED = "applied", "applied"
    CANCELLED = "cancelled", "cancelled"
    FAILED = "failed", "failed"


class FlagSchedule(models.Model):
    """A change to one flag, applied once by the task worker when `at` has come."""

    flag = models.ForeignKey(
        Flag, on_delete=models.CASCADE, related_name="schedules", help_text="The flag to change."
    )
    key = models.CharField(max_length=KEY_MAX_LENGTH, help_text="Flag key (kept for filtering).")
    at = models.DateTimeField(help_text="When to apply the change (UTC).")
    change = models.JSONField(
        help_text='The fields to set: any of {"value", "enabled", "rules", "rollout"}.'
    )
    note = models.TextField(
        blank=True, default="", max_length=NOTE_MAX, help_text="Why (shown in lists)."
    )
    state = models.CharField(
        max_length=10,
        choices=ScheduleState.choices,
        default=ScheduleState.PENDING,
        help_text="pending until applied, cancelled, or failed (then `error` says why).",
    )
    created_by = models.CharField(
        max_length=ACTOR_MAX_LENGTH, help_text="Who scheduled it (api:<key>, admin:<user>, cli)."
    )
    created_at = models.DateTimeField(auto_now_add=True, help_text="When it was scheduled.")
    applied_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was applied, failed or cancelled."
    )
    error = models.TextField(blank=True, default="", help_text="Why it failed.")

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["state", "at"], name="flags_schedule_state_at")]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=ScheduleState.values), name="flags_schedule_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.key} at {console_date(self.at)}"


class FlagUsage(models.Model):
    """Evaluations of one flag, variant and reason in one UTC hour (flushed in batches)."""

    key = models.CharField(max_length=KEY_MAX_LENGTH, help_text="Flag key.")
    variant = models.CharField(max_length=NAME_MAX, help_text="The variant served.")
    reason = models.CharField(max_length=32, help_text="The evaluation reason.")
    hour = models.DateTimeField(help_text="Start of the UTC hour.")
    count = models.BigIntegerField(default=0, help_text="Evaluations counted.")
    last_at = models.DateTimeField(help_text="When the last counted evaluation was flushed.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key", "variant", "reason", "hour"], name="flags_usage_unique"
            )
        ]
        indexes = [models.Index(fields=["key", "hour"], name="flags_usage_key_hour")]

    def __str__(self) -> str:
        return f"{self.key}/{self.variant} {self.hour:%Y-%m-%d %H}h: {self.count}"
