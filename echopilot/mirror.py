"""The NDJSON mirror: every stored record also becomes one line under the log dir.

The mirror is an outbox. `append()` stores the encoded line in `OutboxEntry`
inside the caller's transaction, so a rolled-back write leaves no line and a
committed one cannot be lost; after commit, `flush()` appends pending entries
to `<log dir>/<stream>.ndjson` in order and deletes each only once its write
succeeded. When the log directory is full, read-only or missing, entries wait
and are written, in order, when it recovers (the next commit's flush, or the
`echopilot.mirror_flush` schedule every minute).

Delivery is at least once: a process killed between a write and the delete
writes that entry again. Every line carries a unique `line_id`, so a consumer
drops the rare duplicate by it (`jq -s 'unique_by(.line_id)'`). The records'
own `id` fields keep their meaning.

Each append is one `write()` on a file opened with `O_APPEND` under an
exclusive `flock`, so concurrent processes never tear or interleave lines; a
write cut short (ENOSPC) is truncated back, so no partial line stays behind.
A file past `ECHOPILOT_LOG_MAX_MB` is rotated under that same lock
(`echopilot.rotation`). Files are created 0600 (a stricter umask narrows it).
`write_latest()` replaces a "latest" JSON file atomically, and queues it in the
outbox when it cannot, so it is rewritten on recovery.
"""

import datetime as dt
import fcntl
import logging
import os
import re
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import Min, Sum
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from echopilot import metrics, rotation
from echopilot.renderers import dumps
from echopilot.secrets import redact

logger = logging.getLogger("echopilot.mirror")

STREAM_NAME = re.compile(r"^[a-z0-9_]+$")
LATEST_NAME = re.compile(r"^[a-z0-9_]+\.json$")
# Entries written per flush transaction (a batch of events is one entry).
FLUSH_BATCH = 500
# After a failed write, flushes after commit pause this long in this process
# (the periodic flush still tries), so a full disk costs one attempt, not one
# per request.
FAILURE_PAUSE = 2.0
# Any constant: the PostgreSQL advisory lock that serialises flushers.
_PG_LOCK_KEY = 0x6D6972726F72


def now_iso(when: dt.datetime | None = None) -> str:
    """Return `when` (default: now) as UTC ISO-8601 with a `Z`, to the second."""
    when = when or dt.datetime.now(dt.UTC)
    when = when.astimezone(dt.UTC).replace(microsecond=0)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso(when: dt.datetime | None) -> str | None:
    """Return `when` as `now_iso` writes it, or None when there is no time."""
    return now_iso(when) if when is not None else None


def log_dir() -> Path:
    return Path(settings.LOG_DIR)


def encode_line(record: dict[str, Any]) -> bytes:
    """Return the record as one JSON line: `type`, `ts_iso`, a new `line_id`, secrets masked."""
    return (redact(_json_line(record)) + "\n").encode()


def encode_lines(records: list[dict[str, Any]]) -> bytes:
    """Return the records as JSON lines (as `encode_line`), masked in one pass: a
    secret holds no line break, so masking the joined text masks each line."""
    if not records:
        return b""
    return (redact("\n".join(_json_line(r) for r in records)) + "\n").encode()


def _json_line(record: dict[str, Any]) -> str:
    if "type" not in record:
        raise ValueError("a mirrored record needs a 'type'")
    line = {
        "type": record["type"],
        "ts_iso": record.get("ts_iso") or now_iso(),
        "line_id": uuid.uuid4().hex,
    }
    line.update((k, v) for k, v in record.items() if k not in line)
    return dumps(line, cls=JSONEncoder)


def _stream_file(stream: str) -> str:
    if not STREAM_NAME.match(stream):
        raise ValueError(f"bad stream name {stream!r}")
    return f"{stream}.ndjson"


def write_line(stream: str, data: bytes) -> None:
    """Append encoded lines to `<log dir>/<stream>.ndjson` (locked, one write)."""
    _append(_stream_file(stream), data)


def _open_locked(path: Path) -> int:
    """Open `path` for appending (created 0600) and lock it: the current file, never
    one another process rotated away while this one waited for the lock."""
    while True:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            opened = os.fstat(fd)
            try:
                named = os.stat(path)
                current = (named.st_ino, named.st_dev) == (opened.st_ino, opened.st_dev)
            except FileNotFoundError:
                current = False
        except BaseException:
            os.close(fd)
            raise
        if current:
            return fd
        os.close(fd)  # renamed meanwhile: the lines go to the new file


