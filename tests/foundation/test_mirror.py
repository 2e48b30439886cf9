"""The NDJSON mirror: an outbox written with the records, flushed after commit,
one untorn line per record, nothing lost while the log directory cannot be written."""

import json
import multiprocessing
import os

import pytest
from django.db import transaction

from echopilot import mirror
from echopilot.models import OutboxEntry

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


@pytest.mark.django_db
def test_write_latest_replaces_file_atomically(log_dir):
    mirror.write_latest("report.json", {"ok": True, "n": 1})
    mirror.write_latest("report.json", {"ok": True, "n": 2})
    assert json.loads((log_dir / "report.json").read_text()) == {"ok": True, "n": 2}
    assert [p.name for p in log_dir.iterdir()] == ["report.json"]  # no temp file left


@committing
def test_every_line_has_its_own_line_id(log_dir):
    mirror.append("things", {"type": "t", "n": 1})
    mirror.append_many("things", [{"type": "t", "n": 2}, {"type": "t", "n": 3}])
    rows = lines(log_dir / "things.ndjson")
    assert [r["n"] for r in rows] == [1, 2, 3]
    assert len({r["line_id"] for r in rows}) == 3 and all(len(r["line_id"]) == 32 for r in rows)


@committing
def test_secrets_are_masked_in_every_line_of_a_batch(log_dir):
    """A batch is masked in one pass over its joined lines: still every line, every time."""
    from tests.conftest import TEST_KEY

    records = [{"type": "t", "n": i, "note": f"{TEST_KEY}/{TEST_KEY}"} for i in range(3)]
    mirror.append_many("things", [{"type": "t", "n": -1}, *records])
    text = (log_dir / "things.ndjson").read_text()
    assert TEST_KEY not in text
    assert [r.get("note") for r in lines(log_dir / "things.ndjson")] == [None] + ["***/***"] * 3


@committing
def test_a_batch_is_one_outbox_entry_and_written_entries_are_gone(log_dir):
    with transaction.atomic():
        mirror.append_many("things", [{"type": "t", "n": i} for i in range(500)])
        assert OutboxEntry.objects.count() == 1
        assert OutboxEntry.objects.get().lines == 500
    assert len(lines(log_dir / "things.ndjson")) == 500
    assert OutboxEntry.objects.count() == 0


def break_log_dir(settings, tmp_path):
    """Point the log dir below a regular file: every write fails (like a lost mount)."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    settings.LOG_DIR = blocker / "logs"


@committing
def test_lines_wait_while_the_log_dir_is_broken_then_arrive_in_order(settings, tmp_path):
    good = settings.LOG_DIR
    break_log_dir(settings, tmp_path)
    for n in range(5):
        with transaction.atomic():
            mirror.append("things", {"type": "t", "n": n})
            mirror.append("other", {"type": "o", "n": n})
    waiting = mirror.backlog()
    assert (waiting.entries, waiting.lines) == (10, 10)
    assert "things.ndjson" in waiting.last_error and waiting.oldest_age_seconds >= 0
    assert mirror.flush().error  # still broken: nothing written, nothing dropped
    assert mirror.backlog().lines == 10

    settings.LOG_DIR = good
    result = mirror.flush()
    assert (result.written, result.error) == (10, "")
    assert [r["n"] for r in lines(good / "things.ndjson")] == [0, 1, 2, 3, 4]
    assert [r["n"] for r in lines(good / "other.ndjson")] == [0, 1, 2, 3, 4]
    assert mirror.backlog() == mirror.Backlog(0, 0, None, "")


@committing
def test_one_flush_per_transaction(log_dir, monkeypatch):
    calls = []
    real = mirror.flush
    monkeypatch.setattr(mirror, "flush", lambda **kw: calls.append(1) or real(**kw))
    with transaction.atomic():
        for n in range(3):
            mirror.append("things", {"type": "t", "n": n})
    assert len(calls) == 1 and len(lines(log_dir / "things.ndjson")) == 3


@committing
def test_a_latest_file_that_cannot_be_written_is_rewritten_on_recovery(settings, tmp_path):
    good = settings.LOG_DIR
    break_log_dir(settings, tmp_path)
    mirror.write_latest("report.json", {"n": 1})
    mirror.write_latest("report.json", {"n": 2})
    settings.LOG_DIR = good
    mirror.flush()
    assert json.loads((good / "report.json").read_text()) == {"n": 2}

    break_log_dir(settings, tmp_path)
    mirror.write_latest("report.json", {"n": 3})
    settings.LOG_DIR = good
    mirror.write_latest("report.json", {"n": 4})  # newer than what waits
    mirror.flush()
    assert json.loads((good / "report.json").read_text()) == {"n": 4}


def test_a_write_cut_short_leaves_no_partial_line(log_dir, monkeypatch):
    log_dir.mkdir(parents=True, exist_ok=True)
    mirror.write_line("things", b'{"n":1}\n')
    real_write = os.write

    def short_then_full(fd, data):
        real_write(fd, bytes(data[:5]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", short_then_full)
    with pytest.raises(OSError):
        mirror.write_line("things", b'{"n":2}\n')
    monkeypatch.setattr(os, "write", real_write)
    assert (log_dir / "things.ndjson").read_bytes() == b'{"n":1}\n'


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
