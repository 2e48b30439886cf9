import json
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from support.models import Digest, Message
from support.services import DigestCrashed
from tests.conftest import ROOT, read_ndjson, subprocess_env
from tests.support.dovecot import make_message


def run(*args) -> dict:
    out = StringIO()
    call_command("support_digest", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_dry_run_without_credentials():
    body = run()
    assert body["ok"] is True and body["dry_run"] is True and body["count"] == 3
    assert Digest.objects.get().actor == "cli"


@pytest.mark.django_db
def test_reads_the_mailbox_with_limit(mailbox):
    mailbox.deliver([make_message(subject=f"s{i}") for i in range(4)])
    body = run("--limit", "2")
    assert [i["subject"] for i in body["items"]] == ["s3", "s2"]
    assert run("--dry-run")["dry_run"] is True


@pytest.mark.django_db
def test_failure_prints_json_and_raises(mailbox, settings):
    settings.IMAP_MAILBOX = "Missing"
    out = StringIO()
    with pytest.raises(CommandError, match="imap_mailbox"):
        call_command("support_digest", stdout=out)
    assert json.loads(out.getvalue())["error"] == "imap_mailbox"
    assert Digest.objects.get().error == "imap_mailbox"


@pytest.mark.django_db
@pytest.mark.parametrize("limit", ["0", "101", "abc"])
def test_bad_limit(limit):
    with pytest.raises(CommandError):
        call_command("support_digest", "--limit", limit, stdout=StringIO())
    assert Digest.objects.count() == 0


def _manage(settings, *args, **env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=subprocess_env(settings, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.django_db(transaction=True)
def test_command_process_exit_codes(mailbox, settings):
    mailbox.deliver([make_message(subject="from a real process")])
    imap = {
        "IMAP_HOST": mailbox.host,
        "IMAP_PORT": mailbox.port,
        "IMAP_USER": mailbox.user,
        "IMAP_SSL": "0",
    }
    good = _manage(settings, "support_digest", IMAP_PASS=mailbox.password, **imap)
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["items"][0]["subject"] == "from a real process"
    assert Message.objects.get().subject == "from a real process"

    bad = _manage(settings, "support_digest", IMAP_PASS="Wrong-pass-123", **imap)
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["error"] == "imap_auth"
    assert "Wrong-pass-123" not in bad.stdout + bad.stderr
    assert list(Digest.objects.order_by("id").values_list("ok", flat=True)) == [True, False]


def test_unparseable_settings_fail_the_system_check(settings):
    result = _manage(
        settings, "check", IMAP_PORT="nine-nine-three", IMAP_SSL="maybe", IMAP_TIMEOUT="-1"
    )
    assert result.returncode != 0
    assert "IMAP_PORT='nine-nine-three' is not an integer" in result.stderr
    assert "IMAP_SSL='maybe' is not a boolean" in result.stderr
    assert "support.E003" in result.stderr


@pytest.mark.django_db
def test_a_crash_stores_the_failed_digest_and_raises(mailbox, settings, log_dir):
    settings.IMAP_TIMEOUT = "soon"  # not a number: the digest cannot even start
    with pytest.raises(DigestCrashed) as crashed:
        call_command("support_digest", stdout=StringIO())
    row = Digest.objects.get()
    assert (row.ok, row.error, row.actor) == (False, "internal", "cli")
    assert crashed.value.result.digest_id == row.pk
    assert isinstance(crashed.value.__cause__, ValueError)
    lines = read_ndjson(log_dir, "support_digest")
    assert [(li["error"], li["digest_id"]) for li in lines] == [("internal", row.pk)]
