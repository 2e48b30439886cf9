"""The baseline: `/api/ping` and `/api/health` under gunicorn -w 2 with wrk."""

from bench.common import compare_http, gunicorn, workspace


def run() -> list[str]:
    with workspace() as (_, env), gunicorn(env) as base:
        return compare_http(base, [{"name": "/api/health (one SELECT 1)", "path": "/api/health"}])
