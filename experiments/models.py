"""Experiments, the users exposed to them, and the events those users logged."""

from django.db import models
from django.db.models import Q

from experiments.limits import (
    EVENT_MAX,
    KEY_MAX,
    PLANNED_USERS_DEFAULT,
    SALT_MAX,
    USER_MAX,
    VARIANT_MAX,
)


class Status(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    STOPPED = "stopped", "Stopped"


class Analysis(models.TextChoices):
    SEQUENTIAL = "sequential", "Sequential (always-valid, safe to peek)"
    FIXED = "fixed", "Fixed horizon (one look at the planned sample)"


class Experiment(models.Model):
    """An A/B/n test: its variants, their weights and the salt that assigns users."""

    key = models.CharField(
        max_length=KEY_MAX, unique=True, help_text="Identifier used by the API (`exp=`)."
    )
    description = models.TextField(blank=True, default="", help_text="What the test is for.")
    variants = models.JSONField(
        help_text="Variant names in order; the first is the control.",
    )
    weights = models.JSONField(
        help_text="Positive integer weight per variant (all 1 unless configured).",
    )
    salt = models.CharField(
        max_length=SALT_MAX,
        unique=True,
        help_text="Hashed with the user id; unique so experiments are not correlated.",
    )
    status = models.CharField(
        max_length=16,
        choices=Status.choices,
        default=Status.RUNNING,
        help_text="Running assigns and records; paused and stopped record no new exposure.",
    )
    winner = models.CharField(
        max_length=VARIANT_MAX,
        blank=True,
        default="",
        help_text="Variant declared the winner when stopped (empty: the control is served).",
    )
    analysis = models.CharField(
        max_length=16,
        choices=Analysis.choices,
        default=Analysis.SEQUENTIAL,
        help_text="Which interval the verdict uses: sequential (safe to look daily) or fixed.",
    )
    planned_users = models.PositiveIntegerField(
        default=PLANNED_USERS_DEFAULT,
        help_text="Planned exposed users across all variants (sequential intervals, progress).",
    )
    metrics = models.JSONField(
        default=dict,
        blank=True,
        help_text='{"primary": "conversion", "secondary": [...], "guardrails": '
        '[{"event": "refund", "direction": "decrease"}]}',
    )
    created_at = models.DateTimeField(auto_now_add=True, help_text="When it was created.")
    updated_at = models.DateTimeField(auto_now=True, help_text="When it last changed.")
    updated_by = models.CharField(
        max_length=200, blank=True, default="", help_text="Actor of the last change."
    )

    class Meta:
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="experiments_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status=Status.STOPPED) | Q(winner=""),
                name="experiments_winner_only_when_stopped",
            ),
            models.CheckConstraint(
                condition=Q(analysis__in=Analysis.values), name="experiments_analysis_valid"
            ),
            models.CheckConstraint(
                condition=Q(planned_users__gte=1), name="experiments_planned_users_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.key


class Exposure(models.Model):
    """The first assignment of a user to an experiment (stored once)."""

    experiment = models.ForeignKey(
        Experiment,
        on_delete=models.CASCADE,
        related_name="exposures",
        help_text="The experiment the user was exposed to.",
    )
    user = models.CharField(max_length=USER_MAX, help_text="The caller's user id.")
    variant = models.CharField(
        max_length=VARIANT_MAX, help_text="The variant the user was assigned."
    )
    created_at = models.DateTimeField(help_text="When the user was first exposed.")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "user"], name="experiments_exposure_once_per_user"
            )
        ]
        # No index beyond the unique one: results read the aggregates (ExposureDay),
        # and every index is paid for by every insert.

    def __str__(self) -> str:
        return f"{self.user} -> {self.variant}"


