"""What experiments keep: raw per-user rows until a year after the stop.

Experiments themselves are kept. Raw rows of an experiment stopped (and not
changed since) more than `RETENTION_EXPERIMENT_DATA_DAYS` ago go: exposures,
events and each user's event totals (`UserEvent`, which only the ingestion of
new events and the recount read; a stopped experiment takes no events). Its
results answer from the per-day aggregates the experiments app keeps.
"""

import datetime as dt

from echopilot.retention import as_moment, first_value, register
from experiments.models import Event, Experiment, Exposure, Status, UserEvent


def _stopped_field() -> str:
    """When the stop happened: `stopped_at` if the model has it, else the last change."""
    names = {f.name for f in Experiment._meta.get_fields()}
    return "stopped_at" if "stopped_at" in names else "updated_at"


def _stopped_before(cutoff) -> dict:
    return {"experiment__status": Status.STOPPED, f"experiment__{_stopped_field()}__lt": cutoff}


register(
    "experiment_exposures",
    setting="RETENTION_EXPERIMENT_DATA_DAYS",
    default_days=365,
    queryset=lambda cutoff: Exposure.objects.filter(**_stopped_before(cutoff)),
    # created_at has no index; ids grow with it, so the first row is the oldest.
    oldest=lambda: Exposure.objects.order_by("pk").values_list("created_at", flat=True).first(),
    description="raw exposures of experiments stopped before the cutoff",
)
register(
    "experiment_events",
    setting="RETENTION_EXPERIMENT_DATA_DAYS",
    default_days=365,
    queryset=lambda cutoff: Event.objects.filter(**_stopped_before(cutoff)),
    oldest=lambda: Event.objects.order_by("pk").values_list("created_at", flat=True).first(),
    description="raw events of experiments stopped before the cutoff",
)


def _oldest_user_event() -> dt.datetime | None:
    # first_day has no index; ids grow with ingestion, so the first row is (nearly) the
    # oldest: a recount renumbers one experiment's rows.
    day = first_value(UserEvent.objects.order_by("pk"), "first_day")
    return as_moment(day)


register(
    "experiment_user_events",
    setting="RETENTION_EXPERIMENT_DATA_DAYS",
    default_days=365,
    queryset=lambda cutoff: UserEvent.objects.filter(**_stopped_before(cutoff)),
    oldest=_oldest_user_event,
    description="per-user event totals of experiments stopped before the cutoff",
)
