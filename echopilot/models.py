"""The core's tables: the mirror outbox."""

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