class Event(models.Model):
    """Something an exposed user did (a conversion, a purchase with a value)."""

    experiment = models.ForeignKey(
        Experiment,
        on_delete=models.CASCADE,
        related_name="events",
        help_text="The experiment the event is attributed to.",
    )
    user = models.CharField(max_length=USER_MAX, help_text="The caller's user id.")
    variant = models.CharField(max_length=VARIANT_MAX, help_text="The user's variant.")
    event = models.CharField(max_length=EVENT_MAX, help_text="Event name, e.g. `conversion`.")
    value = models.FloatField(null=True, blank=True, help_text="Optional value (revenue).")
    created_at = models.DateTimeField(help_text="When the event was logged.")

    class Meta:
        ordering = ["created_at", "id"]
        # Only the foreign key's index: results read the aggregates, not events
        # (the covering index they once needed cost every insert), and the recount
        # reads one experiment's rows through the foreign key.

    def __str__(self) -> str:
        return f"{self.event} by {self.user} ({self.variant})"


# --- aggregates: what results and the time series read -----------------------------
#
# Kept up to date in the transaction that stores the raw rows
# (experiments.services.aggregates) and rebuilt from them by
# `manage.py experiments recount`, which reports any difference.


class ExposureDay(models.Model):
    """Users first exposed to a variant on one UTC day."""

    experiment = models.ForeignKey(
        Experiment,
        on_delete=models.CASCADE,
        related_name="exposure_days",
        help_text="The experiment.",
    )
    variant = models.CharField(max_length=VARIANT_MAX, help_text="The variant.")
    day = models.DateField(help_text="UTC day of the first exposure.")
    users = models.BigIntegerField(default=0, help_text="Users first exposed that day.")

    class Meta:
        ordering = ["day", "variant"]
        constraints = [
            # Also the index results and the time series read (experiment first).
            models.UniqueConstraint(
                fields=["experiment", "variant", "day"], name="exp_exposureday_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.variant}: {self.users}"


class UserEvent(models.Model):
    """One user's total of one event in one experiment (converters, value variance).

    `prev_*` hold the row's values before its last upsert: the upsert's
    RETURNING reads them back (PostgreSQL before 18 cannot return old values),
    which tells the writer whether the user is a new converter and by how much
    the sum of squared user totals changed.
    """

    experiment = models.ForeignKey(
        Experiment,
        on_delete=models.CASCADE,
        related_name="user_events",
        help_text="The experiment.",
    )
    event = models.CharField(max_length=EVENT_MAX, help_text="Event name.")
    user = models.CharField(max_length=USER_MAX, help_text="The user id.")
    variant = models.CharField(max_length=VARIANT_MAX, help_text="The user's variant.")
    events = models.BigIntegerField(default=0, help_text="The user's events of this name.")
    value_sum = models.FloatField(default=0.0, help_text="Sum of the events' values.")
    first_day = models.DateField(help_text="UTC day of the user's first such event.")
    prev_events = models.BigIntegerField(default=0, help_text="`events` before the last upsert.")
    prev_value_sum = models.FloatField(default=0.0, help_text="`value_sum` before it.")
    prev_first_day = models.DateField(null=True, blank=True, help_text="`first_day` before it.")

    class Meta:
        ordering = ["event", "user"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "event", "user"], name="exp_userevent_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.event}: {self.events}"


class EventDay(models.Model):
    """Per (variant, event, UTC day): converters and squared user totals by the day of
    each user's first such event; events and value sums by the day they were logged."""

    experiment = models.ForeignKey(
        Experiment,
        on_delete=models.CASCADE,
        related_name="event_days",
        help_text="The experiment.",
    )
    event = models.CharField(max_length=EVENT_MAX, help_text="Event name.")
    variant = models.CharField(max_length=VARIANT_MAX, help_text="The variant.")
    day = models.DateField(help_text="UTC day.")
    converters = models.BigIntegerField(default=0, help_text="Users whose first event was today.")
    events = models.BigIntegerField(default=0, help_text="Events logged that day.")
    value_sum = models.FloatField(default=0.0, help_text="Sum of their values.")
    value_sq = models.FloatField(
        default=0.0, help_text="Sum of squared user totals of the users first converting today."
    )

    class Meta:
        ordering = ["day", "event", "variant"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "event", "variant", "day"], name="exp_eventday_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.event} {self.variant}: {self.converters}"
