"""Incident scan with a 1 GB ops_sentinel.ndjson next to one with a 1 MB file.

The sentinel file grows forever; the scan reads it backwards from the end and
stops at the warning window, so its time and memory must not depend on the
file's size. Target: the 1 GB scan within 2x of the 1 MB scan. The scan runs
in a child process (its own Django), timed as the median of several scans,
with tracemalloc's peak for one scan of each file.
"""

import datetime as dt
import json
import subprocess
import sys

from bench.common import ROOT, workspace

TARGET_RATIO = 2.0
SCANS = 7
GB = 1024**3
MB = 1024**2

CHILD = r"""
import json, statistics, sys, time, tracemalloc
import django
django.setup()
from django.conf import settings
from incidents import services, sources

paths = json.loads(sys.argv[1])
scans = int(sys.argv[2])
out = {}
for name, path in paths.items():  # warm-up: opens the incident, fills caches
    settings.INCIDENT_OPS_SENTINEL_PATH = path
    services.scan(actor="bench")
times = {name: [] for name in paths}
for _ in range(scans):  # interleaved, so load on the machine hits both alike
    for name, path in paths.items():
        settings.INCIDENT_OPS_SENTINEL_PATH = path
        started = time.perf_counter()
        result = services.scan(actor="bench")
        times[name].append(time.perf_counter() - started)
        assert result["details"][-1] == "System warnings: high_cpu, high_ram", result
for name, path in paths.items():
    settings.INCIDENT_OPS_SENTINEL_PATH = path
    tracemalloc.start()
    result = services.scan(actor="bench")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out[name] = {
        "median_ms": statistics.median(times[name]) * 1000,
        "peak_kib": peak / 1024,
        "bytes_read": result["sources"]["ops"]["bytes_read"],
        "lines_read": result["sources"]["ops"]["lines_read"],
    }
print(json.dumps(out))
"""


def _line(when: dt.datetime, **fields) -> bytes:
    record = {"ts_iso": when.strftime("%Y-%m-%dT%H:%M:%SZ"), **fields}
    return (json.dumps(record) + "\n").encode()


def make_sentinel(path, size: int) -> None:
    """Write ~`size` bytes of old lines (a repeated block), then a few recent ones."""
    now = dt.datetime.now(dt.UTC)
    old = now - dt.timedelta(days=3)
    levels = ["info", "warning", "info", "debug", "error"]
    types = ["heartbeat", "high_cpu", "disk_io", "gc", "high_ram"]
    block = b"".join(
        _line(old + dt.timedelta(seconds=i), level=levels[i % 5], type=types[i % 5], host="web-1")
        for i in range(8000)
    )
    with open(path, "wb") as fh:
        written = 0
        while written + len(block) <= size:
            fh.write(block)
            written += len(block)
        fh.write(block[: size - written])
        fh.write(b"\n")  # the cut block's last line stays a (broken) line of its own
        recent = now - dt.timedelta(minutes=2)
        fh.write(_line(recent, level="info", type="heartbeat"))
        fh.write(_line(recent, level="warning", type="high_cpu"))
        fh.write(_line(recent, level="warning", warnings=["high_ram"]))


def run() -> list[str]:
    failures = []
    with workspace() as (workdir, env):
        logs = workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        (logs / "slo_report.json").write_text(json.dumps({"p95_ms": 1500, "success_rate": 0.96}))
        small, big = workdir / "ops_1mb.ndjson", workdir / "ops_1gb.ndjson"
        try:
            make_sentinel(small, MB)
            make_sentinel(big, GB)
            paths = {"1 MB": str(small), "1 GB": str(big)}
            out = subprocess.run(
                [sys.executable, "-c", CHILD, json.dumps(paths), str(SCANS)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
        finally:
            big.unlink(missing_ok=True)  # never leave a 1 GB file behind
        if out.returncode != 0:
            return [f"scan child failed: {out.stderr[-1500:]}"]
        figures = json.loads(out.stdout.strip().splitlines()[-1])
    base = figures["1 MB"]
    print(
        f"  {'ops_sentinel.ndjson':20} {'scan ms (median)':>17} {'ratio':>7} "
        f"{'peak KiB':>9} {'bytes read':>11} {'lines read':>11}"
    )
    for name in ("1 MB", "1 GB"):
        fig = figures[name]
        ratio = fig["median_ms"] / base["median_ms"] if base["median_ms"] else 0.0
        print(
            f"  {name:20} {fig['median_ms']:17.1f} {ratio:7.2f} {fig['peak_kib']:9.0f} "
            f"{fig['bytes_read']:11d} {fig['lines_read']:11d}"
        )
    ratio = figures["1 GB"]["median_ms"] / base["median_ms"]
    print(
        f"  target: 1 GB scan within {TARGET_RATIO:.1f}x of the 1 MB scan -> "
        + ("ok" if ratio <= TARGET_RATIO else "MISSED")
    )
    if ratio > TARGET_RATIO:
        failures.append(f"1 GB scan {ratio:.2f}x the 1 MB scan (target {TARGET_RATIO:.1f}x)")
    peak_ratio = figures["1 GB"]["peak_kib"] / max(base["peak_kib"], 1)
    if peak_ratio > TARGET_RATIO:
        failures.append(f"1 GB scan peak memory {peak_ratio:.2f}x the 1 MB scan")
    return failures
