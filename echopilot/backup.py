"""Backups that restore: `manage.py backup`, `backup --verify FILE`, `restore FILE`.

A backup is one uncompressed tar, `ECHOPILOT_BACKUP_DIR/echopilot-<UTC timestamp>.tar`
(0600), holding, in this order:

- `manifest.json`: `{"format": 1, "created", "database" ("sqlite" or
  "postgresql"), "file", "tables": {name: rows}, "sha256", "configs": [...]}`;
  `sha256` is the digest of the database file, `tables` the row counts of that
  same snapshot;
- the database: `database.sqlite3` (SQLite online backup API) or
  `database.pgdump` (`pg_dump --format=custom`);
- `configs/…`: the configuration files as they were.

Before touching the database, `restore` opens the archive, reads the manifest,
checks the engine, extracts the database file checking its size and SHA-256,
and has SQLite (`integrity_check`) or `pg_restore --list` read it; a truncated
or altered file, or one from the other engine, is refused with a clear
message. After restoring it compares every table's rows with the manifest.
"""

import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from echopilot import backup_engines as engines
from echopilot import mirror
from echopilot.exceptions import Conflict, Invalid, NotFound, UpstreamFailure

logger = logging.getLogger("echopilot.backup")

FORMAT = 1
MANIFEST = "manifest.json"
DB_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
NAME = re.compile(r"^echopilot-\d{8}T\d{6}Z\.tar$")
STREAM = "backup"


def backup_dir() -> Path:
    return Path(settings.BACKUP_DIR)


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _target_name(directory: Path, when: dt.datetime) -> Path:
    while True:
        path = directory / f"echopilot-{when.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}.tar"
        if not path.exists():
            return path
        when += dt.timedelta(seconds=1)  # names stay unique and in time order


def _config_files() -> list[Path]:
    root = Path(settings.CONFIG_DIR)
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    import io

    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), mtime, 0o600
    tar.addfile(info, io.BytesIO(data))


def _write_archive(path: Path, manifest: dict[str, Any], db_file: Path) -> None:
    configs = Path(settings.CONFIG_DIR)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as raw:
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            now = timezone.now().timestamp()
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode(), now)
            tar.add(db_file, arcname=manifest["file"], recursive=False)
            for config in _config_files():
                tar.add(config, arcname=f"configs/{config.relative_to(configs)}", recursive=False)
        raw.flush()
        os.fsync(raw.fileno())


@dataclass
class Created:
    path: Path
    manifest: dict[str, Any]
    bytes: int
    removed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "ok": True,
            "file": str(self.path),
            "bytes": self.bytes,
            "created": m["created"],
            "database": m["database"],
            "sha256": m["sha256"],
            "tables": len(m["tables"]),
            "rows": sum(m["tables"].values()),
            "removed": self.removed,
        }


def create(*, keep: int | None = None) -> Created:
    """Write a consistent snapshot of the database and configs/ to the backup dir."""
    directory = backup_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    vendor = engines.vendor()
    work = Path(tempfile.mkdtemp(prefix=".backup-", dir=directory))
    try:
        db_file = work / DB_FILES[vendor]
        now = timezone.now()
        tables = engines.sqlite_dump(db_file) if vendor == "sqlite" else engines.pg_dump(db_file)
        manifest = {
            "format": FORMAT,
            "created": mirror.now_iso(now),
            "database": vendor,
            "file": DB_FILES[vendor],
            "tables": tables,
            "sha256": _sha256(db_file),
            "configs": [p.name for p in _config_files()],
        }
        partial = work / "archive.tar"
        _write_archive(partial, manifest, db_file)
        target = _target_name(directory, now)
        os.replace(partial, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    created = Created(target, manifest, target.stat().st_size)
    created.removed = prune_backups(keep)
    mirror.write_now(STREAM, {"type": "backup", **created.as_dict()})
    logger.info("backup written: %s (%s bytes)", target.name, created.bytes)
    return created


def prune_backups(keep: int | None = None) -> list[str]:
    """Delete all but the newest `keep` (BACKUP_KEEP) backups; return the names deleted."""
    keep = settings.BACKUP_KEEP if keep is None else keep
    keep = max(1, int(keep))
    names = sorted(p.name for p in backup_dir().iterdir() if NAME.match(p.name))
    gone = names[: max(0, len(names) - keep)]
    for name in gone:
        (backup_dir() / name).unlink(missing_ok=True)
    return gone


# --- reading a backup -----------------------------------------------------------


@dataclass
class Opened:
    manifest: dict[str, Any]
    db_file: Path
    configs: dict[str, bytes]


def _refuse(path: Path, why: str) -> Invalid:
    return Invalid(f"{path.name} is refused: {why}. Nothing was changed.", code="bad_backup")


def _read_manifest(tar: tarfile.TarFile, path: Path) -> dict[str, Any]:
    try:
        member = tar.extractfile(MANIFEST)
        manifest = json.loads(member.read()) if member else None
    except KeyError:
        raise _refuse(path, "it has no manifest.json (not an EchoPilot backup)") from None
    except ValueError:
        raise _refuse(path, "its manifest is not valid JSON") from None
    keys = {"format", "created", "database", "file", "tables", "sha256"}
    if not isinstance(manifest, dict) or not keys <= set(manifest):
        raise _refuse(path, "its manifest lacks " + ", ".join(sorted(keys - set(manifest or {}))))
    if manifest["format"] != FORMAT:
        raise _refuse(path, f"unknown backup format {manifest['format']!r}")
    return manifest


def _extract_db(tar: tarfile.TarFile, manifest: dict[str, Any], into: Path, path: Path) -> Path:
    name = str(manifest["file"])
    if name not in DB_FILES.values():
        raise _refuse(path, f"unexpected database file {name!r}")
    try:
        source = tar.extractfile(name)
    except KeyError:
        raise _refuse(path, f"the database file {name} is missing") from None
    if source is None:
        raise _refuse(path, f"{name} is not a file")
    target: Path = into / name
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)
    if _sha256(target) != manifest["sha256"]:
        raise _refuse(path, "the database file's SHA-256 does not match the manifest")
    return target


