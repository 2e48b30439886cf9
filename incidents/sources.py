"""Read the health signals a scan looks at; each reader returns (issues, source report).

Every reader is total: a missing source is `missing`, an unreadable or malformed
one is `invalid` with a reason, and nothing here raises on bad data.
"""

import datetime as dt
import json
import math
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings

from costs import selectors as cost_selectors
from echopilot import status
from echopilot.limits import Range, clamped
from echopilot.secrets import redact
from echopilot.text import single_line
from incidents import limits

# Longest ops_sentinel line considered; longer ones are skipped and counted.
MAX_LINE = 64 * 1024
# Read size when walking ops_sentinel.ndjson backwards.
BLOCK = 64 * 1024
# Largest JSON source file read (they are small reports; anything bigger is a mistake).
MAX_JSON_BYTES = 10 * 1024 * 1024
# Lines a little older than the window are still read, in case concurrent writers
# appended slightly out of order; the walk stops past this slack.
ORDER_SLACK = dt.timedelta(minutes=2)
# Lines dated further ahead than this (a writer with a wrong clock) are skipped and
# counted: a future-dated warning would otherwise stay "recent" for as long as it
# is in the future.
FUTURE_SLACK = dt.timedelta(minutes=5)
QUIET_LEVELS = {"info", "debug"}


@dataclass
class Issue:
    """One detected problem: one detail line, one or more alert keys."""

    key: str
    detail: str
    keys: list[str] = field(default_factory=list)

    def __post_init__(self):
        if not self.keys:
            self.keys = [self.key]


class SourceError(Exception):
    """A source exists but cannot be used; the message is the reported reason."""


def source_path(setting: str, default_name: str) -> Path:
    configured = getattr(settings, setting, "") or ""
    return Path(configured) if configured else Path(settings.LOG_DIR) / default_name


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SourceError(f"{name} is not a number: {value!r:.40}")
    if not math.isfinite(value):
        raise SourceError(f"{name} is not a finite number")
    return float(value)


def _count(value, name: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SourceError(f"{name} is not an integer: {value!r:.40}")
    if value < 0:
        raise SourceError(f"{name} is negative: {value}")
    return value


def fmt(value: float) -> str:
    """Format a measured number exactly, without exponent: 1500, 0.96, 1500.5, 12345678.

    Whole numbers print as integers; other floats print their shortest round-trip
    form (repr), never rounded: a success rate of 0.98999 must not read as 0.99.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not math.isfinite(value):
        return repr(value)
    if value.is_integer():
        return str(int(value))
    return format(Decimal(repr(value)), "f")


def money(value: float) -> str:
    """Format an amount with 2 decimals; one below a cent keeps its digits (0.000023)."""
    if value == 0 or abs(value) >= 0.01:
        return f"{value:.2f}"
    return fmt(value)


def load_json(path: Path):
    """Return the parsed JSON document at `path`; raise SourceError on any problem."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror}") from None
    if size == 0:
        raise SourceError("empty file")
    if size > MAX_JSON_BYTES:
        raise SourceError(f"file too large ({size} bytes, limit {MAX_JSON_BYTES})")
    try:
        with path.open("rb") as fh:
            # read(n) would allocate n bytes up front; the size is checked above.
            raw = fh.read()
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror}") from None
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise SourceError("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise SourceError(f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def _object(doc, what: str) -> dict:
    if not isinstance(doc, dict):
        raise SourceError(f"expected a JSON object {what}, got {type(doc).__name__}")
    return doc


def read_slo(path: Path) -> list[Issue]:
    doc = _object(load_json(path), "with p95_ms and success_rate")
    for name in ("p95_ms", "success_rate"):
        if name not in doc:
            raise SourceError(f"{name} is missing")
    p95 = _number(doc["p95_ms"], "p95_ms")
    success = _number(doc["success_rate"], "success_rate")
    if p95 < 0:
        raise SourceError(f"p95_ms is negative: {fmt(p95)}")
    if success < 0 or success > 100:
        raise SourceError(f"success_rate out of range: {fmt(success)}")
    if success > 1:  # a percentage
        # Divide in decimal so 95.9 reads 0.959, not 0.9590000000000001.
        success = float(Decimal(repr(success)) / 100)
    if p95 > limits.value("SLO_P95_MS") or success < limits.value("SLO_SUCCESS_MIN"):
        return [Issue("slo", f"SLO breach: P95={fmt(p95)}ms, Success={fmt(success)}")]
    return []


def read_payout(path: Path) -> list[Issue]:
    doc = _object(load_json(path), "with missing and mismatched")
    for name in ("missing", "mismatched"):
        if name not in doc:
            raise SourceError(f"{name} is missing")
    missing = _count(doc["missing"], "missing")
    mismatched = _count(doc["mismatched"], "mismatched")
    if missing or mismatched:
        return [Issue("payout", f"Payout issues: {missing} missing, {mismatched} mismatched")]
    return []


def alert_issue(name: str) -> Issue:
    return Issue(f"alert:{name}", f"Production alert: {name}")


def read_production_alerts(path: Path, report: dict) -> list[str]:
    """Return the names of active critical alerts; bad entries are skipped and counted."""
    doc = _object(load_json(path), 'with an "active" list')
    active = doc.get("active")
    if not isinstance(active, list):
        raise SourceError('"active" is missing or not a list')
    names, skipped = [], 0
    for item in active:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("name"), str)
            or not item["name"].strip()
            or not isinstance(item.get("severity", ""), str)
        ):
            skipped += 1
            continue
        if str(item.get("severity", "")).lower() == "critical":
            # Control characters replaced: a name cannot forge lines in an alert.
            names.append(single_line(item["name"], limit=200))
    report["active"] = len(active)
    if skipped:
        report["skipped_entries"] = skipped
    return names


