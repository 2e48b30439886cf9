"""Backups: `manage.py backup` writes a snapshot that `restore` brings back
exactly; a damaged or foreign file is refused before the database is touched."""

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from echopilot import backup
from echopilot.models import ScheduleRun
from flags import services as flag_services
from flags.models import Flag
from tests.conftest import ROOT, read_ndjson, subprocess_env


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def rewrite(path: Path, target: Path, **changes: bytes) -> Path:
    """Copy the archive `path` to `target` with some members' bytes replaced."""
    with tarfile.open(target, "w") as out:
        for name, data in {**members(path), **changes}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return target


@pytest.fixture
def flagged(transactional_db):
    for i in range(3):
        flag_services.flag_set(key=f"f{i}", actor="cli", value=i, type="integer", create=True)


def test_backup_writes_a_private_archive_with_db_configs_and_manifest(flagged, settings, log_dir):
    result = backup.create()
    path = Path(result.path)
    assert backup.NAME.match(path.name) and path.parent == settings.BACKUP_DIR
    assert path.stat().st_mode & 0o777 == 0o600
    parts = members(path)
    manifest = json.loads(parts["manifest.json"])
    db_name = backup.DB_FILES[connection.vendor]
    assert manifest["database"] == connection.vendor and manifest["file"] == db_name
    assert manifest["sha256"] == hashlib.sha256(parts[db_name]).hexdigest()
    assert manifest["tables"]["flags_flag"] == 3 and manifest["tables"]["flags_flagchange"] == 3
    assert {n for n in parts if n.startswith("configs/")} == {
        f"configs/{p.name}" for p in Path(settings.CONFIG_DIR).glob("*.json")
    }
    assert read_ndjson(log_dir, "backup")[0]["sha256"] == manifest["sha256"]

    out = io.StringIO()
    call_command("backup", "--verify", str(path), stdout=out)
    assert "restores to" in out.getvalue() and "as in its manifest" in out.getvalue()


def test_only_the_newest_backups_are_kept(flagged, settings):
    settings.BACKUP_DIR.mkdir(parents=True)
    for stamp in ("20200101T000000Z", "20200102T000000Z", "20200103T000000Z"):
        (settings.BACKUP_DIR / f"echopilot-{stamp}.tar").write_bytes(b"old")
    (settings.BACKUP_DIR / "notes.txt").write_text("kept")
    settings.BACKUP_KEEP = 2
    result = backup.create()
    left = sorted(p.name for p in settings.BACKUP_DIR.iterdir())
    assert left == ["echopilot-20200103T000000Z.tar", result.path.name, "notes.txt"]


def _state() -> list:
    return sorted(Flag.objects.values_list("key", "value"))


