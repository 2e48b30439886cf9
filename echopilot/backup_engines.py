"""What `echopilot.backup` does per database engine: dump, restore, count rows.

SQLite: the online backup API (`sqlite3.Connection.backup`) copies the whole
database in one step inside one read transaction, so the copy is a consistent
snapshot while the service writes (WAL: writers are not blocked). PostgreSQL:
a REPEATABLE READ transaction exports its snapshot, counts every table in it
and runs `pg_dump --format=custom --snapshot=…` on that same snapshot, so the
manifest's counts are the dump's. The password reaches `pg_dump` and
`pg_restore` through `PGPASSWORD` in their environment, never the command line.
"""

import os
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import connection, connections, transaction

from echopilot.exceptions import UpstreamFailure
from echopilot.files import create_private
from echopilot.secrets import redact

SQLITE_TIMEOUT = 60.0
PG_TIMEOUT = 3600


def vendor() -> str:
    return connection.vendor


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- SQLite ---------------------------------------------------------------------


def sqlite_counts(path: Path) -> dict[str, int]:
    """Rows of every table of the SQLite file `path`."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=SQLITE_TIMEOUT)
    try:
        names = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
                " ORDER BY name"
            )
        ]
        return {n: db.execute(f"SELECT COUNT(*) FROM {_quote(n)}").fetchone()[0] for n in names}
    finally:
        db.close()


def sqlite_copy(source: str | Path, target: str | Path) -> None:
    """Copy database `source` into `target` (replacing its content) with the backup API."""
    src = sqlite3.connect(str(source), timeout=SQLITE_TIMEOUT)
    dst = sqlite3.connect(str(target), timeout=SQLITE_TIMEOUT)
    try:
        src.backup(dst)  # pages=-1: one step, one read transaction: a snapshot
    finally:
        dst.close()
        src.close()


def sqlite_dump(target: Path) -> dict[str, int]:
    """Snapshot the configured SQLite database into `target`; return its row counts."""
    create_private(target)  # in a fresh temporary directory: never there yet
    sqlite_copy(connection.settings_dict["NAME"], target)
    # A self-contained file: no WAL beside it inside the archive.
    db = sqlite3.connect(str(target))
    try:
        db.execute("PRAGMA journal_mode=DELETE")
    finally:
        db.close()
    return sqlite_counts(target)


def sqlite_check(path: Path) -> str:
    """Return '' when `path` is a sound SQLite database, else why not."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = db.execute("PRAGMA integrity_check").fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return "" if row and row[0] == "ok" else f"integrity check: {row[0] if row else '?'}"


def sqlite_restore(source: Path) -> dict[str, int]:
    """Replace the configured SQLite database's content with `source`; return its counts."""
    connections.close_all()
    name = connection.settings_dict["NAME"]
    create_private(Path(name))
    sqlite_copy(source, name)
    return sqlite_counts(Path(name))


# --- PostgreSQL -------------------------------------------------------------------


def _pg_args(settings_dict: dict[str, Any], dbname: str | None = None) -> list[str]:
    args = ["--dbname", dbname or settings_dict["NAME"], "--no-password"]
    if settings_dict.get("HOST"):
        args += ["--host", str(settings_dict["HOST"])]
    if settings_dict.get("PORT"):
        args += ["--port", str(settings_dict["PORT"])]
    if settings_dict.get("USER"):
        args += ["--username", str(settings_dict["USER"])]
    return args


def _pg_env(settings_dict: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings_dict["PASSWORD"])
    return env


def _run(args: list[str], settings_dict: dict[str, Any]) -> None:
    try:
        done = subprocess.run(
            args, env=_pg_env(settings_dict), capture_output=True, text=True, timeout=PG_TIMEOUT
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UpstreamFailure(
            f"{args[0]} could not run: {exc}", code="backup_tool_failed"
        ) from None
    if done.returncode != 0:
        why = redact(done.stderr.strip())[-500:]
        raise UpstreamFailure(
            f"{args[0]} failed ({done.returncode}): {why}", code="backup_tool_failed"
        )


def pg_counts(cursor: Any) -> dict[str, int]:
    cursor.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
    )
    names = [r[0] for r in cursor.fetchall()]
    counts = {}
    for n in names:
        cursor.execute(f"SELECT COUNT(*) FROM {_quote(n)}")
        counts[n] = cursor.fetchone()[0]
    return counts


def pg_dump(target: Path) -> dict[str, int]:
    """Dump the configured PostgreSQL database to `target`; return the snapshot's counts."""
    settings_dict = connection.settings_dict
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        counts = pg_counts(cursor)
        args = ["pg_dump", "--format=custom", f"--snapshot={snapshot}", "--file", str(target)]
        _run(args + _pg_args(settings_dict), settings_dict)
    os.chmod(target, 0o600)
    return counts


def pg_check(path: Path) -> str:
    """Return '' when `pg_restore` can read the dump's table of contents, else why not."""
    try:
        _run(["pg_restore", "--list", str(path)], {})
    except UpstreamFailure as exc:
        return exc.detail
    return ""


def pg_restore(source: Path, *, clean: bool, dbname: str | None = None) -> dict[str, int]:
    """Restore the dump `source` into the configured database (or `dbname`); return counts."""
    settings_dict = connection.settings_dict
    args = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error"]
    args += ["--single-transaction"] + (["--clean", "--if-exists"] if clean else [])
    _run([*args, *_pg_args(settings_dict, dbname), str(source)], settings_dict)
    with _pg_cursor(dbname) as cursor:
        return pg_counts(cursor)


@contextmanager
def _pg_cursor(dbname: str | None) -> Iterator[Any]:
    if dbname is None:
        with connection.cursor() as cursor:
            yield cursor
        return
    import psycopg
    from psycopg.conninfo import make_conninfo

    s = connection.settings_dict
    given = {"host": s.get("HOST"), "port": s.get("PORT"), "user": s.get("USER")}
    given["password"] = s.get("PASSWORD")
    conninfo = make_conninfo(dbname=dbname, **{k: str(v) for k, v in given.items() if v})
    with psycopg.connect(conninfo, autocommit=True) as conn, conn.cursor() as cursor:
        yield cursor


@contextmanager
def pg_throwaway() -> Iterator[str]:
    """Yield the name of a new empty database on the same server; drop it afterwards."""
    name = f"{connection.settings_dict['NAME']}_verify_{uuid.uuid4().hex[:8]}"[:63]
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {_quote(name)}")
    try:
        yield name
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")


def table_names() -> list[str]:
    """Tables of the configured database (empty: a database to restore into)."""
    with connection.cursor() as cursor:
        return list(connection.introspection.table_names(cursor))
