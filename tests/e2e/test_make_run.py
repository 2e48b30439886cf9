"""`make run` on a fresh copy of the project: it serves, and it stops with `make`."""

import os
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest
from django.db import connection

from tests.conftest import ROOT
from tests.processes import children, free_port, wait_for_port

pytestmark = pytest.mark.slow

SKIP = shutil.ignore_patterns(
    ".git", ".venv", ".venv-fuzz", "var", "logs", "backups", ".env", "__pycache__", "*.pyc"
)


def alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# SIGTERM: make passes it to bin/run. SIGKILL: make dies alone and bin/run,
# orphaned, must notice by itself.
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["term", "kill"])
def test_make_run_serves_and_stops_with_make(tmp_path, sig):
    if connection.vendor != "sqlite":
        pytest.skip("runs once, on the embedded default (SQLite)")
    copy = tmp_path / "echopilot"
    shutil.copytree(ROOT, copy, ignore=SKIP)  # copy2 keeps mtimes: make sees the venv current
    (copy / ".venv").symlink_to(ROOT / ".venv")
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PORT": str(port),
        "WEB_WORKERS": "1",
        "Q_WORKERS": "1",
    }
    make = subprocess.Popen(
        ["make", "run"],
        cwd=copy,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for_port(port, timeout=120, proc=make)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as r:
            assert r.status == 200
        family = children(make.pid)
        assert len(family) >= 3, family  # bin/run, gunicorn (master + worker), qcluster
        os.kill(make.pid, sig)  # make alone, not its process group
        make.wait(timeout=10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(alive(pid) for pid in family):
            time.sleep(0.5)
        left = [pid for pid in family if alive(pid)]
        assert not left, [open(f"/proc/{pid}/cmdline").read() for pid in left]
    finally:
        try:
            os.killpg(make.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        output = make.communicate(timeout=10)[0]
        print(output[-3000:])
    # The key written to .env never reaches the output (often a log).
    written = (copy / ".env").read_text()
    key = next(line for line in written.splitlines() if line.startswith("DASHBOARD_KEY="))
    assert len(key) > 30 and key.split("=", 1)[1] not in output
    assert "curl -H" in output