def _append(filename: str, data: bytes) -> None:
    directory = log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    rotated = None
    fd = _open_locked(path)
    try:
        size = os.fstat(fd).st_size
        if size and size + len(data) > rotation.max_bytes() and filename.endswith(".ndjson"):
            # Under the lock every writer takes: no line is lost or split.
            rotated = rotation.rotate(path)
            os.close(fd)
            fd = -1
            fd = _open_locked(path)
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            view = memoryview(data)
            while view:  # one write() in practice; loop only on a short write
                written = os.write(fd, view)
                view = view[written:]
        except OSError:
            os.ftruncate(fd, start)  # no torn line: the retry writes it whole
            raise
    finally:
        if fd >= 0:
            os.close(fd)  # closing releases the lock
    if rotated is not None:
        rotation.tidy(path, rotated)


# --- queueing -------------------------------------------------------------------


def append(stream: str, record: dict[str, Any], *, using: str = "default") -> None:
    """Mirror `record` to `<stream>.ndjson`: queued now, written after commit."""
    _enqueue(_stream_file(stream), encode_line(record), 1, using)


def append_many(stream: str, records: list[dict[str, Any]], *, using: str = "default") -> None:
    """Mirror several records as one outbox entry and one locked write (bulk inserts)."""
    data = encode_lines(records)
    if data:
        _enqueue(_stream_file(stream), data, len(records), using)


def write_now(stream: str, record: dict[str, Any]) -> None:
    """Mirror `record` at once, outside any transaction (a failure being recorded).

    If even the database is down, the line is appended directly, best effort.
    """
    data = encode_line(record)
    try:
        _insert(_stream_file(stream), data, 1, "default")
        _flush_after_commit()
    except DatabaseError:
        logger.warning("mirror: database unavailable, writing %s directly", stream)
        write_line(stream, data)


def _table() -> str:
    from echopilot.models import OutboxEntry

    return OutboxEntry._meta.db_table


def _insert(filename: str, data: bytes, lines: int, using: str, error: str = "") -> None:
    """Queue one entry. Raw SQL: this runs in every mirrored write (the ORM's
    create costs several times the statement on this hot path)."""
    conn = connections[using]
    created = conn.ops.adapt_datetimefield_value(timezone.now())
    with conn.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_table()} (file, data, lines, created_at, attempts, last_error)"
            " VALUES (%s, %s, %s, %s, 0, %s)",
            [filename, data, lines, created, error],
        )


def _enqueue(filename: str, data: bytes, lines: int, using: str) -> None:
    _insert(filename, data, lines, using)
    conn = transaction.get_connection(using)
    # One flush per transaction, however many lines it mirrors: skip if one that
    # has not run yet is registered at this savepoint depth (a rollback to a
    # savepoint drops its callbacks, so one registered deeper may not survive).
    here = set(conn.savepoint_ids)
    pending = (
        isinstance(f, _FlushOnCommit) and not f.ran and sids == here
        for sids, f, _ in conn.run_on_commit
    )
    if not any(pending):
        transaction.on_commit(_FlushOnCommit(), using=using, robust=True)


class _FlushOnCommit:
    """The flush a transaction runs after its commit (one object per transaction)."""

    ran = False

    def __call__(self) -> None:
        self.ran = True
        _flush_after_commit()


