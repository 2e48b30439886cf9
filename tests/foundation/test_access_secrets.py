"""A key's secret is shown once and found nowhere else: database, logs, NDJSON, admin."""

import io
import logging

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from echopilot import mirror
from echopilot.models import ApiKey
from tests.conftest import staff

pytestmark = pytest.mark.django_db


def everything_in_the_database() -> str:
    """Every row of every table, as text (the raw dump, not only what dumpdata shows)."""
    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            parts.extend(repr(row) for row in cursor.fetchall())
    out = io.StringIO()
    call_command("dumpdata", stdout=out)
    return "\n".join(parts) + out.getvalue()


def test_no_secret_is_kept_anywhere(client, log_dir, caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.DEBUG)
    secrets = []
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("apikeys", "create", "cli-key", "--scope", "read", stdout=out)
        secrets.append(out.getvalue().split()[-1])
        out = io.StringIO()
        call_command("apikeys", "rotate", "cli-key", stdout=out)
        secrets.append(out.getvalue().split()[-1])
    client.force_login(staff("alice", is_superuser=True))
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(
            reverse("admin:echopilot_apikey_add"),
            {"name": "admin-key", "scopes": ["evaluate"], "expires": "", "rate": ""},
        ).content.decode()
    secrets.append(page.split('id="apikey-secret"')[1].split(">", 1)[1].split("<", 1)[0])
    assert all(s.startswith("ep_") for s in secrets) and len(set(secrets)) == 3

    api = APIClient()
    for secret in secrets:
        api.get("/api/ping", HTTP_X_DASH_KEY=secret)
        api.get("/api/flags/set", HTTP_X_DASH_KEY=secret)  # 403 / 405: logged
        api.get("/api/ping", HTTP_X_DASH_KEY=secret[:-1])  # 401: logged
    with django_capture_on_commit_callbacks(execute=True):
        call_command("apikeys", "revoke", "cli-key", stdout=io.StringIO())
    for secret in secrets[:2]:
        assert api.get("/api/ping", HTTP_X_DASH_KEY=secret).status_code == 401
    mirror.flush()

    admin_pages = [
        client.get(reverse("admin:echopilot_apikey_changelist")).content.decode(),
        *(
            client.get(reverse(f"admin:echopilot_apikey_{view}", args=[pk])).content.decode()
            for pk in ApiKey.objects.values_list("pk", flat=True)
            for view in ("change", "history")
        ),
    ]
    ndjson = "".join(p.read_text() for p in sorted(log_dir.glob("*")))
    assert '"apikey.created"' in ndjson and '"apikey.rotated"' in ndjson
    assert '"apikey.revoked"' in ndjson
    places = {
        "database": everything_in_the_database(),
        "logs": caplog.text,
        "ndjson": ndjson,
        "admin": "\n".join(admin_pages),
    }
    for secret in secrets:
        body = secret[3:]  # no copy of the random part either, with or without `ep_`
        for place, text in places.items():
            assert body not in text and body.upper() not in text, f"a secret is in the {place}"
