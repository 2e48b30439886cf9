"""NDJSON rotation: past ECHOPILOT_LOG_MAX_MB a stream's file is renamed to
`<stream>.<UTC timestamp>.ndjson` under the writers' lock; no line is lost or
split, `tail -F` follows, old rotated files are pruned or gzipped; files are 0600."""

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from echopilot import mirror, rotation
from tests.conftest import ROOT

ROTATED = re.compile(r"^stress\.\d{8}T\d{6}\.\d{6}Z\.ndjson(\.gz)?$")


def lines_of(path: Path) -> list[bytes]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        data = fh.read()
    assert data == b"" or data.endswith(b"\n"), f"{path.name} ends mid-line"
    return data.splitlines()


def all_lines(log_dir: Path) -> list[dict]:
    current = log_dir / "stress.ndjson"
    files = [*rotation.rotated_files(current), current]
    return [json.loads(line) for f in files if f.exists() for line in lines_of(f)]


def line(i: int, size: int = 100) -> bytes:
    body = json.dumps({"n": i, "pad": "x" * size})
    return (body + "\n").encode()


def test_a_file_past_the_size_is_rotated_and_a_new_one_begins(settings, log_dir):
    settings.LOG_MAX_MB = 0.001  # 1,000 bytes
    settings.LOG_KEEP = 100
    for i in range(30):
        mirror.write_line("stress", line(i))
    rotated = rotation.rotated_files(log_dir / "stress.ndjson")
    assert len(rotated) >= 3 and all(ROTATED.match(p.name) for p in rotated)
    assert all(p.stat().st_size <= 1000 for p in rotated)
    assert [d["n"] for d in all_lines(log_dir)] == list(range(30))


def test_only_the_newest_rotated_files_are_kept(settings, log_dir):
    settings.LOG_MAX_MB = 0.0002  # each line rotates the one before
    settings.LOG_KEEP = 3
    for i in range(10):
        mirror.write_line("stress", line(i, 150))
    rotated = rotation.rotated_files(log_dir / "stress.ndjson")
    assert len(rotated) == 3
    assert [d["n"] for d in all_lines(log_dir)] == [6, 7, 8, 9]
    other = log_dir / "flags.ndjson"
    mirror.write_line("flags", line(0))
    assert other.exists()  # another stream is untouched


def test_rotated_files_can_be_gzipped(settings, log_dir):
    settings.LOG_MAX_MB = 0.0002
    settings.LOG_KEEP = 10
    settings.LOG_COMPRESS = True
    for i in range(4):
        mirror.write_line("stress", line(i, 150))
    rotated = rotation.rotated_files(log_dir / "stress.ndjson")
    assert [p.name.endswith(".ndjson.gz") for p in rotated] == [True, True, True]
    assert [d["n"] for d in all_lines(log_dir)] == [0, 1, 2, 3]
    assert {oct(p.stat().st_mode & 0o777) for p in rotated} == {"0o600"}


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o277])
def test_ndjson_and_latest_files_are_created_owner_only(db, log_dir, umask):
    old = os.umask(umask)
    try:
        mirror.write_line("stress", line(0))
        mirror.write_latest("report.json", {"ok": True})
    finally:
        os.umask(old)
    expected = 0o600 & ~umask  # never looser than 0600, stricter when the umask says so
    for name in ("stress.ndjson", "report.json"):
        assert (log_dir / name).stat().st_mode & 0o777 == expected, name


WRITER = textwrap.dedent(
    """
    import json, os, sys, time
    import django
    django.setup()
    from echopilot import mirror
    worker, count, go = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    open(go + f".ready{worker}", "w").close()
    while not os.path.exists(go):
        time.sleep(0.005)
    for n in range(count):
        body = json.dumps({"w": worker, "n": n, "pad": "y" * (20 + (n * 37 + worker) % 300)})
        mirror.write_line("stress", (body + "\\n").encode())
        if n % 10 == 0:
            time.sleep(0.005)
    """
)


@pytest.mark.external
@pytest.mark.skipif(shutil.which("tail") is None, reason="needs tail")
def test_six_processes_across_rotations_lose_and_split_no_line_and_tail_sees_all(
    settings, log_dir, tmp_path
):
    writers, count = 6, 400
    log_dir.mkdir(parents=True, exist_ok=True)
    current = log_dir / "stress.ndjson"
    os.close(os.open(current, os.O_CREAT | os.O_WRONLY, 0o600))
    seen = tmp_path / "tail.out"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "echopilot.settings",
        "ECHOPILOT_ENV_FILE": os.devnull,
        "ECHOPILOT_LOG_DIR": str(log_dir),
        "ECHOPILOT_LOG_MAX_MB": "0.03",
        "ECHOPILOT_LOG_KEEP": "1000",
        "PYTHONPATH": str(ROOT),
    }
    with open(seen, "wb") as out:
        tail = subprocess.Popen(["tail", "-n", "+1", "-F", str(current)], stdout=out)
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(w), str(count), str(go)], env=env)
        for w in range(writers)
    ]
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("go.ready*"))) < writers and time.monotonic() < deadline:
            time.sleep(0.05)
        go.touch()  # all start together
        assert [p.wait(timeout=120) for p in procs] == [0] * writers
        total = writers * count
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and seen.read_bytes().count(b"\n") < total:
            time.sleep(0.1)
    finally:
        tail.terminate()
        tail.wait(10)
        for p in procs:
            p.kill()

    rotated = rotation.rotated_files(current)
    assert len(rotated) >= 5, "the test must cross several rotations"
    found = all_lines(log_dir)  # parses every line: none split
    assert sorted((d["w"], d["n"]) for d in found) == [
        (w, n) for w in range(writers) for n in range(count)
    ]
    for w in range(writers):  # file order is time order: each writer's lines in sequence
        assert [d["n"] for d in found if d["w"] == w] == list(range(count))
    tailed = [json.loads(x) for x in seen.read_bytes().splitlines()]
    assert sorted((d["w"], d["n"]) for d in tailed) == sorted((d["w"], d["n"]) for d in found)
