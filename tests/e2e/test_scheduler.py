"""End to end: `setup_schedules` + a real `qcluster` run the apps' scheduled tasks."""

import json
import subprocess
import sys
import time
import uuid

import pytest
from django.core.management import call_command
from django.db import connection
from django_q.models import Schedule, Task

from tests.conftest import ROOT, subprocess_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


# The queue is always the ORM broker; with REDIS_URL set, Redis serves the cache.
@pytest.mark.parametrize("broker", ["orm", "redis"], ids=["no-redis", "with-redis-cache"])
def test_qcluster_runs_the_registered_schedules(settings, log_dir, broker):
    # Each case waits ~35 s for Django-Q2's first look: run each once in CI, the
    # embedded default on SQLite and the Redis cache beside PostgreSQL.
    postgres = connection.vendor == "postgresql"
    if (broker == "redis") != postgres:
        pytest.skip("runs once: no-redis on SQLite, with-redis-cache on PostgreSQL")
    call_command("setup_schedules", stdout=open("/dev/null", "w"))
    names = set(Schedule.objects.values_list("name", flat=True))
    assert {"incidents.scan", "support.digest", "costs.daily_report"} <= names
    extra = {"Q_WORKERS": 1, "Q_CLUSTER_NAME": f"e2e{uuid.uuid4().hex[:8]}"}
    if broker == "redis":
        extra["REDIS_URL"] = "redis://127.0.0.1:6379/15"
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=subprocess_env(settings, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # Django-Q2's scheduler first looks at the schedules ~30 s after start.
        deadline = time.monotonic() + 90
        done = set()
        while time.monotonic() < deadline and proc.poll() is None:
            done = set(Task.objects.filter(success=True).values_list("func", flat=True))
            if {"incidents.tasks.scan", "support.tasks.digest"} <= done:
                break
            time.sleep(1)
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert {"incidents.tasks.scan", "support.tasks.digest"} <= done, output[-3000:]
    # The daily cost report is a cron schedule for 01:10 UTC: not due, not run.
    assert "costs.tasks.daily_report" not in done
    scan = Schedule.objects.get(name="incidents.scan")
    assert scan.next_run > Task.objects.get(func="incidents.tasks.scan").started
    # The tasks' records were mirrored by the worker process into this test's log dir.
    lines = [json.loads(x) for x in (log_dir / "incidents.ndjson").read_text().splitlines()]
    assert any(line["type"].startswith("scan") for line in lines), lines
    assert (log_dir / "support_digest.json").is_file()
