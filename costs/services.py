"""Cost report operations: measure, project, compare, store.

Units (the convention of OpenCost and Infracost): a month is 730 hours for
every projection, a GB is 10**9 bytes. Amounts are rounded to 6 decimals in
the report; `total_monthly_usd` is the rounded sum of the unrounded parts.
"""

import datetime as dt
import logging
import os
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from echopilot import mirror
from echopilot.secrets import redact

if TYPE_CHECKING:
    from costs.models import CostReport

logger = logging.getLogger("costs")

HOURS_PER_MONTH = 730.0
BYTES_PER_GB = 10**9
WINDOW = dt.timedelta(hours=24)
DEFAULT_THRESHOLDS = (50.0, 80.0, 100.0)
TREND_DAYS = (7, 30)
TREND_TOLERANCE = dt.timedelta(days=1)
STREAM = "cost_report"
LATEST_FILE = "cost_report.json"


def _r(value: float, places: int = 6) -> float:
    return round(float(value), places)


def parse_thresholds(raw: object) -> list[float]:
    """Parse `COST_BUDGET_THRESHOLDS` ("50,80,100") into sorted percentages.

    Raise ValueError for anything that is not a list of positive numbers.
    """
    if isinstance(raw, list | tuple):
        parts = [str(p) for p in raw]
    else:
        parts = str(raw or "").split(",")
    values = []
    for part in parts:
        part = part.strip()
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            raise ValueError(f"{part!r} is not a number") from None
        if not (value > 0 and value < float("inf")):
            raise ValueError(f"{part!r} is not a positive percentage")
        values.append(value)
    if not values:
        raise ValueError("no thresholds given")
    return sorted(set(values))


def thresholds() -> list[float]:
    try:
        return parse_thresholds(settings.COST_BUDGET_THRESHOLDS)
    except ValueError:
        # The system check reports it; a report still goes out with the defaults.
        return list(DEFAULT_THRESHOLDS)


def pricing() -> dict[str, float]:
    return {
        "storage_per_gb_month": float(settings.COST_STORAGE_PER_GB_MONTH),
        "cpu_per_hour": float(settings.COST_CPU_PER_HOUR),
        "bandwidth_per_gb": float(settings.COST_BANDWIDTH_PER_GB),
    }


# --- Storage ------------------------------------------------------------------


def storage_roots() -> list[tuple[str, str, bool]]:
    """Return (name, path, required) for every path the storage figure measures."""
    roots = [("logs", str(settings.LOG_DIR), True), ("backups", str(settings.BACKUP_DIR), True)]
    db = connections["default"]
    if db.vendor == "sqlite":
        name = str(db.settings_dict["NAME"])
        if name and name != ":memory:" and not name.startswith("file:"):
            roots.append(("database", name, True))
            # The WAL and shared-memory files come and go with checkpoints.
            roots.append(("database-wal", name + "-wal", False))
            roots.append(("database-shm", name + "-shm", False))
    for extra in getattr(settings, "COST_STORAGE_DIRS", None) or []:
        extra = str(extra).strip()
        if extra:
            roots.append((extra, extra, True))
    return roots


