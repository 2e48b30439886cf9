"""Named locks that die with their holder, for runs that must never overlap.

PostgreSQL: a session advisory lock on the process's connection (released when
the process or its connection dies). SQLite: an `fcntl` lock on a file under
`VAR_DIR/locks/` (released when the process dies). Both are process-wide, so
they serialise workers on one host (SQLite) or on every host (PostgreSQL).
"""

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connections


def _pg_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def held(name: str, *, using: str = "default") -> Iterator[bool]:
    """Try to take lock `name` for the block; yield whether it was taken (never waits)."""
    conn = connections[using]
    if conn.vendor == "postgresql":
        with _pg_lock(conn, _pg_key(name)) as taken:
            yield taken
    else:
        with _file_lock(Path(settings.VAR_DIR) / "locks" / f"{name}.lock") as taken:
            yield taken


@contextmanager
def _pg_lock(conn, key: int) -> Iterator[bool]:  # type: ignore[no-untyped-def]
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        taken = bool(cursor.fetchone()[0])
    try:
        yield taken
    finally:
        if taken:
            with conn.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


@contextmanager
def _file_lock(path: Path) -> Iterator[bool]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the lock
