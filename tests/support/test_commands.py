"""`manage.py support digest` and its seed name `manage.py support_digest`."""

import json
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from support.management.commands.support import Command as Support
from support.models import MAX_LIMIT, Digest, Message
from support.services import DigestCrashed
from tests.conftest import ROOT, read_ndjson, subprocess_env
from tests.support.dovecot import make_message

# The action under its new name and under the seed's name: same options, same output.
NAMES = [("support", "digest"), ("support_digest",)]
names = pytest.mark.parametrize("name", NAMES, ids=" ".join)


def run(*args, name=NAMES[0]) -> dict:
    out = StringIO()
    call_command(*name, *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
@names
def test_dry_run_without_credentials(name):
    body = run(name=name)
    assert body["ok"] is True and body["dry_run"] is True and body["count"] == 3
    assert Digest.objects.get().actor == "cli"


@pytest.mark.django_db
@names
def test_reads_the_mailbox_with_limit(mailbox, name):
    mailbox.deliver([make_message(subject=f"s{i}") for i in range(4)])
    body = run("--limit", "2", name=name)
    assert [i["subject"] for i in body["items"]] == ["s3", "s2"]
    assert run("--dry-run", name=name)["dry_run"] is True


@pytest.mark.django_db
@names
def test_failure_prints_json_and_raises(mailbox, settings, name):
    settings.IMAP_MAILBOX = "Missing"
    out = StringIO()
    with pytest.raises(CommandError, match="imap_mailbox") as failed:
        call_command(*name, stdout=out)
    assert failed.value.returncode == 1  # the seed's exit code for an unreadable mailbox
    assert json.loads(out.getvalue())["error"] == "imap_mailbox"
    assert Digest.objects.get().error == "imap_mailbox"


@pytest.mark.django_db
@names
@pytest.mark.parametrize("limit", ["0", "101", "abc"])
def test_bad_limit(limit, name):
    with pytest.raises(CommandError):
        call_command(*name, "--limit", limit, stdout=StringIO())
    assert Digest.objects.count() == 0


@pytest.mark.django_db
@names
@pytest.mark.parametrize("limit", [0, MAX_LIMIT + 1])
def test_out_of_range_limit_is_invalid_input(limit, name):
    """The service's range check surfaces as exit code 2 (invalid input)."""
    with pytest.raises(CommandError, match=f"from 1 to {MAX_LIMIT}") as refused:
        call_command(*name, "--limit", str(limit), stdout=StringIO())
    assert refused.value.returncode == 2


@pytest.mark.django_db
def test_the_largest_limit_is_accepted():
    assert run("--limit", str(MAX_LIMIT), "--dry-run")["count"] == 3


@pytest.mark.django_db
def test_the_alias_prints_what_the_action_prints():
    def body(name):
        printed = run("--dry-run", "--limit", "2", "--indent", "2", name=name)
        return {k: v for k, v in printed.items() if k not in ("digest_id", "generated_at")}

    assert body(("support_digest",)) == body(("support", "digest"))
    assert Digest.objects.count() == 2


def test_help_lists_the_actions():
    text = Support().create_parser("manage.py", "support").format_help()
    assert "digest" in text and "Print a JSON digest" in text


def _manage(settings, *args, **env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=subprocess_env(settings, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


# transaction=True: the child process must see (and write) committed rows.
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

    new_name = _manage(settings, "support", "digest", IMAP_PASS=mailbox.password, **imap)
    assert new_name.returncode == 0, new_name.stderr
    assert json.loads(new_name.stdout)["items"][0]["new"] is False
    bad_limit = _manage(settings, "support", "digest", "--limit", "0")
    assert bad_limit.returncode == 2
    assert f"limit must be an integer from 1 to {MAX_LIMIT}" in bad_limit.stderr
    assert Digest.objects.count() == 3


@pytest.mark.external  # runs manage.py in a process of its own
def test_unparseable_settings_fail_the_system_check(settings):
    result = _manage(
        settings, "check", IMAP_PORT="nine-nine-three", IMAP_SSL="maybe", IMAP_TIMEOUT="-1"
    )
    assert result.returncode != 0
    assert "IMAP_PORT='nine-nine-three' is not an integer" in result.stderr
    assert "IMAP_SSL='maybe' is not a boolean" in result.stderr
    assert "support.E003" in result.stderr


@pytest.mark.django_db
@names
def test_a_crash_stores_the_failed_digest_and_raises(mailbox, settings, log_dir, name):
    settings.IMAP_TIMEOUT = "soon"  # not a number: the digest cannot even start
    with pytest.raises(DigestCrashed) as crashed:
        call_command(*name, stdout=StringIO())
    row = Digest.objects.get()
    assert (row.ok, row.error, row.actor) == (False, "internal", "cli")
    assert crashed.value.result.digest_id == row.pk
    assert isinstance(crashed.value.__cause__, ValueError)
    lines = read_ndjson(log_dir, "support_digest")
    assert [(li["error"], li["digest_id"]) for li in lines] == [("internal", row.pk)]
