"""The baseline, `/api/ping` and `/api/health` under gunicorn -w 2 with wrk, and
`/api/ping` with a stored `evaluate` key against the same with `DASHBOARD_KEY`."""

from bench.common import compare_http, gunicorn, manage, workspace, wrk

STORED_KEY_TARGET = 0.9  # of /api/ping's requests per second with DASHBOARD_KEY
ROUNDS = 3
LOAD = ["-t2", "-c32", "-d4s"]


def stored_key(base: str, secret: str) -> list[str]:
    """wrk /api/ping with DASHBOARD_KEY and with a stored key, alternating; compare totals."""
    header = {"X-Dash-Key": secret}  # set after the script's own X-Dash-Key, so it wins
    wrk(f"{base}/api/ping", extra_headers=header, args=["-t2", "-c32", "-d2s"])  # warm up
    totals = {"dash": 0.0, "stored": 0.0}
    failures = []
    for _ in range(ROUNDS):
        for name, extra in (("dash", None), ("stored", header)):
            res = wrk(f"{base}/api/ping", extra_headers=extra, args=LOAD)
            totals[name] += res["rps"]
            if res["non2xx"] or res["socket_errors"]:
                failures.append(f"ping ({name} key): {res['non2xx']} non-2xx responses")
    ratio = totals["stored"] / totals["dash"] if totals["dash"] else 0.0
    mark = f">= {STORED_KEY_TARGET:.2f} " + ("ok" if ratio >= STORED_KEY_TARGET else "MISSED")
    print(f"  {'GET /api/ping, DASHBOARD_KEY':38} {totals['dash'] / ROUNDS:9.0f}")
    print(f"  {'GET /api/ping, stored evaluate key':38} {totals['stored'] / ROUNDS:9.0f}", end="")
    print(f" {'':8} {ratio:7.2f}  {mark}")
    if ratio < STORED_KEY_TARGET:
        failures.append(f"stored key: ratio {ratio:.2f} to DASHBOARD_KEY below target")
    return failures


def run() -> list[str]:
    with workspace() as (_, env):
        out = manage("apikeys", "create", "bench-app", "--scope", "evaluate", env=env)
        secret = out.strip().splitlines()[-1]
        with gunicorn(env) as base:
            failures = compare_http(
                base, [{"name": "/api/health (one SELECT 1)", "path": "/api/health"}]
            )
            return failures + stored_key(base, secret)