def measure_storage() -> dict[str, Any]:
    """Walk the configured paths; return bytes, files, skipped and the breakdown."""
    from costs.storage import RootSize, scan_root

    roots = storage_roots()
    resolved = [os.path.realpath(path) for _, path, _ in roots]
    # Measure outermost paths first so a path inside another is not counted twice.
    order = sorted(range(len(roots)), key=lambda i: (len(resolved[i]), i))
    results: dict[int, RootSize] = {}
    measured: list[int] = []
    for i in order:
        name, path, required = roots[i]
        outer = next(
            (
                j
                for j in measured
                if resolved[i] == resolved[j]
                or resolved[i].startswith(resolved[j].rstrip(os.sep) + os.sep)
            ),
            None,
        )
        if outer is not None:
            results[i] = RootSize(
                name=name, path=path, note=f"inside {roots[outer][0]!r}; counted there"
            )
            continue
        if not required and not os.path.lexists(path):
            continue
        results[i] = scan_root(name, path)
        measured.append(i)

    breakdown = [results[i].as_dict() for i in range(len(roots)) if i in results]
    total = sum(r["bytes"] for r in breakdown)
    price = float(settings.COST_STORAGE_PER_GB_MONTH)
    return {
        "bytes": total,
        "gb": total / BYTES_PER_GB,
        "monthly_usd": total / BYTES_PER_GB * price,
        "files": sum(r["files"] for r in breakdown),
        "skipped": sum(r["skipped"] for r in breakdown),
        "breakdown": breakdown,
    }


# --- Compute -------------------------------------------------------------------


