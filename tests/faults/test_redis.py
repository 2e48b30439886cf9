"""Redis that fails or hangs does not take the API down.

A `redis-server` of the test's own, on its own port, is frozen with SIGSTOP or
killed under a real gunicorn.
"""

import signal
import subprocess
import time

import pytest
import requests

from tests.conftest import TEST_KEY, subprocess_env
from tests.processes import KEY, free_port, spawn_gunicorn, stop, wait_for_port, wrk

FROZEN_FOR = 20.0
LOAD = ["-t2", "-c8", "-d5s"]


@pytest.fixture
def redis_server(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    wait_for_port(port, proc=proc)
    proc.url = f"redis://127.0.0.1:{port}/0"
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
    proc.wait()


def server(settings, redis_url: str, **extra):
    env = subprocess_env(settings, REDIS_URL=redis_url, DASHBOARD_KEY=f"{TEST_KEY},{KEY}", **extra)
    return spawn_gunicorn(env, workers=2)


def flag_value(base: str, key: str):
    # A new connection each time, so requests spread over both workers.
    response = requests.get(
        f"{base}/api/flags/get", headers={"X-Dash-Key": TEST_KEY, "Connection": "close"}
    )
    assert response.status_code == 200, response.text
    return response.json()["flags"][key]


def test_a_frozen_redis_keeps_flags_served_and_changes_seen(settings, redis_server):
    proc, base = server(settings, redis_server.url)
    headers = {"X-Dash-Key": TEST_KEY}
    try:
        created = requests.post(
            f"{base}/api/flags/set",
            json={"key": "fault.frozen", "value": False, "create": True},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        wrk(f"{base}/api/flags/get", args=["-t2", "-c8", "-d2s"])  # warm up both workers
        normal = wrk(f"{base}/api/flags/get", args=LOAD)

        redis_server.send_signal(signal.SIGSTOP)
        frozen_at = time.monotonic()
        frozen = wrk(f"{base}/api/flags/get", args=LOAD)
        changed = requests.post(
            f"{base}/api/flags/set", json={"key": "fault.frozen", "value": True}, headers=headers
        )
        assert changed.status_code == 200, changed.text
        time.sleep(max(0.0, FROZEN_FOR - (time.monotonic() - frozen_at)))
        redis_server.send_signal(signal.SIGCONT)
        time.sleep(2.0)
        seen = [flag_value(base, "fault.frozen") for _ in range(40)]
    finally:
        stop(proc)

    print(
        f"flags/get normal {normal['rps']:.0f} req/s, frozen {frozen['rps']:.0f} req/s, "
        f"p99 {frozen['p99_ms']:.0f} ms"
    )
    assert frozen["non2xx"] == 0 and not frozen["socket_errors"]
    assert frozen["rps"] >= 0.5 * normal["rps"]
    assert frozen["p99_ms"] < 1000
    assert seen == [True] * 40  # every worker serves the change made during the freeze


def test_throttling_with_redis_killed_never_answers_500(settings, redis_server):
    proc, base = server(settings, redis_server.url, API_THROTTLE_RATE="30/min")
    try:
        assert requests.get(f"{base}/api/ping", headers={"X-Dash-Key": TEST_KEY}).ok
        redis_server.kill()
        redis_server.wait()
        codes = [
            requests.get(f"{base}/api/ping", headers={"X-Dash-Key": TEST_KEY}).status_code
            for _ in range(100)
        ]
        flags = requests.get(f"{base}/api/flags/get", headers={"X-Dash-Key": TEST_KEY})
    finally:
        stop(proc)
    assert set(codes) <= {200, 429} and 429 in codes  # still limited, counted per process
    assert flags.status_code in (200, 429)
