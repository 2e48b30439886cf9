"""The schedule registry: each app declares its periodic tasks in `tasks.py`.

    from echopilot.schedules import register

    register("incidents.scan", "incidents.tasks.scan", minutes=5)
    register("costs.daily_report", "costs.tasks.daily_report", cron="10 1 * * *")

`manage.py setup_schedules` imports every app's `tasks` module and creates or
updates one Django-Q2 `Schedule` per entry, matched by name, so it can run on
every deploy.
"""

import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from echopilot import locks, metrics

logger = logging.getLogger("echopilot.schedules")


@dataclass(frozen=True)
class Entry:
    name: str
    func: str
    minutes: int | None = None
    cron: str | None = None

    def period(self, around: dt.datetime | None = None) -> dt.timedelta:
        """Return the time between two runs (for a cron line, the one around `around`)."""
        if self.minutes is not None:
            return dt.timedelta(minutes=self.minutes)
        from croniter import croniter

        runs = croniter(self.cron, around or timezone.now())
        first: dt.datetime = runs.get_next(dt.datetime)
        second: dt.datetime = runs.get_next(dt.datetime)
        return second - first


REGISTRY: dict[str, Entry] = {}


def register(name: str, func: str, *, minutes: int | None = None, cron: str | None = None) -> None:
    """Declare a periodic task: every `minutes`, or on a `cron` line (UTC)."""
    if (minutes is None) == (cron is None):
        raise ValueError(f"schedule {name!r}: give exactly one of minutes= or cron=")
    REGISTRY[name] = Entry(name=name, func=func, minutes=minutes, cron=cron)


def discover() -> dict[str, Entry]:
    autodiscover_modules("tasks")
    return dict(REGISTRY)


def next_cron_run(cron: str, after: dt.datetime) -> dt.datetime:
    from croniter import croniter

    following: dt.datetime = croniter(cron, after).get_next(dt.datetime)
    return following


def sync(entries: dict[str, Entry] | None = None) -> list[tuple[str, str]]:
    """Create or update a Schedule per registry entry; return (name, action) pairs."""
    from django_q.models import Schedule

    entries = discover() if entries is None else entries
    now = timezone.now()
    done = []
    for entry in entries.values():
        if entry.cron:
            wanted = {"func": entry.func, "schedule_type": Schedule.CRON, "cron": entry.cron}
        else:
            wanted = {
                "func": entry.func,
                "schedule_type": Schedule.MINUTES,
                "minutes": entry.minutes,
                "cron": None,
            }
        schedule = Schedule.objects.filter(name=entry.name).order_by("id").first()
        if schedule is None:
            first = next_cron_run(entry.cron, now) if entry.cron else now
            Schedule.objects.create(name=entry.name, repeats=-1, next_run=first, **wanted)
            done.append((entry.name, "created"))
            continue
        # Duplicates can only come from outside this command; keep the first.
        Schedule.objects.filter(name=entry.name).exclude(pk=schedule.pk).delete()
        changed = {k: v for k, v in wanted.items() if getattr(schedule, k) != v}
        if changed or schedule.repeats != -1:
            for k, v in changed.items():
                setattr(schedule, k, v)
            schedule.repeats = -1
            if entry.cron and "cron" in changed:
                schedule.next_run = next_cron_run(entry.cron, now)
            schedule.save()
            done.append((entry.name, "updated"))
        else:
            done.append((entry.name, "unchanged"))
    return done


Result = TypeVar("Result")

# Django-Q2's scheduler looks at the schedules about every 30 s, so two runs of
# neighbouring periods can land that much closer than one period apart.
SCHEDULER_LOOK_SECONDS = 30.0


def min_gap_seconds(period: dt.timedelta) -> float:
    """Seconds after a completed run within which another run of it is a repeat.

    Half a period, less the scheduler's look interval: a retried run landing
    next to the following one is skipped, a run of the next period never is.
    """
    return max(0.0, period.total_seconds() / 2 - SCHEDULER_LOOK_SECONDS)


def scheduled(name: str) -> Callable[[Callable[[], Result]], Callable[[], Result | dict[str, Any]]]:
    """Make the task of schedule `name` at least once and never concurrent.

    A run holds the lock `task:<name>` (it dies with a killed worker, whose run
    Django-Q2's ORM broker hands out again after `Q_RETRY`); a run that finds
    the lock taken, or comes within `min_gap_seconds` of the last completed
    run, skips and says so. The ledger (`ScheduleRun`) records each start and end.
    """

    def decorate(func: Callable[[], Result]) -> Callable[[], Result | dict[str, Any]]:
        @functools.wraps(func)
        def run() -> Result | dict[str, Any]:
            with locks.held(f"task:{name}") as taken:
                if not taken:
                    return _skip(name, "another run of this task is still running")
                recent = _recent_finish(name)
                if recent:
                    return _skip(name, f"it already ran for this period (at {recent})")
                _ledger(name, last_started_at=timezone.now())
                try:
                    result = func()
                except BaseException:
                    metrics.task_finished(name, "error")
                    raise
                ok = not (isinstance(result, dict) and result.get("ok") is False)
                _ledger(name, last_finished_at=timezone.now(), last_ok=ok)
                metrics.task_finished(name, "ok" if ok else "failed")
                return result

        return run

    return decorate


def _ledger(name: str, **fields: Any) -> None:
    from echopilot.models import ScheduleRun

    ScheduleRun.objects.update_or_create(name=name, defaults=fields)


def _recent_finish(name: str) -> str:
    from echopilot.models import ScheduleRun

    entry = REGISTRY.get(name)
    row = ScheduleRun.objects.filter(name=name).first()
    if entry is None or row is None or row.last_finished_at is None:
        return ""
    gap = dt.timedelta(seconds=min_gap_seconds(entry.period()))
    if timezone.now() - row.last_finished_at < gap:
        return row.last_finished_at.isoformat()
    return ""


def _skip(name: str, why: str) -> dict[str, Any]:
    from django.db.models import F

    from echopilot.models import ScheduleRun

    logger.warning("schedule %s skipped: %s", name, why)
    metrics.task_finished(name, "skipped")
    ScheduleRun.objects.get_or_create(name=name)
    ScheduleRun.objects.filter(name=name).update(skipped=F("skipped") + 1)
    return {"ok": True, "skipped": why}
