import json

import pytest

from echopilot import schedules
from support import tasks
from support.models import Digest
from tests.support.dovecot import make_message

pytestmark = pytest.mark.django_db


def test_registered_hourly():
    entry = schedules.REGISTRY["support.digest"]
    assert (entry.func, entry.minutes, entry.cron) == ("support.tasks.digest", 60, None)
    assert entry.func == f"{tasks.__name__}.{tasks.digest.__name__}"


def test_task_runs_the_digest(mailbox):
    mailbox.deliver([make_message()])
    result = tasks.digest()
    assert result["ok"] is True and result["count"] == 1 and result["new_count"] == 1
    assert Digest.objects.get().actor == "schedule"


def test_task_records_imap_failure_without_raising(mailbox, settings, closed_port):
    settings.IMAP_PORT = closed_port
    result = tasks.digest()
    row = Digest.objects.get()
    assert result == {"ok": False, "digest_id": row.pk, "error": "imap_connect"}
    assert (row.ok, row.error) == (False, "imap_connect")


def test_task_records_a_crash_and_keeps_working(
    mailbox, settings, log_dir, django_capture_on_commit_callbacks
):
    settings.IMAP_TIMEOUT = "soon"  # not a number: the digest cannot even start
    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.digest()
    row = Digest.objects.get()
    assert result == {"ok": False, "digest_id": row.pk, "error": "internal"}
    assert (row.ok, row.error, row.actor) == (False, "internal", "schedule")
    assert "ValueError" in row.detail and "soon" not in row.detail  # no exception text
    assert mailbox.password not in row.detail
    lines = (log_dir / "support_digest.ndjson").read_text().splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert (line["type"], line["ok"], line["error"], line["digest_id"]) == (
        "digest",
        False,
        "internal",
        row.pk,
    )
    # The next run (configuration fixed) works as usual.
    settings.IMAP_TIMEOUT = 10.0
    mailbox.deliver([make_message()])
    assert tasks.digest()["ok"] is True


@pytest.mark.django_db
def test_the_scheduled_digest_never_runs_twice_at_once(settings):
    from tests.conftest import lock_held_elsewhere

    with lock_held_elsewhere("task:support.digest"):
        result = tasks.digest()
    assert "still running" in result["skipped"] and Digest.objects.count() == 0
    assert tasks.digest()["ok"] is True and Digest.objects.count() == 1
    assert "already ran" in tasks.digest()["skipped"] and Digest.objects.count() == 1
