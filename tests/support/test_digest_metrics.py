"""echopilot_support_digest_messages_total{kind}: new and urgent messages of
committed digests (a real Dovecot mailbox, a dry run, a rolled-back digest)."""

import pytest
from django.db import transaction

from echopilot import metrics
from tests.support.dovecot import make_message


def value(name: str, **labels) -> float:
    return metrics.sample(name, **labels)


def digest_counts() -> tuple[float, float]:
    name = "echopilot_support_digest_messages_total"
    return value(name, kind="new"), value(name, kind="urgent")


@pytest.mark.django_db
def test_a_support_digest_counts_its_new_and_urgent_messages(mailbox, digest, settings):
    settings.SUPPORT_URGENT_KEYWORDS = ["down"]
    mailbox.deliver(
        [
            make_message(subject="Site down since 9"),
            make_message(subject="Question about pricing"),
            make_message(subject="API down again"),
        ]
    )
    new, urgent = digest_counts()
    result = digest()
    assert (result.count, result.new_count, result.urgent_count) == (3, 3, 2)
    assert digest_counts() == (new + 3, urgent + 2)
    again = digest()  # the same unread mail: none of it new, two still urgent
    assert (again.new_count, again.urgent_count) == (0, 2)
    assert digest_counts() == (new + 3, urgent + 4)


@pytest.mark.django_db
def test_a_dry_run_digest_counts_its_urgent_samples_and_nothing_new(digest, settings):
    settings.SUPPORT_URGENT_KEYWORDS = ["down"]  # one sample: "Dashboard down since 09:00"
    new, urgent = digest_counts()
    result = digest(dry_run=True)
    assert result.dry_run and (result.new_count, result.urgent_count) == (0, 1)
    assert digest_counts() == (new, urgent + 1)


@pytest.mark.django_db
def test_a_digest_rolled_back_is_not_counted(settings, django_capture_on_commit_callbacks):
    from support.services import run_digest

    settings.SUPPORT_URGENT_KEYWORDS = ["down"]  # the dry run reports one urgent sample
    new, urgent = digest_counts()
    # The test's own transaction never commits: run what would run at commit.
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            run_digest(actor="cli", dry_run=True)
            raise RuntimeError("rolled back")
    assert digest_counts() == (new, urgent)
    with django_capture_on_commit_callbacks(execute=True):  # the same digest, committed
        run_digest(actor="cli", dry_run=True)
    assert digest_counts() == (new, urgent + 1)
