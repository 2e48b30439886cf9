import threading

import pytest
from django.db import connection

from support.models import DigestItem, Message
from support.services import run_digest
from tests.support.dovecot import make_message


# transaction=True: four threads, each with its own database connection, race for real.
@pytest.mark.django_db(transaction=True)
def test_concurrent_digests_announce_each_message_once(mailbox):
    mailbox.deliver([make_message(subject=f"m{i}") for i in range(30)])
    results, errors = [], []
    start = threading.Barrier(4)

    def worker():
        try:
            start.wait(timeout=10)
            results.append(run_digest(actor="schedule", limit=30))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(results) == 4 and all(r.ok and r.count == 30 for r in results)
    assert sum(r.new_count for r in results) == 30
    assert Message.objects.count() == 30
    assert DigestItem.objects.filter(new=True).count() == 30
    assert DigestItem.objects.count() == 120
