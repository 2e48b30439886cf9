"""Example signal files (healthy or breaching), to watch an incident's life by hand."""

import json
from pathlib import Path
from typing import Any

from echopilot.mirror import atomic_write, now_iso
from incidents import clock
from incidents.sources import FILE_SOURCES, source_path

# ops_sentinel.ndjson is replaced (not appended to) only when it is this small
# and holds nothing but lines written here.
EXAMPLE_MARK = "incident_signals"
MAX_REWRITE = 1024 * 1024

HEALTHY: dict[str, dict[str, Any]] = {
    "slo": {"p95_ms": 420, "success_rate": 0.998},
    "payout": {"missing": 0, "mismatched": 0},
    "production_alerts": {"active": []},
}
BREACH: dict[str, dict[str, Any]] = {
    "slo": {"p95_ms": 1500, "success_rate": 0.96},
    "payout": {"missing": 2, "mismatched": 1},
    "production_alerts": {"active": [{"name": "api_5xx_rate", "severity": "critical"}]},
}


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    atomic_write(path, json.dumps({**doc, "source": EXAMPLE_MARK}, indent=2) + "\n")


def _only_examples(path: Path) -> bool:
    if not path.exists():
        return True
    if path.stat().st_size > MAX_REWRITE:
        return False
    for line in path.read_text(errors="replace").splitlines():
        try:
            if line.strip() and json.loads(line).get("source") != EXAMPLE_MARK:
                return False
        except (ValueError, AttributeError):
            return False
    return True


def _sentinel_lines(*, breach: bool) -> list[dict[str, Any]]:
    ts = now_iso(clock.now())
    if not breach:
        return [{"ts_iso": ts, "level": "info", "type": "heartbeat", "source": EXAMPLE_MARK}]
    return [
        {"ts_iso": ts, "level": "warning", "type": "high_cpu", "source": EXAMPLE_MARK},
        {"ts_iso": ts, "level": "warning", "warnings": ["high_ram"], "source": EXAMPLE_MARK},
    ]


def write_example_signals(*, breach: bool) -> list[str]:
    """Write the example signal files; return one line per thing done.

    A healthy run replaces ops_sentinel.ndjson only when it holds nothing but
    example lines; a real sentinel file is appended to, never rewritten.
    """
    paths = {name: source_path(setting, default) for name, setting, default in FILE_SOURCES}
    done = []
    for name, doc in (BREACH if breach else HEALTHY).items():
        _write_json(paths[name], doc)
        done.append(f"wrote {paths[name]}")
    ops = paths["ops"]
    ops.parent.mkdir(parents=True, exist_ok=True)
    mode = "w" if not breach and _only_examples(ops) else "a"
    with ops.open(mode) as fh:
        fh.writelines(json.dumps(line) + "\n" for line in _sentinel_lines(breach=breach))
    done.append(f"{'replaced' if mode == 'w' else 'appended to'} {ops}")
    if not breach and mode == "a":
        done.append(
            "note: recent warnings already in that file count until they are older than "
            "OPS_WARNING_WINDOW_MINUTES."
        )
    return done
