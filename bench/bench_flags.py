"""Flags: in-process evaluation speed, and /api/flags/get + OFREP over gunicorn vs /api/ping."""

import json
import time

from bench.common import compare_http, django_setup, gunicorn, manage, workspace

EVAL_TARGET = 200_000  # evaluations per second, snapshot warm
HTTP_TARGET = 0.8  # of /api/ping's requests per second
KEY = "ab.pricing_v2"
RULES = [
    {
        "name": "staff",
        "conditions": [{"attribute": "email", "op": "contains", "value": "@acme"}],
        "value": True,
    },
    {
        "name": "dach",
        "conditions": [
            {"attribute": "country", "op": "in", "value": ["DE", "AT", "CH"]},
            {"attribute": "plan", "op": "eq", "value": "pro"},
        ],
        "value": True,
    },
    {
        "name": "old-app",
        "conditions": [{"attribute": "app_version", "op": "lt", "value": 3}],
        "value": False,
    },
]
ROLLOUT = {"percentage": 30, "value": True, "name": "treatment"}
# Misses every rule, so each evaluation runs all three and the rollout hash.
CONTEXT = {
    "targetingKey": "user-42",
    "country": "FR",
    "plan": "free",
    "app_version": 5,
    "email": "a@b.c",
}


def _rate(fn, n: int) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - started)
    return n / best


def in_process(env) -> list[str]:
    django_setup(env)
    from flags import evaluate

    value, variant, reason = evaluate(KEY, CONTEXT)
    assert reason == "SPLIT", (value, variant, reason)

    def flags_loop(n):
        for _ in range(n):
            evaluate(KEY, CONTEXT)

    table = {KEY: False}

    def dict_loop(n):
        for _ in range(n):
            table[KEY]

    n = 200_000
    evals = _rate(flags_loop, n)
    lookups = _rate(dict_loop, n * 5)
    mark = "ok" if evals >= EVAL_TARGET else "MISSED"
    print(
        f"  {'in-process evaluate (3 rules + rollout)':42} {evals:12,.0f} /s  "
        f"target >= {EVAL_TARGET:,} {mark}"
    )
    print(f"  {'plain dict lookup (baseline)':42} {lookups:12,.0f} /s  ratio {evals / lookups:.3f}")
    if evals < EVAL_TARGET:
        return [f"in-process evaluate: {evals:,.0f}/s below {EVAL_TARGET:,}/s"]
    return []


def run() -> list[str]:
    with workspace() as (_, env):
        manage("flags", "load", env=env)
        manage(
            "flags",
            "set",
            KEY,
            "--rules",
            json.dumps(RULES),
            "--rollout",
            json.dumps(ROLLOUT),
            env=env,
        )
        failures = in_process(env)
        with gunicorn(env) as base:
            failures += compare_http(
                base,
                [
                    {"name": "/api/flags/get", "path": "/api/flags/get"},
                    {
                        "name": "OFREP evaluate (3 rules + rollout)",
                        "path": f"/ofrep/v1/evaluate/flags/{KEY}",
                        "method": "POST",
                        "body": json.dumps({"context": CONTEXT}),
                    },
                ],
                target=HTTP_TARGET,
            )
        return failures
