"""Feature flags, their change history, and the shared version stamp."""

import re

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from flags.limits import ACTOR_MAX_LENGTH, KEY_MAX_LENGTH

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
    enabled = models.BooleanField(
        default=True,
        help_text="Off: rules and rollout are skipped and everyone gets the value (DISABLED).",
    )
    archived = models.BooleanField(
        default=False,
        help_text="Archived flags are hidden from /api/flags/get and evaluate as not found.",
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


class ChangeSource(models.TextChoices):
    API = "api", "API"
    ADMIN = "admin", "admin"
    CLI = "cli", "command"
    CONFIG = "config", "config load"
    SCHEDULE = "schedule", "schedule"


class FlagChange(models.Model):
    flag = models.ForeignKey(
        Flag, on_delete=models.CASCADE, related_name="changes", help_text="The changed flag."
    )
    key = models.CharField(
        max_length=KEY_MAX_LENGTH, help_text="Flag key at the time (kept for filtering)."
    )
    field = models.CharField(
        max_length=12, choices=ChangeField.choices, help_text="Which field changed."
    )
    old = models.JSONField(null=True, blank=True, help_text="Value before the change.")
    new = models.JSONField(null=True, blank=True, help_text="Value after the change.")
    actor = models.CharField(
        max_length=ACTOR_MAX_LENGTH,
        help_text="Who changed it: api:<key label>, admin:<user>, cli, config.",
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
