"""Metrics cost: /api/ping and /api/flags/get with metrics on (multiprocess mode,
as `make run` serves) against the same app with METRICS_ENABLED=0, same run.

Both servers run side by side (gunicorn -w 2 each); wrk loads one at a time,
alternating, and the totals of several rounds are compared, so drift of the
shared machine hits both alike.
"""

import tempfile

from bench.common import gunicorn, manage, workspace, wrk

TARGET = 0.9  # metrics on, of the requests per second with metrics off
ROUNDS = 5
LOAD = ["-t2", "-c32", "-d4s"]
PATHS = ["/api/ping", "/api/flags/get"]


def compare(on: str, off: str) -> list[str]:
    failures = []
    for path in PATHS:  # warm up every worker of both servers
        for base in (on, off):
            wrk(f"{base}{path}", args=["-t2", "-c32", "-d2s"])
    print(f"  {'endpoint':38} {'off req/s':>10} {'on req/s':>10} {'ratio':>7}  target")
    for path in PATHS:
        totals = {"on": 0.0, "off": 0.0}
        for n in range(ROUNDS):
            pair = [("off", off), ("on", on)]
            for name, base in pair if n % 2 else reversed(pair):  # neither always goes first
                res = wrk(f"{base}{path}", args=LOAD)
                totals[name] += res["rps"]
                if res["non2xx"] or res["socket_errors"]:
                    failures.append(f"{path} (metrics {name}): {res['non2xx']} non-2xx responses")
        ratio = totals["on"] / totals["off"] if totals["off"] else 0.0
        mark = f">= {TARGET:.2f} " + ("ok" if ratio >= TARGET else "MISSED")
        label = f"GET {path}, metrics on vs off"
        print(
            f"  {label:38} {totals['off'] / ROUNDS:10.0f} {totals['on'] / ROUNDS:10.0f} "
            f"{ratio:7.2f}  {mark}"
        )
        if ratio < TARGET:
            failures.append(f"{path}: metrics on at {ratio:.2f} of off, below {TARGET:.2f}")
    return failures


def run() -> list[str]:
    with workspace() as (workdir, env), tempfile.TemporaryDirectory(dir=workdir) as directory:
        manage("flags", "load", env=env)
        on_env = dict(env, METRICS_ENABLED="1", PROMETHEUS_MULTIPROC_DIR=directory)
        off_env = dict(env, METRICS_ENABLED="0")
        off_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        with gunicorn(on_env) as on, gunicorn(off_env) as off:
            return compare(on, off)