@contextmanager
def opened(path: Path) -> Iterator[Opened]:
    """Check the backup `path` without touching the database; yield its parts."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"No backup file {path}.", code="backup_not_found")
    backup_dir().mkdir(mode=0o700, parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".restore-", dir=backup_dir()))
    try:
        try:
            with tarfile.open(path, mode="r:") as tar:
                manifest = _read_manifest(tar, path)
                vendor = engines.vendor()
                if manifest["database"] != vendor:
                    raise _refuse(
                        path, f"it holds a {manifest['database']} database; this one is {vendor}"
                    )
                db_file = _extract_db(tar, manifest, work, path)
                configs = _read_configs(tar)
        except (tarfile.TarError, EOFError) as exc:
            raise _refuse(path, f"it is truncated or not a backup archive ({exc})") from None
        why = engines.sqlite_check(db_file) if vendor == "sqlite" else engines.pg_check(db_file)
        if why:
            raise _refuse(path, f"the database file cannot be read: {why}")
        yield Opened(manifest, db_file, configs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _read_configs(tar: tarfile.TarFile) -> dict[str, bytes]:
    found = {}
    for member in tar.getmembers():
        name = member.name.removeprefix("configs/")
        if member.isfile() and member.name.startswith("configs/") and "/" not in name:
            fh = tar.extractfile(member)
            if fh is not None and not name.startswith("."):
                found[name] = fh.read()
    return found


# --- restore and verify ---------------------------------------------------------


def _compare(expected: dict[str, int], found: dict[str, int]) -> dict[str, list[int | None]]:
    return {t: [n, found.get(t)] for t, n in sorted(expected.items()) if found.get(t) != n}


def _outcome(path: Path, manifest: dict[str, Any], found: dict[str, int]) -> dict[str, Any]:
    mismatches = _compare(manifest["tables"], found)
    return {
        "ok": not mismatches,
        "file": str(path),
        "created": manifest["created"],
        "database": manifest["database"],
        "tables": len(manifest["tables"]),
        "rows": sum(manifest["tables"].values()),
        "mismatches": mismatches,
    }


def verify(path: Path) -> dict[str, Any]:
    """Restore `path` into a throwaway database and compare its rows with the manifest."""
    with opened(path) as backup:
        if backup.manifest["database"] == "sqlite":
            scratch = backup.db_file.with_name("verify.sqlite3")
            engines.sqlite_copy(backup.db_file, scratch)
            found = engines.sqlite_counts(scratch)
        else:
            with engines.pg_throwaway() as name:
                found = engines.pg_restore(backup.db_file, clean=False, dbname=name)
    return _outcome(Path(path), backup.manifest, found)


def restore(path: Path, *, force: bool = False, configs: bool = False) -> dict[str, Any]:
    """Restore `path` into the configured database (empty, or any with `force`)."""
    with opened(path) as backup:
        existing = engines.table_names()
        if existing and not force:
            raise Conflict(
                f"The configured database is not empty ({len(existing)} tables); restore "
                "into an empty one, or pass --force to replace its content.",
                code="database_not_empty",
            )
        if backup.manifest["database"] == "sqlite":
            found = engines.sqlite_restore(backup.db_file)
        else:
            found = engines.pg_restore(backup.db_file, clean=bool(existing))
        if configs:
            _restore_configs(backup.configs)
    result = _outcome(Path(path), backup.manifest, found)
    result["configs_restored"] = sorted(backup.configs) if configs else []
    mirror.write_now(STREAM, {"type": "restore", **result})
    if not result["ok"]:
        raise UpstreamFailure(
            "Restored, but row counts differ from the manifest: "
            + ", ".join(f"{t} {e} != {f}" for t, (e, f) in result["mismatches"].items()),
            code="restore_mismatch",
        )
    return result


def _restore_configs(files: dict[str, bytes]) -> None:
    for name, data in files.items():
        mirror.atomic_write(Path(settings.CONFIG_DIR) / name, data.decode(), mode=0o644)
