"""Shared fixtures: an isolated log dir per test, an API client that sends the key,
staff users and logged-in clients, and the environment a subprocess needs to reach
the same test database."""

import contextlib
import json
import os
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.processes import free_port, spawn_gunicorn, stop, wait_for_port  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
# Test databases are thrown away: PostgreSQL need not wait for the WAL flush on
# each commit (libpq reads PGOPTIONS; child processes inherit it). Crash safety
# is all this gives up; what other sessions see is unchanged.
os.environ.setdefault("PGOPTIONS", "-c synchronous_commit=off")
# The SQLite test database is a file under var/ (so child processes share it).
(ROOT / "var").mkdir(exist_ok=True)
TEST_KEY = "test-key-0123456789abcdef"
OTHER_KEY = "rotated-key-fedcba9876543210"
STAFF_PASSWORD = "pw-0123456789"


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    """Give each test its own log dir and a known dashboard key, no real secrets."""
    settings.LOG_DIR = tmp_path / "logs"
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.DASHBOARD_KEY = TEST_KEY
    settings.API_THROTTLE_RATE = ""
    settings.IMAP_HOST = settings.IMAP_USER = settings.IMAP_PASS = ""
    settings.TELEGRAM_BOT_TOKEN = settings.TELEGRAM_CHAT_ID = ""
    settings.BASE_URL = ""
    # Hash test passwords cheaply: the default hasher takes ~0.3 s per user or login.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.core.cache import cache

    from costs.middleware import counter
    from echopilot import mirror

    mirror.resume()  # a failed write in one test must not pause flushes in the next
    cache.clear()
    counter.reset()  # API bytes counted in one test must not flush into another
    yield
    counter.reset()


@pytest.fixture
def log_dir(settings) -> Path:
    return Path(settings.LOG_DIR)


def read_ndjson(log_dir: Path, stream: str) -> list[dict]:
    """Return the parsed lines of `<log_dir>/<stream>.ndjson` ([] when absent)."""
    path = Path(log_dir) / f"{stream}.ndjson"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def staff(username: str, group: str | None = None, perms=(), password=STAFF_PASSWORD, **extra):
    """Create a staff user (email `<username>@example.com`), optionally in `group` and
    holding `perms`: codenames, or "app_label.codename" where a codename is ambiguous.
    Extra fields (`is_superuser=True`) go to `create_user`."""
    from django.contrib.auth.models import Group, Permission, User

    user = User.objects.create_user(
        username, f"{username}@example.com", password, is_staff=True, **extra
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    found = []
    for perm in perms:
        app_label, _, codename = perm.rpartition(".")
        query = Permission.objects.filter(codename=codename)
        if app_label:
            query = query.filter(content_type__app_label=app_label)
        found.append(query.get())  # a typo or an ambiguous codename fails here
    if found:
        user.user_permissions.set(found)
    return user


def client_for(user):
    """A Django test client logged in as `user`."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def api() -> APIClient:
    """An API client that sends a valid `X-Dash-Key`."""
    client = APIClient()
    client.credentials(HTTP_X_DASH_KEY=TEST_KEY)
    return client


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


def database_url() -> str:
    """Return a DATABASE_URL for the database this test process is using."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(s['NAME']).resolve()}"
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{host}:{port}/{s['NAME']}"


def subprocess_env(settings, **extra) -> dict:
    """Environment for a child process sharing this test's database and log dir."""
    env = {k: v for k, v in os.environ.items() if k != "ECHOPILOT_ENV_FILE"}
    env.update(
        DJANGO_SETTINGS_MODULE="echopilot.settings",
        DATABASE_URL=database_url(),
        ECHOPILOT_LOG_DIR=str(settings.LOG_DIR),
        ECHOPILOT_BACKUP_DIR=str(settings.BACKUP_DIR),
        DASHBOARD_KEY=settings.DASHBOARD_KEY,
        SECRET_KEY="test-secret-key-not-for-production-0123456789",
        # No .env from the checkout may leak into a test child.
        ECHOPILOT_ENV_FILE=os.devnull,
        PYTHONPATH=str(ROOT),
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture
def gunicorn_server(transactional_db, settings):
    """Start the app under gunicorn on a free loopback port; yield its base URL.

    Call the yielded function with extra environment variables to start one.
    """
    procs = []

    def start(workers: int = 1, **extra) -> str:
        proc, url = spawn_gunicorn(subprocess_env(settings, **extra), workers)
        procs.append(proc)
        return url

    yield start
    for proc in procs:
        stop(proc)


# Fixtures that start a process of their own; a test using one is `external`
# (skipped by `make test-fast`). Tests that spawn a process directly carry
# `@pytest.mark.external` themselves.
EXTERNAL_FIXTURES = {"gunicorn_server", "dovecot", "mailbox"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if EXTERNAL_FIXTURES & set(getattr(item, "fixturenames", ())) or "e2e" in item.path.parts:
            item.add_marker(pytest.mark.external)


@contextlib.contextmanager
def lock_held_elsewhere(name: str):
    """Hold `echopilot.locks.held(name)` from another thread, so another database
    connection (a PostgreSQL advisory lock is re-entrant within one session)."""
    import threading

    from django.db import connections

    from echopilot import locks

    taken, release = threading.Event(), threading.Event()

    def hold():
        try:
            with locks.held(name) as ok:
                assert ok
                taken.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert taken.wait(10), "the other thread could not take the lock"
    try:
        yield
    finally:
        release.set()
        thread.join(10)