def _damaged(kind: str, good: Path, tmp: Path) -> Path:
    db_name = backup.DB_FILES[connection.vendor]
    parts = members(good)
    if kind == "truncated":
        bad = tmp / "truncated.tar"
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
        return bad
    if kind == "checksum":
        data = bytearray(parts[db_name])
        data[len(data) // 2] ^= 0xFF
        return rewrite(good, tmp / "checksum.tar", **{db_name: bytes(data)})
    if kind == "other_engine":
        manifest = json.loads(parts["manifest.json"])
        manifest["database"] = "postgresql" if connection.vendor == "sqlite" else "sqlite"
        return rewrite(good, tmp / "engine.tar", **{"manifest.json": json.dumps(manifest).encode()})
    bad = tmp / "garbage.tar"
    bad.write_bytes(os.urandom(4096))
    return bad


@pytest.mark.parametrize("kind", ["truncated", "checksum", "other_engine", "garbage"])
def test_a_damaged_backup_is_refused_and_the_database_untouched(flagged, tmp_path, kind):
    good = backup.create().path
    bad = _damaged(kind, good, tmp_path)
    flag_services.flag_set(key="after.backup", actor="cli", value=True, type="boolean", create=True)
    before = _state()
    for args in (["restore", str(bad), "--yes", "--force"], ["backup", "--verify", str(bad)]):
        with pytest.raises(CommandError) as caught:
            call_command(*args)
        assert caught.value.returncode == 2
        assert "is refused" in str(caught.value) and "Nothing was changed" in str(caught.value)
    assert _state() == before


def test_restore_refuses_a_database_that_is_not_empty_without_force(flagged):
    good = backup.create().path
    with pytest.raises(CommandError) as caught:
        call_command("restore", str(good), "--yes")
    assert caught.value.returncode == 4 and "not empty" in str(caught.value)
    with pytest.raises(CommandError):
        call_command("restore", str(good))  # no --yes


# --- the restore drill: a backup taken while 4 processes write ---------------------

WRITER = textwrap.dedent(
    """
    import os, sys
    import django
    django.setup()
    from django.db import transaction
    from django.utils import timezone
    from experiments.models import Experiment, Exposure
    from flags import services
    from incidents.models import Alert, Incident
    w, stop = sys.argv[1], sys.argv[2]
    i = 0
    while not os.path.exists(stop):
        key, now = f"w{w}-{i}", timezone.now()
        with transaction.atomic():
            services.flag_set(key=key, actor="cli", value=i, type="integer", create=True)
            services.flag_set(key=key, actor="cli", value=i + 1)
            exp = Experiment.objects.create(key=key, variants=["A", "B"], weights=[1, 1], salt=key)
            for user in ("u1", "u2"):
                Exposure.objects.create(experiment=exp, user=user, variant="A", created_at=now)
            inc = Incident.objects.create(
                status="resolved", active=False, severity="MEDIUM", opened_at=now,
                opened_by=key, last_seen_at=now, resolved_at=now,
            )
            Alert.objects.create(
                incident=inc, kind="open", text=key, created_at=now, next_attempt_at=now
            )
        i += 1
    """
)

QUERIES = {
    "flags": "SELECT key, value FROM flags_flag",
    "history": "SELECT key, field, new FROM flags_flagchange",
    "experiments": "SELECT key, salt FROM experiments_experiment",
    "exposures": "SELECT e.key, x.user FROM experiments_exposure x"
    " JOIN experiments_experiment e ON e.id = x.experiment_id",
    "incidents": "SELECT opened_by, status FROM incidents_incident",
    "alerts": "SELECT text, kind FROM incidents_alert",
}


def _norm(value) -> str:
    """One spelling per value, whichever driver decoded it (JSON text or Python data)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, sort_keys=True, default=str)


def _rows(cursor) -> dict[str, set]:
    found = {}
    for name, sql in QUERIES.items():
        cursor.execute(sql)
        found[name] = {tuple(_norm(v) for v in row) for row in cursor.fetchall()}
    return found


def _units(rows: dict[str, set]) -> dict[str, set[int]]:
    per_writer: dict[str, set[int]] = {}
    for key, _ in rows["flags"]:
        if key.startswith("w"):  # keys like w0-3 are not JSON: kept as they are
            w, i = key[1:].split("-")
            per_writer.setdefault(w, set()).add(int(i))
    return per_writer


def _complete(rows: dict[str, set], key: str) -> bool:
    return (
        sum(1 for r in rows["history"] if r[0] == key) == 2
        and any(r[0] == key for r in rows["experiments"])
        and sum(1 for r in rows["exposures"] if r[0] == key) == 2
        and any(r[0] == key for r in rows["incidents"])
        and any(r[0] == key for r in rows["alerts"])
    )


class Target:
    """A database to restore into: a new SQLite file, or a new PostgreSQL database."""

    def __init__(self, tmp_path: Path):
        s = connection.settings_dict
        self.vendor = connection.vendor
        if self.vendor == "sqlite":
            self.path = tmp_path / "restored.sqlite3"
            self.url = f"sqlite:///{self.path}"
            return
        import psycopg

        self.name = f"{s['NAME']}_restored_{uuid.uuid4().hex[:6]}"
        self.conninfo = dict(host=s.get("HOST") or "127.0.0.1", port=s.get("PORT") or 5432)
        self.conninfo.update(user=s["USER"], password=s.get("PASSWORD") or None)
        with psycopg.connect(dbname="postgres", autocommit=True, **self.conninfo) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
        self.url = f"postgres://{s['USER']}{password}@{self.conninfo['host']}:{self.conninfo['port']}/{self.name}"

    def rows(self) -> dict[str, set]:
        if self.vendor == "sqlite":
            import sqlite3

            db = sqlite3.connect(self.path)
            try:
                return _rows(db.cursor())
            finally:
                db.close()
        import psycopg

        with psycopg.connect(dbname=self.name, **self.conninfo) as conn, conn.cursor() as cur:
            return _rows(cur)

    def drop(self) -> None:
        if self.vendor != "sqlite":
            import psycopg

            with psycopg.connect(dbname="postgres", autocommit=True, **self.conninfo) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _wait_for_units(minimum: int, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = Flag.objects.filter(key__startswith="w").count()
        if count >= minimum:
            return count
        time.sleep(0.1)
    raise AssertionError(f"the writers made fewer than {minimum} units")


@pytest.mark.external
def test_a_backup_taken_while_four_processes_write_restores_the_snapshot(
    transactional_db, settings, tmp_path
):
    env = subprocess_env(settings)
    stop = tmp_path / "stop"
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(w), str(stop)], env=env)
        for w in range(4)
    ]
    target = Target(tmp_path)
    try:
        before = _wait_for_units(20)
        taken = backup.create()
        after = _wait_for_units(Flag.objects.filter(key__startswith="w").count() + 8)
    finally:
        stop.touch()
        codes = [p.wait(timeout=60) for p in procs]
    try:
        assert codes == [0, 0, 0, 0]
        done = manage(
            subprocess_env(settings, DATABASE_URL=target.url), "restore", str(taken.path), "--yes"
        )
        assert done.returncode == 0, done.stderr
        assert "each as in the manifest" in done.stdout
        restored = target.rows()
    finally:
        target.drop()
    with connection.cursor() as cursor:
        source = _rows(cursor)
    for name in QUERIES:  # every restored row is the source's, unchanged
        assert restored[name] <= source[name], name
    units = _units(restored)
    snapshot = sum(len(v) for v in units.values())
    assert before <= snapshot < after  # taken while they wrote
    for w, done_units in units.items():  # a consistent cut: a prefix of each writer's units,
        assert done_units == set(range(len(done_units))), w  # each one whole
        assert all(_complete(restored, f"w{w}-{i}") for i in done_units), w
    assert taken.manifest["tables"]["flags_flag"] == len(restored["flags"])
    assert taken.manifest["tables"]["incidents_alert"] == len(restored["alerts"])


def _miscounted(good: Path, tmp: Path) -> Path:
    """`good` with a manifest that claims one flag more (the database member untouched)."""
    manifest = json.loads(members(good)["manifest.json"])
    manifest["tables"]["flags_flag"] += 1
    return rewrite(good, tmp / "miscounted.tar", **{"manifest.json": json.dumps(manifest).encode()})


def test_verify_of_a_backup_whose_counts_differ_exits_5_naming_the_table(flagged, tmp_path):
    bad = _miscounted(backup.create().path, tmp_path)
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("backup", "--verify", str(bad), stdout=out)
    assert caught.value.returncode == 5
    assert "does not match the manifest" in str(caught.value)
    assert "mismatch: flags_flag: manifest 4, restored 3" in out.getvalue()


@pytest.mark.external
def test_restore_whose_counts_differ_from_the_manifest_exits_5(flagged, settings, tmp_path):
    good = backup.create().path
    bad = _miscounted(good, tmp_path)
    target = Target(tmp_path)
    try:
        done = manage(
            subprocess_env(settings, DATABASE_URL=target.url), "restore", str(bad), "--yes"
        )
        restored = target.rows()
    finally:
        target.drop()
    assert done.returncode == 5, (done.stdout, done.stderr)
    assert "Restored, but row counts differ from the manifest: flags_flag 4 != 3" in done.stderr
    assert "each as in the manifest" not in done.stdout
    # The restore itself completed: the target holds the whole snapshot, not part of it.
    with connection.cursor() as cursor:
        assert restored == _rows(cursor)
    (line,) = [r for r in read_ndjson(settings.LOG_DIR, "backup") if r["type"] == "restore"]
    assert line["ok"] is False and line["mismatches"] == {"flags_flag": [4, 3]}


def test_the_daily_backup_task_writes_one_and_keeps_backup_keep(flagged, settings):
    from echopilot import tasks

    settings.BACKUP_KEEP = 1
    first = tasks.backup()
    settings.BACKUP_DIR.joinpath(Path(first["file"]).name).rename(
        settings.BACKUP_DIR / "echopilot-20200101T000000Z.tar"
    )
    ScheduleRun.objects.all().delete()  # or the next run skips: it just ran
    second = tasks.backup()
    assert first["ok"] is True and second["ok"] is True and second["rows"] > 0
    assert [p.name for p in settings.BACKUP_DIR.iterdir()] == [Path(second["file"]).name]
    assert second["removed"] == ["echopilot-20200101T000000Z.tar"]
