"""LOG_FORMAT=json: every line of the web server, the worker and a command is
one JSON object, requests carry their fields, and no secret gets through."""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import ROOT, TEST_KEY, subprocess_env
from tests.processes import free_port, stop, wait_for_port

SECRET = "imap-password-4711-do-not-log"


def json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "no log line at all"
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
    for entry in parsed:
        assert {"ts", "level", "logger", "message"} <= entry.keys(), entry
        assert entry["ts"].endswith("Z")
    return parsed


def get(url: str, key: str) -> int:
    request = urllib.request.Request(url, headers={"X-Dash-Key": key})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.external
def test_web_worker_and_command_log_json_lines_without_secrets(
    transactional_db, settings, tmp_path
):
    imap = {"IMAP_HOST": "127.0.0.1", "IMAP_USER": "ops", "IMAP_PASS": SECRET}
    # Django prints system-check results as command output, not log records: the
    # interpreter warning (echopilot.W101 on Python < 3.11.10) is acknowledged here.
    env = subprocess_env(
        settings,
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        SILENCED_SYSTEM_CHECKS="echopilot.W101",
        **imap,
    )
    port = free_port()
    web_log = tmp_path / "web.log"
    with web_log.open("w") as out:
        command = [sys.executable, "-m", "gunicorn", "echopilot.wsgi", "-b", f"127.0.0.1:{port}"]
        web = subprocess.Popen(command + ["-w", "1"], cwd=ROOT, env=env, stderr=out, stdout=out)
        try:
            wait_for_port(port, proc=web)
            base = f"http://127.0.0.1:{port}"
            assert get(f"{base}/api/ping", TEST_KEY) == 200
            assert get(f"{base}/api/no-such/{TEST_KEY}", TEST_KEY) == 404  # secret in the path
            assert get(f"{base}/api/ping", "wrong-key") == 401
        finally:
            stop(web)
    web_lines = json_lines(web_log.read_text())
    requests = [e for e in web_lines if e["logger"] == "echopilot.request"]
    assert len(requests) == 3
    ping = requests[0]
    assert (ping["method"], ping["route"], ping["status"]) == ("GET", "ping", 200)
    assert ping["key_name"].startswith("k_") and ping["duration_ms"] >= 0
    assert requests[1]["route"] == "other" and "***" in requests[1]["path"]
    assert requests[2]["key_name"] is None and requests[2]["status"] == 401
    assert any(e["logger"] == "gunicorn.error" for e in web_lines)  # gunicorn's own lines

    shell = "import logging; logging.getLogger('demo').warning('password is %s', '" + SECRET + "')"
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", shell],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    command_lines = json_lines(done.stderr)
    assert command_lines[-1]["message"] == "password is ***"

    worker_log = tmp_path / "worker.log"
    with worker_log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, stderr=out, stdout=out
        )
        deadline = time.monotonic() + 30
        while "ready" not in worker_log.read_text() and time.monotonic() < deadline:
            time.sleep(0.3)
        stop(worker)
    worker_lines = json_lines(worker_log.read_text())
    assert any(e["logger"] == "django-q" for e in worker_lines)

    everything = web_log.read_text() + done.stderr + worker_log.read_text()
    assert TEST_KEY not in everything and SECRET not in everything
