"""Configuration from the environment: checks that fail loudly, a clean --deploy check,
secrets kept out of logs, and SQLite that never says "database is locked"."""

import logging
import subprocess
import sys
import textwrap

import pytest
from django.db import connection

from tests.conftest import ROOT, subprocess_env

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x7#Qp2!vLm9@Zr4$Tn8^Wc1&Hy6*Bd3(Fk5)Js0-Gu_aN3%eR7+oI2=kP",
    "DASHBOARD_KEY": "prod-key-0123456789abcdef0123",
    "ALLOWED_HOSTS": "ops.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SESSION_COOKIE_SECURE": "1",
    "CSRF_COOKIE_SECURE": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}


def manage(settings, *args, **env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=subprocess_env(settings, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.external
@pytest.mark.django_db
def test_production_settings_pass_check_deploy(settings):
    from echopilot.security import cookies_vulnerable

    result = manage(settings, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    if cookies_vulnerable():
        # The one warning settings cannot fix: this interpreter needs an upgrade.
        assert "echopilot.W101" in result.stderr
        assert "identified 1 issue" in result.stderr + result.stdout, result.stderr
        return
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


@pytest.mark.external
@pytest.mark.django_db
def test_local_defaults_fail_check_deploy(settings):
    result = manage(settings, "check", "--deploy", "--fail-level", "WARNING", SECRET_KEY="")
    assert result.returncode != 0
    assert "echopilot.E004" in result.stderr


@pytest.mark.external
@pytest.mark.django_db
@pytest.mark.parametrize(
    "name, value",
    [
        ("IMAP_PORT", "imap"),
        ("IMAP_SSL", "maybe"),
        ("DEBUG", "perhaps"),
        ("DATABASE_URL", "nope://"),
    ],
)
def test_unusable_configuration_fails_the_system_check(settings, name, value):
    result = manage(settings, "check", **{name: value})
    assert result.returncode != 0
    assert name in result.stderr, result.stderr


@pytest.mark.external
def test_short_dashboard_key_fails_the_check(settings):
    result = manage(settings, "check", DASHBOARD_KEY="short")
    assert result.returncode != 0 and "echopilot.E003" in result.stderr


def test_silenced_checks_stay_empty(settings):
    assert settings.SILENCED_SYSTEM_CHECKS == []
    assert settings.DATABASES["default"]["ATOMIC_REQUESTS"] is False


def test_secrets_are_masked_in_logs(settings, caplog):
    from echopilot.secrets import RedactFilter

    settings.IMAP_PASS = "hunter2-imap-pass"
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "login with %s and %s", None, None)
    record.args = ("hunter2-imap-pass", settings.DASHBOARD_KEY)
    assert RedactFilter().filter(record)
    assert record.getMessage() == "login with *** and ***"


@pytest.mark.django_db
def test_sqlite_runs_wal_with_immediate_transactions():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] >= 5000
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


WRITER = textwrap.dedent(
    """
    import sys, time, django
    django.setup()
    from django.db import transaction, OperationalError
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django_q.brokers import get_broker
    role, seconds = sys.argv[1], float(sys.argv[2])
    broker = get_broker("locktest")
    deadline = time.monotonic() + seconds
    n = errors = 0
    while time.monotonic() < deadline:
        try:
            if role == "web":
                # A request: read, then write, in one transaction.
                with transaction.atomic():
                    count = Session.objects.count()
                    Session.objects.create(
                        session_key=f"s{n}-{time.monotonic_ns()}",
                        session_data=str(count),
                        expire_date=timezone.now(),
                    )
            else:
                # qcluster: the ORM broker's enqueue, dequeue and acknowledge.
                broker.enqueue("task")
                for task_id, _ in broker.dequeue() or []:
                    broker.acknowledge(task_id)
            n += 1
        except OperationalError as exc:
            errors += 1
            print("ERROR", exc, flush=True)
    print("DONE", role, n, errors, flush=True)
    """
)


@pytest.mark.external
@pytest.mark.django_db(transaction=True)
def test_two_processes_writing_sqlite_never_see_database_locked(settings):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only: PostgreSQL has row locks")
    env = subprocess_env(settings)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, role, "10"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for role in ("web", "worker")
    ]
    outputs = [p.communicate(timeout=90)[0] for p in procs]
    for proc, out in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out
        assert "database is locked" not in out, out
        done = [line for line in out.splitlines() if line.startswith("DONE")]
        assert done, out
        _, _, count, errors = done[0].split()
        # Both made progress (the broker sleeps its poll interval when it finds no task).
        assert int(errors) == 0 and int(count) >= 10, out
