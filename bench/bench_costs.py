"""Storage scan speed and memory: 100,000 files in 1,000 folders, next to `du -sb`.

Both walks run on the same tree in the same run with a warm file cache (each
is run once before timing; the best of several runs counts). Peak memory is
measured with `tracemalloc` on 100,000 and on 10,000 files in the same 1,000
folders, so a walk that kept per-file state would show up as growth.
"""

import os
import subprocess
import sys
import time
import tracemalloc

from bench.common import ROOT, manage, workspace

FOLDERS = 1_000
TARGET_RATIO = 2.0  # scan time / du -sb time
TARGET_PEAK_MB = 20.0
RUNS = 7


def build_tree(top, folders: int, files_per_folder: int) -> int:
    """Create the tree; return the sum of regular-file sizes (the oracle)."""
    total = 0
    payload = b"x" * 4096
    for d in range(folders):
        folder = os.path.join(top, f"d{d:04}")
        os.makedirs(folder)
        for f in range(files_per_folder):
            size = (d * 7 + f * 13) % 4096
            fd = os.open(os.path.join(folder, f"f{f:04}"), os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                os.write(fd, payload[:size])
            finally:
                os.close(fd)
            total += size
    return total


def best_interleaved(fns: dict, runs: int = RUNS) -> dict:
    """Run each function in turn, `runs` rounds; return each one's best time.

    Alternating the walks makes a change in machine load hit both alike.
    """
    times = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    return {name: min(values) for name, values in times.items()}


def du(top) -> int:
    out = subprocess.run(["du", "-sb", str(top)], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[0])


def peak_mb(scan, top) -> float:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        scan("bench", str(top))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


def run() -> list[str]:
    sys.path.insert(0, str(ROOT))
    from costs.storage import scan_root

    failures = []
    with workspace() as (workdir, env):
        big, small = workdir / "tree100k", workdir / "tree10k"
        started = time.perf_counter()
        expected_big = build_tree(big, FOLDERS, 100)
        expected_small = build_tree(small, FOLDERS, 10)
        print(f"  built 110,000 files in {time.perf_counter() - started:.1f}s")

        # Warm the cache and check the totals before timing.
        result = scan_root("bench", str(big))
        du(big)
        if result.bytes != expected_big or result.files != 100_000:
            failures.append(
                f"scan counted {result.bytes} bytes in {result.files} files, "
                f"expected {expected_big} in 100000"
            )
        print(
            f"  scan total {result.bytes} bytes in {result.files} files "
            f"(expected {expected_big}; du -sb says {du(big)} incl. directories)"
        )

        best = best_interleaved(
            {"du": lambda: du(big), "scan": lambda: scan_root("bench", str(big))}
        )
        t_scan, t_du = best["scan"], best["du"]
        ratio = t_scan / t_du if t_du else float("inf")
        mark = "ok" if ratio <= TARGET_RATIO else "MISSED"
        print(f"  {'walk':28} {'best s':>8} {'ratio':>7}  target")
        print(f"  {'du -sb (baseline)':28} {t_du:8.3f} {1:7.2f}")
        print(
            f"  {'scan_root (100k files)':28} {t_scan:8.3f} {ratio:7.2f}  "
            f"<= {TARGET_RATIO:.1f}x {mark}"
        )
        if ratio > TARGET_RATIO:
            failures.append(f"scan {t_scan:.3f}s is {ratio:.2f}x du -sb ({t_du:.3f}s)")

        scan_root("bench", str(small))
        peak_small = peak_mb(scan_root, small)
        peak_big = peak_mb(scan_root, big)
        growth = peak_big / peak_small if peak_small else float("inf")
        grow_ok = peak_big <= peak_small * 1.25 + 0.05
        print(f"  tracemalloc peak  10k files: {peak_small:7.3f} MB")
        print(
            f"  tracemalloc peak 100k files: {peak_big:7.3f} MB  (x{growth:.2f} for 10x files; "
            f"target < {TARGET_PEAK_MB:.0f} MB {'ok' if peak_big < TARGET_PEAK_MB else 'MISSED'}"
            f", no growth {'ok' if grow_ok else 'MISSED'})"
        )
        if peak_big >= TARGET_PEAK_MB:
            failures.append(f"scan peak {peak_big:.2f} MB >= {TARGET_PEAK_MB} MB")
        if not grow_ok:
            failures.append(f"scan peak grows with files: {peak_small:.3f} -> {peak_big:.3f} MB")

        # End to end: the whole report (DB, tasks, bandwidth) with the tree configured.
        env = dict(env, COST_STORAGE_DIRS=str(big))
        started = time.perf_counter()
        manage("costs", "report", "--dry-run", env=env)
        print(
            f"  manage.py costs report --dry-run with the 100k tree: "
            f"{time.perf_counter() - started:.2f}s (incl. interpreter start)"
        )
        _ = expected_small
    # workspace() removed the tree and its database.
    return failures