def parse_ts(value) -> dt.datetime | None:
    """Parse an ISO-8601 `ts_iso`; without an offset it is UTC. None if unusable.

    The result keeps its offset: converting 9999-12-31T23:59:59-05:00 to UTC
    overflows, so callers that store a time convert it with `to_utc`.
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when


def to_utc(when: dt.datetime) -> dt.datetime | None:
    """Return `when` in UTC, or None when that falls outside years 1-9999."""
    try:
        return when.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        return None


@dataclass
class SentinelScan:
    types: set[str] = field(default_factory=set)
    lines_read: int = 0
    warnings: int = 0
    long_lines: int = 0
    broken_lines: int = 0
    future_lines: int = 0
    bytes_read: int = 0
    budget: int = 0  # bytes the walk may read (0: no limit)
    truncated: str = ""  # which budget ran out before the walk was done
    other_types: int = 0  # warnings of types past the first MAX_TYPES


def iter_lines_backwards(fh, size: int, scan: SentinelScan):
    """Yield complete lines (bytes) from the end of `fh` towards its start.

    Memory stays bounded by BLOCK + MAX_LINE: a line that grows past MAX_LINE
    is dropped while it is still being assembled and counted as long. The walk
    stops once `scan.budget` bytes are read, setting `scan.truncated`.
    """
    pos = size
    carry = b""  # the start of the line we are in the middle of (its later part)
    overlong = False  # the current line already passed MAX_LINE
    while pos > 0:
        if scan.budget and scan.bytes_read >= scan.budget:  # whatever the file holds
            scan.truncated = f"read budget of {scan.budget} bytes (INCIDENT_OPS_SENTINEL_MAX_BYTES)"
            return  # the line cut in half is dropped
        step = min(BLOCK, pos)
        pos -= step
        fh.seek(pos)
        block = fh.read(step)
        scan.bytes_read += len(block)
        parts = block.split(b"\n")
        # parts[-1] joins the carry; parts[0] may continue into earlier blocks.
        first_tail = parts[-1] + carry if not overlong else b""
        if len(parts) == 1:
            if not overlong:
                carry = first_tail
                if len(carry) > MAX_LINE:
                    carry, overlong = b"", True
            continue
        # The line ending at this block's last newline, completed by the carry.
        candidates = [first_tail] if not overlong else [None]
        candidates.extend(reversed(parts[1:-1]))
        for line in candidates:
            if line is None:
                scan.long_lines += 1
                continue
            if len(line) > MAX_LINE:
                scan.long_lines += 1
                continue
            yield line
        overlong = False
        carry = parts[0]
        if len(carry) > MAX_LINE:
            carry, overlong = b"", True
    if overlong:
        scan.long_lines += 1
    elif carry:
        yield carry


def _parse_line(raw: bytes, scan: SentinelScan) -> tuple[dict, dt.datetime] | None:
    """Return a sentinel line and its time; count it as broken and return None if unusable."""
    if b'"ts_iso"' not in raw:  # no time, unusable whatever else it holds: skip the parse
        scan.broken_lines += 1
        return None
    try:
        line = json.loads(raw)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        line = None
    when = parse_ts(line.get("ts_iso")) if isinstance(line, dict) else None
    if line is None or when is None:
        scan.broken_lines += 1
        return None
    return line, when


def _warning_types(line: dict) -> list[str]:
    """Return the warning types a sentinel line names (none for an info/debug line)."""
    level = line.get("level")
    if isinstance(level, str) and level.strip().lower() in QUIET_LEVELS:
        return []
    found = []
    if isinstance(line.get("warnings"), list):
        found.extend(w for w in line["warnings"] if isinstance(w, str) and w.strip())
    if isinstance(line.get("type"), str) and line["type"].strip():
        found.append(line["type"])
    return found


# Bytes a sentinel scan reads at most, from the end (INCIDENT_OPS_SENTINEL_MAX_BYTES).
SENTINEL_BUDGET = Range(
    "incidents.E019", BLOCK, 1024**3, "bytes", above_minimum=False, default=8 * 1024 * 1024
)
# Lines a scan parses at most (only a flood of broken/undated/future lines gets there),
# longest warning type kept, distinct types reported (the rest counted, not listed).
MAX_SCAN_LINES, MAX_TYPE, MAX_TYPES = 100_000, 200, 100


def sentinel_budget() -> int:
    """Return how many bytes from its end a sentinel scan may read."""
    return int(clamped("INCIDENT_OPS_SENTINEL_MAX_BYTES", SENTINEL_BUDGET))


def read_ops_sentinel(path: Path, now: dt.datetime, report: dict) -> list[Issue]:
    """Collect warning types newer than the window, walking the file from its end."""
    minutes = limits.value("OPS_WARNING_WINDOW_MINUTES")
    scan = SentinelScan(budget=sentinel_budget())
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror}") from None
    with fh:
        size = os.fstat(fh.fileno()).st_size
        _walk(fh, size, scan, now, minutes)
    scan.types.discard("")
    report.update(
        lines_read=scan.lines_read,
        warnings=scan.warnings,
        skipped_long_lines=scan.long_lines,
        skipped_broken_lines=scan.broken_lines,
        skipped_future_lines=scan.future_lines,
        bytes_read=scan.bytes_read,
        window_minutes=minutes,
        truncated=bool(scan.truncated),
    )
    if scan.other_types:
        report["other_warning_types"] = scan.other_types
    if scan.truncated:
        report["truncated_reason"] = f"{scan.truncated} used up; {size - scan.bytes_read} "
        report["truncated_reason"] += "bytes not read, no line older than the window reached"
    if not scan.types:
        return []
    types = sorted(scan.types)
    more = f" (+{scan.other_types} of other types)" if scan.other_types else ""
    detail = f"System warnings: {', '.join(types)}{more}"
    return [Issue("ops", detail, [f"ops:{t}" for t in types])]


def _walk(fh, size: int, scan: SentinelScan, now: dt.datetime, minutes: float) -> None:
    """Read lines from the end until one is older than the window or a budget runs out."""
    since = now - dt.timedelta(minutes=minutes)
    latest = now + FUTURE_SLACK
    stop_before = since - ORDER_SLACK
    for raw in iter_lines_backwards(fh, size, scan):
        raw = raw.strip()
        if not raw:
            continue
        if scan.lines_read >= MAX_SCAN_LINES:
            scan.truncated = f"line budget of {MAX_SCAN_LINES} lines"
            return
        scan.lines_read += 1
        parsed = _parse_line(raw, scan)
        if parsed is None:
            continue
        line, when = parsed
        if when > latest:
            scan.future_lines += 1
            continue
        if when < stop_before:
            return
        found = _warning_types(line) if when >= since else []
        if found:
            scan.warnings += 1
            for warning in found[:MAX_TYPES]:
                kind = single_line(warning, limit=MAX_TYPE)
                if kind in scan.types or len(scan.types) < MAX_TYPES:
                    scan.types.add(kind)
                else:
                    scan.other_types += 1


def read_cost() -> tuple[list[Issue], dict]:
    """Ask the costs app for the latest budget status through its public selector."""
    try:
        status = cost_selectors.latest_budget_status()
    except Exception as exc:
        return [], {"status": "invalid", "reason": redact(f"{type(exc).__name__}: {exc}")[:200]}
    if status is None:
        return [], {"status": "missing", "reason": "no cost report or no budget"}
    report = {
        "status": "ok",
        "over_budget": status["over_budget"],
        "report_id": status["report_id"],
    }
    if not status["over_budget"]:
        return [], report
    total, budget = money(status["total_monthly_usd"]), money(status["budget_usd"])
    return [Issue("cost", f"Cost over budget: {total} of {budget} {status['currency']}")], report


def read_received_alerts(now: dt.datetime) -> tuple[list[str], dict]:
    """Return names of firing critical alerts pushed by Alertmanager (not yet ended)."""
    from django.db.models import Q

    from incidents.models import ReceivedAlert

    rows = ReceivedAlert.objects.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
    names = sorted({r for r in rows.values_list("name", flat=True)})
    return names, {"status": "ok", "firing_critical": len(names)}


FILE_SOURCES = [
    # name, setting, default file name
    ("slo", "INCIDENT_SLO_REPORT_PATH", "slo_report.json"),
    ("payout", "INCIDENT_PAYOUT_RECON_PATH", "payout_recon.json"),
    ("ops", "INCIDENT_OPS_SENTINEL_PATH", "ops_sentinel.ndjson"),
    ("production_alerts", "INCIDENT_PRODUCTION_ALERTS_PATH", "production_alerts.json"),
]


def collect(now: dt.datetime) -> tuple[list[Issue], dict]:
    """Read every source; return the issues (in seed order) and the sources map."""
    issues: list[Issue] = []
    sources: dict[str, dict] = {}
    alert_names: list[str] = []
    for name, setting, default in FILE_SOURCES:
        path = source_path(setting, default)
        report: dict = {"path": str(path)}
        sources[name] = report
        if not path.exists():
            report["status"] = "missing"
            continue
        try:
            if name == "slo":
                issues.extend(read_slo(path))
            elif name == "payout":
                issues.extend(read_payout(path))
            elif name == "ops":
                issues.extend(read_ops_sentinel(path, now, report))
            else:
                alert_names.extend(read_production_alerts(path, report))
            report["status"] = "ok"
        except SourceError as exc:
            report.update(status="invalid", reason=str(exc))
        except Exception as exc:
            report.update(status="invalid", reason=redact(f"{type(exc).__name__}: {exc}")[:200])
    try:
        received, sources["alertmanager"] = read_received_alerts(now)
        alert_names.extend(received)
    except Exception as exc:
        sources["alertmanager"] = {
            "status": "invalid",
            "reason": redact(f"{type(exc).__name__}: {exc}")[:200],
        }
    seen = set()
    for name in alert_names:
        if name not in seen:
            seen.add(name)
            issues.append(alert_issue(name))
    cost_issues, sources["cost"] = read_cost()
    issues.extend(cost_issues)
    self_issues, sources["self"] = read_self()
    issues.extend(self_issues)
    return issues, sources


# Telegram is the channel an alert would take: its trouble is shown by
# /api/status, not alerted on through itself.
NOT_ALERTED = {"telegram"}


def read_self() -> tuple[list[Issue], dict]:
    """Turn the service's own unhealthy components (the status selector) into issues."""
    try:
        problems = status.problems()
    except Exception as exc:
        return [], {"status": "invalid", "reason": redact(f"{type(exc).__name__}: {exc}")[:200]}
    issues = [
        Issue(f"self:{name}_{part.status}", f"EchoPilot {name} {part.status}: {part.detail}"[:300])
        for name, part in problems
        if name not in NOT_ALERTED
    ]
    return issues, {"status": "ok", "unhealthy": [name for name, _ in problems]}
