"""The schedule registry: each app declares its periodic tasks in `tasks.py`.

    from echopilot.schedules import register

    register("incidents.scan", "incidents.tasks.scan", minutes=5)
    register("costs.daily_report", "costs.tasks.daily_report", cron="10 1 * * *")

`manage.py setup_schedules` imports every app's `tasks` module and creates or
updates one Django-Q2 `Schedule` per entry, matched by name, so it can run on
every deploy.
"""

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.module_loading import autodiscover_modules


@dataclass(frozen=True)
class Entry:
    name: str
    func: str
    minutes: int | None = None
    cron: str | None = None


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
