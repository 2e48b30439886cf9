"""Retention: what each kind of record is kept for, and pruning what is past it.

The core owns the mechanism; each app registers its kinds in its
`<app>/retention.py`, imported from `AppConfig.ready()`:

    register(
        "cost_reports",
        setting="RETENTION_COST_REPORT_DAYS",
        default_days=730,
        queryset=lambda cutoff: CostReport.objects.filter(created_at__lt=cutoff),
        oldest=earliest(CostReport, "created_at"),
    )

`queryset(cutoff)` returns the rows past retention (the cutoff is now minus
the kind's days); `oldest()` the time of the oldest row still stored (shown in
`/api/status`). `prune()` deletes in batches of at most `batch` primary keys,
each batch in its own short transaction that re-applies the condition, so it
never holds a long lock and is safe while the service runs.
"""

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import QuerySet
from django.utils import timezone

from echopilot import mirror
from echopilot.limits import Range

logger = logging.getLogger("echopilot.retention")

# Primary keys deleted per transaction (a kind whose rows cascade may ask for fewer).
BATCH = 1000
# Retention settings: whole days, at least one (zero would delete what was just
# written), at most 100 years (keep "forever").
DAYS_RANGE = Range("echopilot.E101", 1, 36500, "days", above_minimum=False)
STREAM = "retention"


@dataclass(frozen=True)
class Kind:
    name: str
    setting: str
    default_days: int
    queryset: Callable[[dt.datetime], QuerySet[Any]]
    oldest: Callable[[], dt.datetime | None]
    batch: int = BATCH
    description: str = ""


REGISTRY: dict[str, Kind] = {}


def register(
    kind: str,
    *,
    setting: str,
    default_days: int,
    queryset: Callable[[dt.datetime], QuerySet[Any]],
    oldest: Callable[[], dt.datetime | None],
    batch: int = BATCH,
    description: str = "",
) -> None:
    """Declare a kind of record kept `setting` days (default `default_days`)."""
    REGISTRY[kind] = Kind(kind, setting, default_days, queryset, oldest, batch, description)


def keep_days(kind: Kind) -> int:
    """Return the configured days of `kind` (its default when the setting is unusable)."""
    value = getattr(settings, kind.setting, None)
    if isinstance(value, bool) or not isinstance(value, int) or not DAYS_RANGE.contains(value):
        return kind.default_days
    return value


def cutoff_of(kind: Kind, now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(days=keep_days(kind))


def first_value(qs: QuerySet[Any], name: str) -> Any:
    """Return `name` of the first row of the ordered `qs`, or None (for `oldest`)."""
    return qs.values_list(name, flat=True).first()


def earliest(model: type[models.Model], name: str) -> Callable[[], dt.datetime | None]:
    """Return an `oldest` that reads the smallest `name` of `model`'s rows (None: no rows)."""
    return lambda: as_moment(model._default_manager.aggregate(m=models.Min(name))["m"])


def as_moment(value: dt.date | None) -> dt.datetime | None:
    """Return a stored time as an aware datetime: a DATE column's day at 00:00 UTC."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)


@dataclass
class Outcome:
    kind: str
    keep_days: int
    cutoff: dt.datetime
    rows: int = 0  # deleted, or that would be deleted (dry run)
    cascaded: dict[str, int] = field(default_factory=dict)  # other rows deleted with them
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "keep_days": self.keep_days,
            "cutoff_iso": mirror.iso(self.cutoff),
            "rows": self.rows,
            "cascaded": self.cascaded,
            "error": self.error or None,
        }


def _delete_batch(kind: Kind, cutoff: dt.datetime, outcome: Outcome) -> int:
    """Delete up to one batch of `kind`'s rows past `cutoff`; return how many were found."""
    qs = kind.queryset(cutoff)
    model: type[models.Model] = qs.model
    ids = list(qs.order_by("pk").values_list("pk", flat=True)[: kind.batch])
    if not ids:
        return 0
    with transaction.atomic():
        # The condition again, inside the transaction: a row that changed since
        # (an experiment restarted) is not deleted.
        still = list(kind.queryset(cutoff).filter(pk__in=ids).values_list("pk", flat=True))
        _, per_model = model._base_manager.filter(pk__in=still).delete()
    label = model._meta.label
    for name, count in per_model.items():
        if name != label and count:
            outcome.cascaded[name] = outcome.cascaded.get(name, 0) + count
    outcome.rows += per_model.get(label, 0)
    return len(ids)


def prune_kind(kind: Kind, *, dry_run: bool = False, now: dt.datetime | None = None) -> Outcome:
    """Delete (or with `dry_run` count) the rows of `kind` past their retention."""
    cutoff = cutoff_of(kind, now)
    outcome = Outcome(kind.name, keep_days(kind), cutoff)
    if dry_run:
        outcome.rows = kind.queryset(cutoff).count()
        return outcome
    while _delete_batch(kind, cutoff, outcome) >= kind.batch:
        pass  # a full batch: there may be more
    return outcome


def prune(
    *, dry_run: bool = False, kinds: list[str] | None = None, now: dt.datetime | None = None
) -> list[Outcome]:
    """Prune every registered kind (or those named); a failing kind is reported, not raised."""

    outcomes = []
    for name, kind in sorted(REGISTRY.items()):
        if kinds is not None and name not in kinds:
            continue
        try:
            outcomes.append(prune_kind(kind, dry_run=dry_run, now=now))
        except Exception as exc:
            logger.exception("pruning %s failed", name)
            failed = Outcome(name, keep_days(kind), cutoff_of(kind, now))
            failed.error = f"{type(exc).__name__}: {exc}"[:300]
            outcomes.append(failed)
    if not dry_run:
        record = {"type": "prune", "kinds": [o.as_dict() for o in outcomes]}
        mirror.write_now(STREAM, record)
    return outcomes


def oldest_report() -> dict[str, dict[str, Any]]:
    """Return, per kind, the oldest stored record's time and the retention in days."""
    report = {}
    for name, kind in sorted(REGISTRY.items()):
        report[name] = {"oldest_iso": mirror.iso(kind.oldest()), "keep_days": keep_days(kind)}
    return report


# --- the core's own kinds: Django-Q2 task records and the schedule run ledger ----


def _register_core() -> None:
    from django_q.models import Task

    from echopilot.models import ScheduleRun

    register(
        "task_records",
        setting="RETENTION_TASK_DAYS",
        default_days=35,
        queryset=lambda cutoff: Task.objects.filter(stopped__lt=cutoff),
        oldest=earliest(Task, "stopped"),
        description="Django-Q2 task results (successes and failures), by when they stopped",
    )
    register(
        "schedule_runs",
        setting="RETENTION_TASK_DAYS",
        default_days=35,
        queryset=lambda cutoff: ScheduleRun.objects.filter(last_started_at__lt=cutoff),
        oldest=earliest(ScheduleRun, "last_started_at"),
        description="the run ledger row of a schedule that has not started since",
    )


_register_core()
