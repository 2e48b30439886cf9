"""Metrics across real processes: two gunicorn workers and a qcluster add up in
one scrape (prometheus_client multiprocess mode), and promtool accepts it."""

import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, TEST_KEY, subprocess_env
from tests.processes import counts_per_process, promtool, stop

PING = ("method", "GET"), ("status", "200"), ("view", "ping")


def get(url: str, key: str = TEST_KEY) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read().decode()


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def ping_counts_per_process(directory: Path) -> dict[str, float]:
    """{counter file: GET /api/ping 200 count} of each process."""
    return counts_per_process(
        directory, "echopilot_http_requests_total", view="ping", method="GET", status="200"
    )


@pytest.mark.external
def test_two_workers_and_a_qcluster_add_up_in_one_scrape(gunicorn_server, settings, tmp_path):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    base = gunicorn_server(workers=2, PROMETHEUS_MULTIPROC_DIR=directory)
    # Gunicorn's workers race to accept, so one can take a whole burst: send
    # bursts until both have counted some (each file is one worker's share).
    requests = 0
    with ThreadPoolExecutor(8) as pool:
        while requests < 800:
            statuses = list(pool.map(lambda _: get(f"{base}/api/ping")[0], range(40)))
            assert statuses == [200] * 40
            requests += 40
            if len([n for n in ping_counts_per_process(directory).values() if n]) >= 2:
                break

    # The same SECRET_KEY: Django-Q2 signs the task this process enqueues.
    env = subprocess_env(
        settings, PROMETHEUS_MULTIPROC_DIR=directory, SECRET_KEY=settings.SECRET_KEY
    )
    cluster = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env)
    try:
        from django_q.tasks import async_task

        async_task("echopilot.tasks.flush_mirror")
        ran = ("echopilot_task_runs_total", (("outcome", "ok"), ("task", "echopilot.mirror_flush")))
        deadline = time.monotonic() + 60
        while True:
            status, text = get(f"{base}/metrics")
            found = samples(text)
            if found.get(ran) == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        stop(cluster)

    assert status == 200
    assert found.get(ran) == 1, "the qcluster's run never showed up in a web scrape"
    success = (
        "echopilot_task_last_success_timestamp_seconds",
        (("task", "echopilot.mirror_flush"),),
    )
    assert found[success] > time.time() - 120
    # Exactly the requests sent, though each worker counted only its own share.
    assert found[("echopilot_http_requests_total", PING)] == requests
    per_process = [n for n in ping_counts_per_process(directory).values() if n]
    assert len(per_process) == 2 and sum(per_process) == requests

    # Last, so a machine without promtool still ran everything above.
    check = promtool("check", "metrics", input=text)
    assert check.returncode == 0, check.stdout + check.stderr
