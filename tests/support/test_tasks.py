import pytest

from echopilot import schedules
from support import tasks
from support.models import Digest
from support.testing import make_message

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
    assert result == {"ok": False, "digest_id": result["digest_id"], "error": "imap_connect"}
    assert Digest.objects.get(pk=result["digest_id"]).error == "imap_connect"


def test_task_survives_broken_configuration(mailbox, settings):
    settings.IMAP_TIMEOUT = "soon"  # not a number: the digest cannot even start
    result = tasks.digest()
    assert result["ok"] is False and result["error"] == "crashed"
    assert Digest.objects.count() == 0
