"""Experiments: in-process assignment speed, results over 1,000,000 events, and the
hot `GET /api/exp/assign` (an already-exposed user) next to `/api/ping`."""

import hashlib
import json
import random
import sqlite3
import subprocess
import sys
import time

from bench.common import ROOT, compare_http, gunicorn, manage, workspace

N_ASSIGN = 100_000
N_USERS = 100_000
N_EVENTS = 1_000_000
RESULTS_TARGET_S = 2.0
ASSIGN_TARGET_PER_S = 300_000


def bench_assign() -> list[str]:
    from experiments.assignment import assign_variant

    users = [f"user{i}" for i in range(N_ASSIGN)]
    variants = ["standard", "guided", "quick"]

    def bare():
        sha = hashlib.sha256
        for u in users:
            sha((u + "ONBOARD2025").encode("utf-8")).hexdigest()

    def ours():
        for u in users:
            assign_variant(u, "ONBOARD2025", variants)

    def weighted():
        for u in users:
            assign_variant(u, "ECHO2025", ["A", "B"], [90, 10])

    def best(fn):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return N_ASSIGN / min(times)

    base, rate, wrate = best(bare), best(ours), best(weighted)
    # The issue asks for the time of 100,000 assignments as well as the rate.
    print(f"  {'in-process, 100,000 users':38} {'per s':>9} {'ms/100k':>8} {'ratio':>7}  target")
    base_ms = N_ASSIGN / base * 1000
    print(f"  {'bare hashlib.sha256().hexdigest()':38} {base:9.0f} {base_ms:8.1f} {1:7.2f}")
    for label, r in (
        ("assign_variant (3 variants)", rate),
        ("assign_variant (90/10 weights)", wrate),
    ):
        mark = "ok" if r >= ASSIGN_TARGET_PER_S else "MISSED"
        ms = N_ASSIGN / r * 1000
        print(f"  {label:38} {r:9.0f} {ms:8.1f} {r / base:7.2f}  >= {ASSIGN_TARGET_PER_S} {mark}")
    return [
        f"{label}: {r:.0f}/s below {ASSIGN_TARGET_PER_S}/s"
        for label, r in (("assign", rate), ("weighted assign", wrate))
        if r < ASSIGN_TARGET_PER_S
    ]


def seed_and_time(db_path: str) -> dict:
    """Child process: seed 1M events over 100k users, then time results (Django set up)."""
    import django

    django.setup()
    from django.utils import timezone

    from experiments import selectors, services
    from experiments.assignment import assign_variant

    exp = services.experiment_create(
        key="bench", variants=["A", "B"], salt="BENCH-SALT", actor="bench"
    )
    rng = random.Random(7)
    stamp = timezone.now().strftime("%Y-%m-%d %H:%M:%S")
    exposures, events = [], []
    rates = {"A": 0.55, "B": 0.60}
    converters = []
    for i in range(N_USERS):
        user = f"user{i}"
        variant = assign_variant(user, exp.salt, exp.variants)
        exposures.append((exp.id, user, variant, stamp))
        if rng.random() < rates[variant]:
            converters.append((user, variant))
    for j in range(N_EVENTS):
        user, variant = (
            converters[j % len(converters)] if j < len(converters) else rng.choice(converters)
        )
        events.append((exp.id, user, variant, "conversion", round(rng.random() * 50, 2), stamp))
    started = time.perf_counter()
    con = sqlite3.connect(db_path)
    with con:
        con.executemany(
            "INSERT INTO experiments_exposure (experiment_id, user, variant, created_at) "
            "VALUES (?, ?, ?, ?)",
            exposures,
        )
        con.executemany(
            "INSERT INTO experiments_event (experiment_id, user, variant, event, value, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            events,
        )
    con.execute("ANALYZE")
    con.close()
    seeded = time.perf_counter() - started
    # Rows written behind the services' back: build the aggregates results read.
    started = time.perf_counter()
    services.recount(key="bench")
    recounted = time.perf_counter() - started
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        data = selectors.results(experiment="bench", event="conversion")
        timings.append(time.perf_counter() - start)
    return {
        "seed_s": seeded,
        "recount_s": recounted,
        "results_s": min(timings),
        "results_first_s": timings[0],
        "users": sum(v["users"] for v in data["variants"]),
        "converters": sum(v["converters"] for v in data["variants"]),
        "prob_beat_control": data["variants"][1]["prob_beat_control"],
    }


def bench_results() -> list[str]:
    with workspace() as (workdir, env):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.bench_experiments",
                "child",
                str(workdir / "bench.sqlite3"),
            ],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    r = json.loads(out.strip().splitlines()[-1])
    mark = "ok" if r["results_s"] < RESULTS_TARGET_S else "MISSED"
    print(
        f"  seeded {N_EVENTS:,} events over {r['users']:,} users "
        f"({r['converters']:,} converters) in {r['seed_s']:.1f}s (raw executemany), "
        f"aggregates by recount in {r['recount_s']:.1f}s"
    )
    print(
        f"  results (SQLite, aggregates + stats): {r['results_s'] * 1000:.0f} ms best of 3 "
        f"(first {r['results_first_s'] * 1000:.0f} ms)  target < {RESULTS_TARGET_S:.0f} s {mark}"
    )
    if r["users"] != N_USERS:
        return [f"results counted {r['users']} users, expected {N_USERS}"]
    if r["results_s"] >= RESULTS_TARGET_S:
        return [f"results over {N_EVENTS} events took {r['results_s']:.2f}s"]
    return []


def bench_http() -> list[str]:
    with workspace() as (workdir, env):
        manage("experiments", "load", "--file", str(ROOT / "configs" / "experiments.json"), env=env)
        manage("experiments", "assign", "pricing_v2", "user123", "--record", env=env)
        with gunicorn(env) as base:
            failures = compare_http(
                base,
                [
                    {
                        "name": "/api/exp/assign (exposed user)",
                        "path": "/api/exp/assign?user=user123&exp=pricing_v2",
                        "target": 0.7,
                    }
                ],
            )
        con = sqlite3.connect(workdir / "bench.sqlite3")
        (count,) = con.execute("SELECT COUNT(*) FROM experiments_exposure").fetchone()
        con.close()
        if count != 1:
            failures.append(f"hot assign path wrote exposures: {count} rows, expected 1")
    return failures


def run() -> list[str]:
    sys.path.insert(0, str(ROOT))
    failures = bench_assign()
    failures += bench_results()
    failures += bench_http()
    return failures


if __name__ == "__main__" and sys.argv[1:2] == ["child"]:
    print(json.dumps(seed_and_time(sys.argv[2])))