def measure_compute(start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Sum the time Django-Q2 tasks ran inside [start, end) and project it to a month.

    A run lasts stopped - started (as the cost issue prescribes). Django-Q2 sets
    `started` at enqueue time, so queue wait is included: an upper bound.
    """
    from django_q.models import Task

    seconds = 0.0
    runs = 0
    rows = Task.objects.filter(stopped__gt=start, started__lt=end).values_list("started", "stopped")
    for started, stopped in rows.iterator(chunk_size=2000):
        if started is None or stopped is None:
            continue
        ran = (min(stopped, end) - max(started, start)).total_seconds()
        if ran > 0:
            seconds += ran
            runs += 1
    measured_hours = seconds / 3600.0
    always_on = float(settings.COST_ALWAYS_ON_HOURS_PER_DAY)
    window_hours = (end - start).total_seconds() / 3600.0
    per_day = (measured_hours * 24.0 / window_hours if window_hours else 0.0) + always_on
    estimated = per_day * HOURS_PER_MONTH / 24.0
    return {
        "estimated_hours": estimated,
        "monthly_usd": estimated * float(settings.COST_CPU_PER_HOUR),
        "measured_hours": measured_hours,
        "task_runs": runs,
        "always_on_hours_per_day": always_on,
    }


# --- Bandwidth -------------------------------------------------------------------


def measure_bandwidth(start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Return API response bytes over [start, end) from the per-day counters.

    Counters are per UTC day, so the day the window starts in is taken pro rata
    (the share of it inside the window); the current day counts in full.
    """
    from costs.middleware import counter
    from costs.models import BandwidthCounter

    counter.flush()  # this process's own unflushed responses
    rows = BandwidthCounter.objects.filter(day__gte=start.date(), day__lte=end.date())
    total = 0.0
    responses = 0.0
    for row in rows:
        day_start = dt.datetime.combine(row.day, dt.time.min, tzinfo=dt.UTC)
        day_end = day_start + dt.timedelta(days=1)
        overlap = (min(day_end, end) - max(day_start, start)).total_seconds()
        elapsed = (min(day_end, end) - day_start).total_seconds()
        share = 1.0 if elapsed <= 0 else max(0.0, min(1.0, overlap / elapsed))
        total += row.bytes * share
        responses += row.responses * share
    nbytes = int(round(total))
    window_hours = (end - start).total_seconds() / 3600.0
    monthly_bytes = nbytes * HOURS_PER_MONTH / window_hours if window_hours else 0.0
    return {
        "bytes": nbytes,
        "responses": int(round(responses)),
        "gb": nbytes / BYTES_PER_GB,
        "monthly_gb": monthly_bytes / BYTES_PER_GB,
        "monthly_usd": monthly_bytes / BYTES_PER_GB * float(settings.COST_BANDWIDTH_PER_GB),
    }


# --- Budget and trend --------------------------------------------------------------


def configured_budget() -> float | None:
    """Return `COST_MONTHLY_BUDGET_USD` as a float, or None if unset."""
    budget = settings.COST_MONTHLY_BUDGET_USD
    return None if budget is None else float(budget)


def budget_status(total: float, budget: float | None) -> dict[str, Any] | None:
    """Compare a projected monthly total with the budget (None without a budget)."""
    if budget is None:
        return None
    levels = thresholds()
    percent: float | None
    if budget > 0:
        percent = total / budget * 100.0
    else:  # a zero budget: any spending is over it, and a percentage is undefined
        percent = 0.0 if total <= 0 else None
    reached = None
    if percent is not None:
        reached = max((t for t in levels if percent >= t), default=None)
    over = total > 0 if percent is None else percent >= 100.0
    return {
        "budget_usd": _r(budget),
        "percent_used": None if percent is None else _r(percent, 4),
        "thresholds": levels,
        "threshold_reached": reached,
        "over_budget": over,
    }


def _closest_report(target: dt.datetime, before: dt.datetime) -> "CostReport | None":
    from costs.models import CostReport

    qs = CostReport.objects.filter(created_at__lt=before).only(
        "id", "created_at", "total_monthly_usd"
    )
    older = (
        qs.filter(created_at__lte=target, created_at__gte=target - TREND_TOLERANCE)
        .order_by("-created_at", "-id")
        .first()
    )
    newer = (
        qs.filter(created_at__gt=target, created_at__lte=target + TREND_TOLERANCE)
        .order_by("created_at", "id")
        .first()
    )
    candidates = [r for r in (older, newer) if r is not None]
    if not candidates:
        return None
    return min(candidates, key=lambda r: abs((r.created_at - target).total_seconds()))


def trend(now: dt.datetime, total: float) -> dict[str, dict[str, Any] | None]:
    """Compare `total` with the stored reports closest to 7 and 30 days before `now`."""
    out: dict[str, dict[str, Any] | None] = {}
    for days in TREND_DAYS:
        report = _closest_report(now - dt.timedelta(days=days), now)
        if report is None:
            out[f"{days}d"] = None
            continue
        old = report.total_monthly_usd
        out[f"{days}d"] = {
            "report_id": report.id,
            "ts_iso": mirror.now_iso(report.created_at),
            "total_monthly_usd": _r(old),
            "change_usd": _r(total - old),
            "change_percent": _r((total - old) / old * 100.0, 4) if old else None,
        }
    return out


# --- The report ----------------------------------------------------------------------


def compute_report(*, now: dt.datetime | None = None) -> dict[str, Any]:
    """Measure everything and return the report (nothing is stored)."""
    now = (now or timezone.now()).astimezone(dt.UTC)
    start = now - WINDOW
    storage = measure_storage()
    compute = measure_compute(start, now)
    bandwidth = measure_bandwidth(start, now)
    total = storage["monthly_usd"] + compute["monthly_usd"] + bandwidth["monthly_usd"]
    budget = configured_budget()
    report: dict[str, Any] = {
        "ok": True,
        "ts_iso": mirror.now_iso(now),
        "storage": {
            "bytes": storage["bytes"],
            "gb": _r(storage["gb"]),
            "monthly_usd": _r(storage["monthly_usd"]),
            "files": storage["files"],
            "skipped": storage["skipped"],
            "breakdown": storage["breakdown"],
        },
        "compute": {
            "estimated_hours": _r(compute["estimated_hours"]),
            "monthly_usd": _r(compute["monthly_usd"]),
            "measured_hours": _r(compute["measured_hours"]),
            "task_runs": compute["task_runs"],
            "always_on_hours_per_day": compute["always_on_hours_per_day"],
        },
        "total_monthly_usd": _r(total),
        "pricing": pricing(),
        "currency": settings.COST_CURRENCY or "USD",
        "window": {
            "start_iso": mirror.now_iso(start),
            "end_iso": mirror.now_iso(now),
            "hours": WINDOW.total_seconds() / 3600.0,
            "hours_per_month": HOURS_PER_MONTH,
        },
        "bandwidth": {
            "bytes": bandwidth["bytes"],
            "gb": _r(bandwidth["gb"]),
            "responses": bandwidth["responses"],
            "monthly_gb": _r(bandwidth["monthly_gb"]),
            "monthly_usd": _r(bandwidth["monthly_usd"]),
        },
        "budget": budget_status(total, budget),
        "trend": trend(now, total),
    }
    report["_unrounded"] = {
        "budget": budget,
        "storage": storage["monthly_usd"],
        "compute": compute["monthly_usd"],
        "bandwidth": bandwidth["monthly_usd"],
        "total": total,
        "now": now,
    }
    return report


def create_report(*, save: bool, actor: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """Compute a cost report; with `save`, store it (row, NDJSON line, latest JSON file).

    Return the report; a stored one also carries `report_id`.
    """
    from costs.models import CostReport

    report = compute_report(now=now)
    raw = report.pop("_unrounded")
    report["saved"] = False
    report["report_id"] = None
    if not save:
        return report

    stored = {k: v for k, v in report.items() if k not in ("ok", "saved", "report_id")}
    budget = report["budget"]
    with transaction.atomic():
        row = CostReport.objects.create(
            created_at=raw["now"],
            actor=actor[:100],
            currency=report["currency"][:8],
            storage_bytes=report["storage"]["bytes"],
            storage_monthly_usd=raw["storage"],
            compute_hours=report["compute"]["estimated_hours"],
            compute_monthly_usd=raw["compute"],
            bandwidth_bytes=report["bandwidth"]["bytes"],
            bandwidth_monthly_usd=raw["bandwidth"],
            total_monthly_usd=raw["total"],
            # Unrounded like the amounts above: a budget under 0.000001 stays non-zero.
            budget_usd=raw["budget"],
            percent_used=budget["percent_used"] if budget else None,
            over_budget=bool(budget and budget["over_budget"]),
            payload=stored,
        )
        report["saved"] = True
        report["report_id"] = row.id
        line = {"type": "cost_report", "report_id": row.id, "actor": actor, **stored}
        mirror.append(STREAM, line)
        latest = {"ok": True, "report_id": row.id, **stored}
        transaction.on_commit(lambda: mirror.write_latest(LATEST_FILE, latest), robust=True)
    logger.info("cost report %s stored by %s: %s", row.id, actor, report["total_monthly_usd"])
    return report


def prune_tasks(*, now: dt.datetime | None = None) -> int:
    """Delete Django-Q2 task records stopped before RETENTION_TASK_DAYS; return how many.

    `manage.py prune` (daily) does the same for every kind; this keeps the
    compute figure's input bounded even where that schedule is not set up.
    """
    from echopilot import retention

    return retention.prune_kind(retention.REGISTRY["task_records"], now=now).rows


def daily_report(*, actor: str = "schedule") -> dict[str, Any]:
    """Store the day's report and prune old task records; never raise."""
    errors: list[str] = []
    result: dict[str, Any] = {"ok": True, "report_id": None, "pruned_tasks": 0, "errors": errors}
    try:
        result["pruned_tasks"] = prune_tasks()
    except Exception as exc:
        logger.exception("pruning task records failed")
        errors.append(redact(f"prune: {exc.__class__.__name__}: {exc}")[:300])
    try:
        report = create_report(save=True, actor=actor)
        result["report_id"] = report["report_id"]
        result["total_monthly_usd"] = report["total_monthly_usd"]
    except Exception as exc:
        logger.exception("daily cost report failed")
        errors.append(redact(f"report: {exc.__class__.__name__}: {exc}")[:300])
    if errors:
        result["ok"] = False
        try:
            mirror.write_now(
                STREAM, {"type": "cost_report_failed", "actor": actor, "errors": errors}
            )
        except Exception:
            logger.exception("could not record the failure")
    return result
