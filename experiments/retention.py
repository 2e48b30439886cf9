"""What experiments keep: raw per-user rows until a year after the stop.

Experiments themselves are kept. Raw rows of an experiment stopped (and not
changed since) more than `RETENTION_EXPERIMENT_DATA_DAYS` ago go: exposures,
events and each user's event totals (`UserEvent`, which only the ingestion of
new events and the recount read; a stopped experiment takes no events). Its
results answer from the per-day aggregates the experiments app keeps.
"""

import datetime as dt

from echopilot.retention import as_moment, first_value, register
from experiments.models import Event, Exposure, Status, UserEvent


def _stopped_before(cutoff) -> dict:
    # A stopped experiment changes no more: its last change is its stop.
    return {"experiment__status": Status.STOPPED, "experiment__updated_at__lt": cutoff}


register(
    "experiment_exposures",
    setting="RETENTION_EXPERIMENT_DATA_DAYS",
    default_days=365,
    queryset=lambda cutoff: Exposure.objects.filter(**_stopped_before(cutoff)),
    # created_at has no index; ids grow with it, so the first row is the oldest.
    oldest=lambda: first_value(Exposure.objects.order_by("pk"), "created_at"),
    description="raw exposures of experiments stopped before the cutoff",
)
register(
    "experiment_events",
    setting="RETENTION_EXPERIMENT_DATA_DAYS",
    default_days=365,
    queryset=lambda cutoff: Event.objects.filter(**_stopped_before(cutoff)),
    oldest=lambda: first_value(Event.objects.order_by("pk"), "created_at"),
    description="raw events of experiments stopped before the cutoff",
)


def _oldest_user_event() -> dt.datetime | None:
    # first_day has no index; ids grow with ingestion, so the first row is (nearly) the
    # oldest: a recount renumbers one experiment's rows.
    return as_moment(first_value(UserEvent.objects.order_by("pk"), "first_day"))


register(
    "experiment_user_events",
    setting="RETENTION_EXPERIMENT_DATA_DAYS",
    default_days=365,
    queryset=lambda cutoff: UserEvent.objects.filter(**_stopped_before(cutoff)),
    oldest=_oldest_user_event,
    description="per-user event totals of experiments stopped before the cutoff",
)
