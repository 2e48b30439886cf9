"""The status selector: one report of every component, read by `/api/status`,
the console's overview and the incidents scan (`self:` issues).

The core probes the database, Redis, the mirror and the scheduler; each app
registers probes for what it depends on (`register_probe("imap", probe)` in
its `AppConfig.ready()`). A probe returns a `Component`; one that raises is
reported `down`, so the report itself never fails.
"""

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from echopilot import mirror

logger = logging.getLogger("echopilot.status")

OK, OFF = "ok", "off"  # off: not configured, or nothing to judge yet
# A mirror backlog older than this is `behind` even without a failed write.
MIRROR_BEHIND_SECONDS = 60


@dataclass
class Component:
    status: str  # ok, off, or what is wrong: down, slow, behind, overdue, failing
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return self.status in (OK, OFF)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "detail": self.detail, **self.data}


Probe = Callable[[], Component]
PROBES: dict[str, Probe] = {}


def register_probe(name: str, probe: Probe) -> None:
    """Add (or replace) the probe of component `name`."""
    PROBES[name] = probe


def collect() -> dict[str, Component]:
    """Run every probe; a probe that raises reports its component `down`."""
    report = {}
    for name, probe in PROBES.items():
        try:
            report[name] = probe()
        except Exception as exc:
            logger.exception("status probe %s failed", name)
            report[name] = Component("down", f"the probe failed: {type(exc).__name__}")
    return report


def status_report() -> dict[str, Any]:
    """Return the whole report as plain data: healthy overall, and each component."""
    components = collect()
    return {
        "healthy": all(c.healthy for c in components.values()),
        "ts_iso": mirror.now_iso(),
        "components": {name: c.as_dict() for name, c in components.items()},
    }


def problems() -> list[tuple[str, Component]]:
    """Return the components that are not healthy, by name."""
    return [(name, c) for name, c in collect().items() if not c.healthy]


# --- the core's probes ---------------------------------------------------------


def _elapsed_ms(start: float) -> float:
    return round((time.monotonic() - start) * 1000, 1)


def probe_database() -> Component:
    start = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return Component(OK, connection.vendor, {"latency_ms": _elapsed_ms(start)})


def probe_redis() -> Component:
    if not settings.REDIS_URL:
        return Component(OFF, "REDIS_URL is not set")
    import redis

    from echopilot.cache import redis_timeout_options

    client = redis.Redis.from_url(settings.REDIS_URL, **redis_timeout_options())
    start = time.monotonic()
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return Component("down", f"{type(exc).__name__}: no answer within REDIS_TIMEOUT")
    finally:
        client.close()
    latency = _elapsed_ms(start)
    slow = latency > float(settings.REDIS_TIMEOUT) * 1000 / 2
    return Component("slow" if slow else OK, "", {"latency_ms": latency})


def probe_mirror() -> Component:
    backlog = mirror.backlog()
    data = {
        "pending_lines": backlog.lines,
        "pending_entries": backlog.entries,
        "oldest_pending_age_s": backlog.oldest_age_seconds,
        "last_error": backlog.last_error or None,
    }
    age = backlog.oldest_age_seconds or 0.0
    if backlog.entries and (backlog.last_error or age > MIRROR_BEHIND_SECONDS):
        detail = f"{backlog.lines} line(s) wait to be written"
        return Component(
            "behind", detail + (f": {backlog.last_error}" if backlog.last_error else ""), data
        )
    return Component(OK, "", data)


def probe_scheduler() -> Component:
    """Each schedule's last success; overdue when late by more than one period."""
    from django_q.models import Schedule

    from echopilot import schedules
    from echopilot.models import ScheduleRun

    now = timezone.now()
    rows = {s.name: s for s in Schedule.objects.filter(name__in=schedules.discover())}
    runs = {r.name: r for r in ScheduleRun.objects.all()}
    report: dict[str, dict[str, Any]] = {}
    late: list[str] = []
    for name, entry in sorted(schedules.REGISTRY.items()):
        row, run = rows.get(name), runs.get(name)
        if row is None:
            report[name] = {"state": "not set up"}
            continue
        last = run.last_finished_at if run else None
        due = (last + entry.period(last)) if last else row.next_run
        overdue = due is not None and now - due > entry.period(now)
        report[name] = {
            "last_success_iso": mirror.now_iso(last) if last and run and run.last_ok else None,
            "last_run_ok": run.last_ok if run else None,
            "next_run_iso": mirror.now_iso(row.next_run) if row.next_run else None,
            "overdue": overdue,
        }
        if overdue:
            late.append(name)
    if not rows:
        return Component(
            OFF, "no schedules set up (manage.py setup_schedules)", {"schedules": report}
        )
    if late:
        return Component("overdue", "late: " + ", ".join(late), {"schedules": report})
    return Component(OK, "", {"schedules": report})


def probe_retention() -> Component:
    """The oldest stored record of each kind next to how long it is kept."""
    from echopilot import retention

    return Component(OK, "", {"kinds": retention.oldest_report()})


def _register_core() -> None:
    register_probe("database", probe_database)
    register_probe("redis", probe_redis)
    register_probe("mirror", probe_mirror)
    register_probe("scheduler", probe_scheduler)
    register_probe("retention", probe_retention)


_register_core()


def since(when: dt.datetime | None) -> str | None:
    """Return `when` as ISO-8601 UTC, or None (for probes' last-outcome fields)."""
    return mirror.now_iso(when) if when else None
