"""Secrets and personal data on disk are owner-only: `.env` (bin/init-env, which
`make run` calls), the SQLite database with its WAL and SHM; `check --deploy`
warns about a readable `.env`. (NDJSON and latest files: test_rotation.py.)"""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from django.core.checks import run_checks

from tests.conftest import ROOT, subprocess_env


def mode(path) -> int:
    return os.stat(path).st_mode & 0o777


def init_env(path, umask=0o022) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / "bin" / "init-env"), str(path)],
        env={**os.environ, "PY": sys.executable},
        preexec_fn=lambda: os.umask(umask),
        capture_output=True,
        text=True,
        check=True,
    )


@pytest.mark.parametrize("umask, expected", [(0o022, 0o600), (0o077, 0o600), (0o277, 0o400)])
def test_make_run_writes_a_new_env_file_owner_only(tmp_path, umask, expected):
    env = tmp_path / ".env"
    done = init_env(env, umask)
    assert mode(env) == expected
    text = env.read_text()
    assert f"DASHBOARD_KEY={done.stdout.strip()}\n" in text and "SECRET_KEY=" in text


def test_adding_a_key_to_a_readable_env_file_makes_it_owner_only(tmp_path):
    env = tmp_path / ".env"
    env.write_text("DEBUG=1\n")
    env.chmod(0o644)
    init_env(env)
    assert mode(env) == 0o600 and env.read_text().startswith("DEBUG=1\n")

    env.chmod(0o640)  # the operator's choice, no secret added: left alone
    assert init_env(env).stdout == ""
    assert mode(env) == 0o640


def test_check_deploy_warns_when_env_is_readable_by_others(settings, tmp_path):
    env = tmp_path / ".env"
    env.write_text("SECRET_KEY=x\n")
    settings.ENV_FILE = env
    for bits, warned in [(0o644, True), (0o640, True), (0o600, False), (0o400, False)]:
        env.chmod(bits)
        ids = [m.id for m in run_checks(include_deployment_checks=True)]
        assert ("echopilot.W102" in ids) is warned, oct(bits)
    assert "echopilot.W102" not in [m.id for m in run_checks()]  # only with --deploy


PROBE = textwrap.dedent(
    """
    import json, os, django
    django.setup()
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE t (x INTEGER)")
        cursor.execute("INSERT INTO t VALUES (1)")
        name = connection.settings_dict["NAME"]
        modes = {s: oct(os.stat(name + s).st_mode & 0o777) for s in ("", "-wal", "-shm")}
    print(json.dumps(modes))
    """
)


@pytest.mark.external
def test_the_sqlite_database_and_its_wal_and_shm_are_created_owner_only(settings, tmp_path):
    db = tmp_path / "fresh.sqlite3"
    env = subprocess_env(settings, DATABASE_URL=f"sqlite:///{db}")
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        cwd=ROOT,
        preexec_fn=lambda: os.umask(0o022),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"": "0o600", "-wal": "0o600", "-shm": "0o600"}