def atomic_write(path: Path, text: str, mode: int | None = None) -> Path:
    """Replace `path` with `text` atomically (temp file in the same dir, fsync, rename).

    The file is created owner-only (0600, narrowed further by a stricter umask)
    unless `mode` is given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_latest(name: str, record: dict[str, Any]) -> Path:
    """Atomically replace `<log dir>/<name>` (e.g. `cost_report.json`) with `record`.

    If the directory cannot take it now, the content waits in the outbox and
    replaces the file on recovery (unless a newer one got there first).
    """
    if not LATEST_NAME.match(name):
        raise ValueError(f"bad latest-file name {name!r}")
    from echopilot.models import OutboxEntry

    text = redact(dumps(record, cls=JSONEncoder, indent=2, ensure_ascii=False)) + "\n"
    path = log_dir() / name
    try:
        atomic_write(path, text)
    except OSError as exc:
        logger.warning("mirror: %s waits in the outbox: %s", name, exc)
        metrics.ndjson_write_failed(name)
        _insert(name, text.encode(), 0, "default", error=str(exc)[:300])
        return path
    # This one is newer than anything still queued for the same file.
    OutboxEntry.objects.filter(file=name).delete()
    return path


# --- flushing -------------------------------------------------------------------


class _Pause:
    until = 0.0


_pause = _Pause()


def resume() -> None:
    """Let flushes after commit try again now (they pause after a failed write)."""
    _pause.until = 0.0


def _flush_after_commit() -> None:
    if time.monotonic() < _pause.until:
        return
    try:
        flush()
    except DatabaseError:
        logger.exception("mirror: flush after commit failed; the periodic flush retries")


def _lock(using: str) -> bool:
    """Serialise flushers for the current transaction: order is kept, nothing doubles."""
    conn = connections[using]
    if conn.vendor != "postgresql":
        return True  # SQLite: the IMMEDIATE transaction already excludes other writers
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])
    return True


def _write(entry_file: str, data: bytes) -> None:
    if entry_file.endswith(".ndjson"):
        _append(entry_file, data)
    else:
        atomic_write(log_dir() / entry_file, data.decode())


def _groups(entries: list["_Entry"]) -> Iterable[list["_Entry"]]:
    """Consecutive entries of one .ndjson file, written in one append; others alone."""
    group: list[_Entry] = []
    for entry in entries:
        if group and (entry.file != group[0].file or not entry.file.endswith(".ndjson")):
            yield group
            group = []
        group.append(entry)
    if group:
        yield group


@dataclass
class FlushResult:
    written: int = 0  # entries
    error: str = ""


@dataclass
class _Entry:
    id: int
    file: str
    data: bytes
    attempts: int


def _pending(using: str) -> list[_Entry]:
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT id, file, data, attempts FROM {_table()} ORDER BY id LIMIT %s", [FLUSH_BATCH]
        )
        return [_Entry(i, f, bytes(d), a) for i, f, d, a in cursor.fetchall()]


def _delete(ids: list[int], using: str) -> None:
    if ids:
        marks = ", ".join(["%s"] * len(ids))
        with connections[using].cursor() as cursor:
            cursor.execute(f"DELETE FROM {_table()} WHERE id IN ({marks})", ids)


def flush(*, using: str = "default") -> FlushResult:
    """Write pending outbox entries in order; stop at the first failure."""
    result = FlushResult()
    while True:
        with transaction.atomic(using=using):
            _lock(using)
            entries = _pending(using)
            done: list[int] = []
            for group in _groups(entries):
                try:
                    _write(group[0].file, b"".join(e.data for e in group))
                except OSError as exc:
                    result.error = f"{group[0].file}: {exc.strerror or exc}"[:300]
                    _record_failure(group[0], result.error, using)
                    break
                done.extend(e.id for e in group)
            _delete(done, using)
        result.written += len(done)
        if result.error or len(entries) < FLUSH_BATCH:
            return result


def _record_failure(entry: "_Entry", error: str, using: str) -> None:
    from echopilot.models import OutboxEntry

    _pause.until = time.monotonic() + FAILURE_PAUSE
    logger.error("mirror: cannot write %s; lines wait in the outbox", error)
    metrics.ndjson_write_failed(entry.file)
    OutboxEntry.objects.using(using).filter(id=entry.id).update(
        attempts=entry.attempts + 1, last_error=error
    )


@dataclass
class Backlog:
    entries: int
    lines: int
    oldest_age_seconds: float | None
    last_error: str


def backlog(*, using: str = "default") -> Backlog:
    """Return what waits in the outbox: entries, lines, age of the oldest, last error."""
    from echopilot.models import OutboxEntry

    rows = OutboxEntry.objects.using(using)
    agg = rows.aggregate(lines=Sum("lines"), oldest=Min("created_at"))
    oldest = agg["oldest"]
    failing = rows.exclude(last_error="").order_by("id").values_list("last_error", flat=True)
    return Backlog(
        entries=rows.count(),
        lines=agg["lines"] or 0,
        oldest_age_seconds=(timezone.now() - oldest).total_seconds() if oldest else None,
        last_error=failing.first() or "",
    )
