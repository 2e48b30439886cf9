"""The mirror under a full log directory: nothing lost, nothing doubled, order kept.

A real gunicorn writes into a log directory on a small tmpfs that is filled
up; 1,000 flag changes and 10,000 events arrive while it is full for 30 s.
"""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests
from django.core.management import call_command

from echopilot import mirror
from tests.conftest import TEST_KEY, subprocess_env
from tests.processes import spawn_gunicorn, stop

FULL_FOR = 30.0
FLAGS = [f"fault.f{i}" for i in range(10)]


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MiB tmpfs; `fill()` takes every byte left, `free()` gives them back."""
    if os.geteuid() != 0:
        pytest.fail("the full-disk test mounts a tmpfs: run it as root (CI does)")
    mount = tmp_path / "logs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True)
    filler = mount / ".filler"

    class Disk:
        path = mount

        @staticmethod
        def fill():
            with open(filler, "wb") as fh:
                try:
                    while True:
                        fh.write(b"\0" * 65536)
                        fh.flush()
                except OSError:
                    pass

        @staticmethod
        def free():
            filler.unlink()

    try:
        yield Disk
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def ndjson(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_full_log_dir_loses_and_doubles_nothing(settings, small_disk):
    settings.LOG_DIR = small_disk.path
    call_command("load_configs", stdout=open(os.devnull, "w"))  # the experiments to log to
    proc, base = spawn_gunicorn(subprocess_env(settings), workers=2)
    http = requests.Session()
    http.headers["X-Dash-Key"] = TEST_KEY
    try:
        for key in FLAGS:
            created = http.post(
                f"{base}/api/flags/set", json={"key": key, "value": 0, "create": True}
            )
            assert created.status_code == 201, created.text

        small_disk.fill()
        full_since = time.monotonic()
        for n in range(1, 1001):
            response = http.post(f"{base}/api/flags/set", json={"key": FLAGS[n % 10], "value": n})
            assert response.status_code == 200, response.text  # the API keeps working
        for batch in range(10):
            events = [
                {"event": "conversion", "user": f"u{batch}-{i}", "exp": "pricing_v2"}
                for i in range(1000)
            ]
            response = http.post(f"{base}/api/exp/log", json=events)
            assert response.status_code == 200, response.text

        status = http.get(f"{base}/api/status").json()
        part = status["components"]["mirror"]
        assert status["healthy"] is False and part["status"] == "behind"
        assert part["pending_lines"] >= 1000 + 10000
        assert "No space left on device" in part["last_error"]
        scan = http.post(f"{base}/api/incidents/scan").json()
        assert "self:mirror_behind" in [issue["key"] for issue in scan["issues"]]

        time.sleep(max(0.0, FULL_FOR - (time.monotonic() - full_since)))
        small_disk.free()
        from echopilot.tasks import flush_mirror

        assert flush_mirror()["ok"] is True  # what the schedule runs every minute
        assert http.get(f"{base}/api/status").json()["components"]["mirror"]["pending_lines"] == 0
    finally:
        stop(proc)

    flag_lines = [
        x for x in ndjson(small_disk.path / "feature_flags.ndjson") if x["type"] == "flag_change"
    ]
    changes = [
        x
        for x in flag_lines
        if x["key"] in FLAGS and x["field"] == "value" and x["old"] is not None
    ]
    assert sorted(x["new"] for x in changes) == list(range(1, 1001))  # each change exactly once
    ids = [x["id"] for x in flag_lines]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)  # in commit order, no duplicate

    exp_lines = ndjson(small_disk.path / "experiments.ndjson")
    events = [x for x in exp_lines if x["type"] == "event"]
    assert len(events) == 10000
    assert len({x["user"] for x in events}) == 10000
    batches = [int(x["user"][1:].split("-")[0]) for x in events]
    assert batches == sorted(batches)  # batch after batch, as they were committed

    every = flag_lines + exp_lines
    assert len({x["line_id"] for x in every}) == len(every)
    assert mirror.backlog().entries == 0
