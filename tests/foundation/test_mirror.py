"""The NDJSON mirror: after commit only, one untorn line per record, across processes."""

import json
import multiprocessing
import os

import pytest
from django.db import transaction

from echopilot import mirror

# On-commit callbacks run only outside the test-case transaction.
committing = pytest.mark.django_db(transaction=True)


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@committing
def test_line_has_type_and_utc_timestamp(log_dir):
    mirror.append("things", {"type": "thing.made", "n": 1, "text": "héllo"})
    (row,) = lines(log_dir / "things.ndjson")
    assert row["type"] == "thing.made" and row["n"] == 1 and row["text"] == "héllo"
    assert row["ts_iso"].endswith("Z") and len(row["ts_iso"]) == 20


@committing
def test_record_without_type_is_refused(log_dir):
    with pytest.raises(ValueError):
        mirror.append("things", {"n": 1})
    assert not (log_dir / "things.ndjson").exists()


@committing
def test_secrets_and_nan_never_reach_a_line(log_dir, settings):
    settings.TELEGRAM_BOT_TOKEN = "123456:SECRET-TOKEN-abc"
    mirror.append(
        "things", {"type": "t", "url": "/bot123456:SECRET-TOKEN-abc/x", "v": float("nan")}
    )
    text = (log_dir / "things.ndjson").read_text()
    assert "SECRET-TOKEN" not in text
    assert json.loads(text)["v"] is None


@committing
def test_rolled_back_transaction_writes_no_line(log_dir):
    with pytest.raises(RuntimeError), transaction.atomic():
        mirror.append("things", {"type": "t", "n": "rolled back"})
        raise RuntimeError
    assert not (log_dir / "things.ndjson").exists()
    with transaction.atomic():
        mirror.append("things", {"type": "t", "n": "committed"})
        assert not (log_dir / "things.ndjson").exists()  # not before the commit
    assert [r["n"] for r in lines(log_dir / "things.ndjson")] == ["committed"]


def test_write_latest_replaces_file_atomically(log_dir):
    mirror.write_latest("report.json", {"ok": True, "n": 1})
    mirror.write_latest("report.json", {"ok": True, "n": 2})
    assert json.loads((log_dir / "report.json").read_text()) == {"ok": True, "n": 2}
    assert [p.name for p in log_dir.iterdir()] == ["report.json"]  # no temp file left


def _writer(worker: int, count: int) -> None:
    # 8 KiB payloads: larger than PIPE_BUF, so only the lock keeps lines whole.
    payload = str(worker) * 8192
    for i in range(count):
        mirror.write_line(
            "race", mirror.encode_line({"type": "t", "w": worker, "i": i, "p": payload})
        )
    os._exit(0)


@pytest.mark.external
def test_concurrent_appends_from_processes_lose_and_tear_nothing(log_dir):
    workers, count = 6, 400
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(w, count)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    rows = lines(log_dir / "race.ndjson")  # every line parses
    assert len(rows) == workers * count
    assert {(r["w"], r["i"]) for r in rows} == {
        (w, i) for w in range(workers) for i in range(count)
    }
    assert all(r["p"] == str(r["w"]) * 8192 for r in rows)
