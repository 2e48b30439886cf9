"""Shared benchmark tools: wrk against the app under gunicorn, with ratios.

HTTP figures always come in pairs measured in the same run: the endpoint and
`/api/ping` (the baseline that touches no database), so the ratio holds on a
noisy shared machine where absolute numbers do not.
"""

import os

from tests.processes import KEY, ROOT, gunicorn, manage, workspace, wrk

__all__ = ["KEY", "ROOT", "compare_http", "django_setup", "gunicorn", "manage", "workspace", "wrk"]


def django_setup(env: dict) -> None:
    """Configure Django in this process against the bench environment."""
    os.environ.update(env)
    import django

    django.setup()


def compare_http(base: str, cases: list[dict], target: float | None = None) -> list[str]:
    """wrk `/api/ping` then each case on the same server; print and check ratios.

    A case is {"name", "path", "method"?, "body"?, "target"?}; returns failures.
    """
    failures = []
    # Warm up: let every worker import its code and open its connections.
    wrk(f"{base}/api/ping", args=["-t2", "-c32", "-d2s"])
    for case in cases:
        wrk(
            f"{base}{case['path']}",
            method=case.get("method", "GET"),
            body=case.get("body"),
            args=["-t2", "-c32", "-d1s"],
        )
    ping = wrk(f"{base}/api/ping")
    print(f"  {'endpoint':38} {'req/s':>9} {'p99 ms':>8} {'ratio':>7}  target")
    print(f"  {'GET /api/ping (baseline)':38} {ping['rps']:9.0f} {ping['p99_ms']:8.1f} {1:7.2f}")
    if ping["non2xx"] or ping["socket_errors"]:
        failures.append(f"/api/ping: {ping['non2xx']} non-2xx {ping['socket_errors']}")
    for case in cases:
        method = case.get("method", "GET")
        res = wrk(f"{base}{case['path']}", method=method, body=case.get("body"))
        ratio = res["rps"] / ping["rps"] if ping["rps"] else 0.0
        want = case.get("target", target)
        label = f"{method} {case.get('name', case['path'])}"
        mark = "" if want is None else (f">= {want:.2f} " + ("ok" if ratio >= want else "MISSED"))
        print(f"  {label[:38]:38} {res['rps']:9.0f} {res['p99_ms']:8.1f} {ratio:7.2f}  {mark}")
        if res["non2xx"] or res["socket_errors"]:
            failures.append(f"{label}: {res['non2xx']} non-2xx responses {res['socket_errors']}")
        if want is not None and ratio < want:
            failures.append(f"{label}: ratio {ratio:.2f} to /api/ping below {want:.2f}")
    return failures
