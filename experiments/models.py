"""Experiments, the users exposed to them, and the events those users logged."""

from django.db import models
from django.db.models import Q

from experiments.limits import EVENT_MAX, KEY_MAX, SALT_MAX, USER_MAX, VARIANT_MAX


class Status(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    STOPPED = "stopped", "Stopped"


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
        indexes = [
            # Results count users per variant: GROUP BY variant within one experiment.
            models.Index(fields=["experiment", "variant"], name="exp_exposure_variant"),
        ]

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
        indexes = [
            # Covers the results query: WHERE experiment, event GROUP BY variant,
            # COUNT(DISTINCT user), SUM(value) read from the index alone.
            models.Index(
                fields=["experiment", "event", "variant", "user", "value"],
                name="exp_event_results",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} by {self.user} ({self.variant})"
