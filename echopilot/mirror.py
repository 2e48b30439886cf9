"""The NDJSON mirror: every stored record also becomes one line under the log dir.

`append()` writes after the surrounding transaction commits, so a rolled-back
write leaves no line. Each line is one `write()` on a file opened with
`O_APPEND` under an exclusive `flock`, so concurrent processes never tear or
interleave lines. `write_latest()` replaces a "latest" JSON file atomically.
"""

import datetime as dt
import fcntl
import os
import re
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import transaction
from rest_framework.utils.encoders import JSONEncoder

from echopilot.renderers import dumps
from echopilot.secrets import redact

STREAM_NAME = re.compile(r"^[a-z0-9_]+$")


def now_iso(when: dt.datetime | None = None) -> str:
    """Return `when` (default: now) as UTC ISO-8601 with a `Z`, to the second."""
    when = when or dt.datetime.now(dt.UTC)
    when = when.astimezone(dt.UTC).replace(microsecond=0)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def log_dir() -> Path:
    return Path(settings.LOG_DIR)


def encode_line(record: dict) -> bytes:
    """Return the record as one JSON line, with `ts_iso` added and secrets masked."""
    if "type" not in record:
        raise ValueError("a mirrored record needs a 'type'")
    line = {"type": record["type"], "ts_iso": record.get("ts_iso") or now_iso()}
    line.update((k, v) for k, v in record.items() if k not in line)
    return (redact(dumps(line, cls=JSONEncoder)) + "\n").encode()


def write_line(stream: str, data: bytes) -> None:
    """Append one encoded line to `<log dir>/<stream>.ndjson` (locked, one write)."""
    if not STREAM_NAME.match(stream):
        raise ValueError(f"bad stream name {stream!r}")
    directory = log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / f"{stream}.ndjson", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data)
        while view:  # one write() in practice; loop only on a short write
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)  # closing releases the lock


def append(stream: str, record: dict, *, using: str = "default") -> None:
    """Mirror `record` to `<stream>.ndjson` once the current transaction commits."""
    data = encode_line(record)  # fail now, inside the caller, on a bad record
    transaction.on_commit(lambda: write_line(stream, data), using=using, robust=True)


def write_now(stream: str, record: dict) -> None:
    """Mirror `record` at once, outside any transaction (a failure being recorded)."""
    write_line(stream, encode_line(record))


def append_many(stream: str, records: list[dict], *, using: str = "default") -> None:
    """Mirror several records in one locked write after commit (bulk inserts)."""
    data = b"".join(encode_line(r) for r in records)
    if data:
        transaction.on_commit(lambda: write_line(stream, data), using=using, robust=True)


def atomic_write(path: Path, text: str, mode: int = 0o644) -> Path:
    """Replace `path` with `text` atomically (temp file in the same dir, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_latest(name: str, record: dict) -> Path:
    """Atomically replace `<log dir>/<name>` (e.g. `cost_report.json`) with `record`."""
    text = redact(dumps(record, cls=JSONEncoder, indent=2, ensure_ascii=False))
    return atomic_write(log_dir() / name, text + "\n")
