"""Rotation of the NDJSON files: `<stream>.ndjson` past a size becomes
`<stream>.<UTC timestamp>.ndjson` and a new file begins.

`echopilot.mirror` rotates while it holds the exclusive `flock` every writer
takes, and a writer that got the lock on a file renamed meanwhile reopens the
name (inode check), so no line is lost or split and every line after the
rotation lands in the new file: `tail -F` follows across it. Afterwards,
outside the lock, `tidy()` gzips the rotated file (`ECHOPILOT_LOG_COMPRESS`)
and deletes all but the newest `ECHOPILOT_LOG_KEEP` rotated files of the stream.
"""

import datetime as dt
import gzip
import logging
import os
import re
import shutil
from pathlib import Path

from django.conf import settings

from echopilot.limits import Range, clamped

logger = logging.getLogger("echopilot.mirror")

MB = 10**6
MAX_MB = Range("echopilot.E102", 0, 1_000_000, "MB", default=100.0)
KEEP = Range("echopilot.E103", 0, 1000, "files", above_minimum=False, default=10)
STAMP = "%Y%m%dT%H%M%S.%fZ"  # sorts by time; microseconds keep names unique


def max_bytes() -> int:
    return max(1, int(clamped("LOG_MAX_MB", MAX_MB) * MB))


def rotated_name(stream_file: str, when: dt.datetime) -> str:
    """`flags.ndjson` at `when` -> `flags.20261127T084500.123456Z.ndjson`."""
    stem = stream_file.removesuffix(".ndjson")
    return f"{stem}.{when.astimezone(dt.UTC).strftime(STAMP)}.ndjson"


def rotate(path: Path) -> Path:
    """Rename the (locked) current file to its timestamped name; return that name."""
    when = dt.datetime.now(dt.UTC)
    target = path.with_name(rotated_name(path.name, when))
    while target.exists() or target.with_name(target.name + ".gz").exists():
        when += dt.timedelta(microseconds=1)
        target = path.with_name(rotated_name(path.name, when))
    os.rename(path, target)
    return target


def rotated_files(path: Path) -> list[Path]:
    """The rotated files of the stream whose current file is `path`, oldest first."""
    stem = re.escape(path.name.removesuffix(".ndjson"))
    pattern = re.compile(rf"^{stem}\.(\d{{8}}T\d{{6}}\.\d{{6}}Z)\.ndjson(\.gz)?$")
    found = []
    for entry in os.scandir(path.parent):
        match = pattern.match(entry.name)
        if match:
            found.append((match.group(1), Path(entry.path)))
    return [p for _, p in sorted(found)]


def compress(rotated: Path) -> Path | None:
    """Gzip `rotated` to `<name>.gz` (0600) and remove it; None if it is gone."""
    target = rotated.with_name(rotated.name + ".gz")
    tmp = rotated.with_name(f".{rotated.name}.gz.tmp")
    try:
        with open(rotated, "rb") as src:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
            os.replace(tmp, target)
        rotated.unlink()
    except FileNotFoundError:  # another process tidied it first
        tmp.unlink(missing_ok=True)
        return None
    return target


def tidy(path: Path, rotated: Path) -> None:
    """After a rotation: compress if configured, keep the newest LOG_KEEP; never raise."""
    try:
        if settings.LOG_COMPRESS is True:
            compress(rotated)
        keep = int(clamped("LOG_KEEP", KEEP))
        old = rotated_files(path)
        for extra in old[: max(0, len(old) - keep)]:
            extra.unlink(missing_ok=True)
    except OSError as exc:
        logger.warning("mirror: tidying rotated files of %s failed: %s", path.name, exc)
