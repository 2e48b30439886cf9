"""Fault tests: real processes (gunicorn, qcluster, redis-server, a tmpfs) on PostgreSQL.

They take minutes, so they run once, in the PostgreSQL pass of `make test`
(`DATABASE_URL=postgres://… make test`), and are skipped on SQLite.
"""

import pytest
from django.db import connection

from tests.conftest import subprocess_env  # noqa: F401 - re-exported for the fault tests
from tests.processes import SilentServer


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "faults" in item.path.parts:
            item.add_marker(pytest.mark.external)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _postgresql_only(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("fault tests run once, on PostgreSQL (DATABASE_URL=postgres://… make test)")


@pytest.fixture
def silent_imap(settings):
    server = SilentServer()
    yield server
    server.close()
