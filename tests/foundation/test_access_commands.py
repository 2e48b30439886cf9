"""`manage.py apikeys create|list|revoke|rotate`."""

import io
import json
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from echopilot.models import ApiKey
from tests.conftest import ROOT, read_ndjson, subprocess_env

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    def run(*args) -> str:
        out = io.StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("apikeys", *args, stdout=out)
        return out.getvalue()

    return run


def ping(secret: str) -> int:
    return APIClient().get("/api/ping", HTTP_X_DASH_KEY=secret).status_code


def test_create_prints_the_secret_alone_on_the_last_line(run):
    out = run("create", "shop-web", "--scope", "evaluate", "--expires", "90d", "--rate", "10/s")
    *text, secret = out.rstrip("\n").split("\n")
    assert secret.startswith("ep_") and len(secret) == 67 and " " not in secret
    assert secret not in "\n".join(text)
    assert "shop-web" in text[0] and "evaluate" in text[0] and "10/s" in text[0]
    assert ping(secret) == 200
    key = ApiKey.objects.get()
    assert key.created_by == "cli" and key.expires_at is not None and key.rate == "10/s"


def test_several_scopes(run):
    run("create", "dash", "--scope", "read", "--scope", "metrics")
    assert ApiKey.objects.get().scopes == ["read", "metrics"]


@pytest.mark.parametrize(
    "args, code, text",
    [
        (["--scope", "evaluate", "--scope", "root"], 2, "Unknown scope(s) root"),
        ([], 2, "at least one scope"),
        (["--scope", "read", "--expires", "2020-01-01"], 2, "in the past"),
        (["--scope", "read", "--expires", "someday"], 2, "neither a duration"),
        (["--scope", "read", "--rate", "lots"], 2, "not a rate"),
    ],
)
def test_bad_create_exits_with_a_clear_error_and_stores_nothing(run, log_dir, args, code, text):
    with pytest.raises(CommandError) as info:
        run("create", "shop-web", *args)
    assert text in str(info.value) and info.value.returncode == code
    assert not ApiKey.objects.exists() and read_ndjson(log_dir, "access") == []


def test_a_taken_name_exits_4(run):
    run("create", "shop-web", "--scope", "read")
    with pytest.raises(CommandError) as info:
        run("create", "shop-web", "--scope", "evaluate")
    assert info.value.returncode == 4 and "exists already" in str(info.value)
    assert ApiKey.objects.get().scopes == ["read"]


def test_list_never_shows_a_secret(run):
    first = run("create", "shop-web", "--scope", "evaluate").split()[-1]
    second = run("create", "dash", "--scope", "read", "--expires", "2099-01-01").split()[-1]
    run("revoke", "shop-web")
    table = run("list")
    lines = table.splitlines()
    assert lines[0].split() == [
        "name",
        "prefix",
        "scopes",
        "state",
        "created",
        "last",
        "used",
        "expires",
    ]
    assert "dash" in lines[1] and "active" in lines[1] and "2099-01-01T00:00:00Z" in lines[1]
    assert "shop-web" in lines[2] and "revoked" in lines[2]
    rows = [json.loads(line) for line in run("list", "--json").splitlines()]
    assert [r["name"] for r in rows] == ["dash", "shop-web"]
    assert rows[0]["prefix"] == second[:9] and rows[0]["scopes"] == ["read"]
    for output in (table, run("list", "--json")):
        assert first not in output and second not in output
        assert first[9:20] not in output and "hash" not in output


def test_list_with_no_keys_says_so(run):
    assert "no stored keys" in run("list")


def test_revoke_refuses_the_key_and_is_idempotent(run):
    secret = run("create", "shop-web", "--scope", "evaluate").split()[-1]
    assert "revoked API key shop-web" in run("revoke", "shop-web")
    assert ping(secret) == 401
    assert "already revoked" in run("revoke", "shop-web")
    with pytest.raises(CommandError) as info:
        run("revoke", "nobody")
    assert info.value.returncode == 3


def test_rotate_prints_the_new_secret_last_and_keeps_the_old_for_the_grace(run):
    old = run("create", "shop-web", "--scope", "evaluate").split()[-1]
    out = run("rotate", "shop-web", "--grace", "30m")
    new = out.rstrip("\n").split("\n")[-1]
    assert new.startswith("ep_") and new != old
    assert f"({old[:9]}…) works until" in out
    assert ping(new) == 200 and ping(old) == 200
    out = run("rotate", "shop-web", "--grace", "0")
    assert "refused from now on" in out
    assert ping(new) == 401 and ping(out.split()[-1]) == 200


def test_rotate_with_a_bad_grace_changes_nothing(run):
    secret = run("create", "shop-web", "--scope", "evaluate").split()[-1]
    with pytest.raises(CommandError) as info:
        run("rotate", "shop-web", "--grace", "90d")
    assert info.value.returncode == 2 and "--grace" in str(info.value)
    assert ping(secret) == 200


@pytest.mark.external
def test_a_script_captures_the_secret_with_tail(settings, transactional_db):
    env = subprocess_env(settings)
    done = subprocess.run(
        f"{sys.executable} manage.py apikeys create app --scope evaluate | tail -n1",
        shell=True,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    secret = done.stdout.strip()
    assert secret.startswith("ep_") and len(secret) == 67, done.stdout + done.stderr
    assert ping(secret) == 200
