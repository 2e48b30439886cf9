"""The bandwidth counter: bytes of API responses, batched flushes, across processes."""

import datetime as dt
import urllib.request

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from costs import middleware
from costs.middleware import ByteCounter, counter
from costs.models import BandwidthCounter
from tests.conftest import TEST_KEY, spawn_gunicorn, stop, subprocess_env


def today_row():
    return BandwidthCounter.objects.filter(day=dt.datetime.now(dt.UTC).date()).first()


@pytest.mark.django_db
def test_api_responses_are_counted_by_their_bytes(api):
    sizes = [len(api.get("/api/ping").content) for _ in range(3)]
    sizes.append(len(api.get("/api/costs/history?days=0").content))  # errors count too
    sizes.append(len(api.get("/api/no-such-endpoint").content))

    assert counter.pending() == (sum(sizes), 5)
    assert counter.flush() is True
    row = today_row()
    assert (row.bytes, row.responses) == (sum(sizes), 5)
    assert counter.pending() == (0, 0)

    more = len(api.get("/api/ping").content)
    counter.flush()
    row.refresh_from_db()
    assert (row.bytes, row.responses) == (sum(sizes) + more, 6)


@pytest.mark.django_db
def test_non_api_paths_are_not_counted(client):
    client.get("/admin/login/")

    assert counter.pending() == (0, 0)


# transaction=True here and below: a due flush waits while a transaction is open
# (costs.middleware._in_transaction), so only outside one does it behave as in production.
@pytest.mark.django_db(transaction=True)
def test_no_database_write_per_request(api):
    """Outside a test transaction, as in production, 20 requests write no count."""
    # The process-wide counter the middleware uses, with its production batch sizes.
    assert (counter.flush_seconds, counter.flush_responses) == (10, 1000)
    sizes = []
    with CaptureQueriesContext(connection) as queries:
        for i in range(20):
            path = "/api/ping" if i % 2 else "/api/costs/history?days=1"
            response = api.get(path)
            assert response.status_code == 200
            sizes.append(len(response.content))

    assert not [q for q in queries if "costs_bandwidthcounter" in q["sql"]]
    assert counter.pending() == (sum(sizes), 20)
    assert today_row() is None


@pytest.mark.django_db(transaction=True)
def test_flush_after_a_batch_of_responses_is_one_update():
    batch = ByteCounter(flush_seconds=3600, flush_responses=4)
    BandwidthCounter.objects.create(day=dt.datetime.now(dt.UTC).date(), bytes=10, responses=1)

    with CaptureQueriesContext(connection) as queries:
        for size in (100, 200, 300):
            batch.add(size)
        assert not [q for q in queries if "costs_bandwidthcounter" in q["sql"]]
        batch.add(400)

    writes = [q["sql"] for q in queries if "costs_bandwidthcounter" in q["sql"]]
    assert len(writes) == 1 and writes[0].startswith("UPDATE")
    assert (today_row().bytes, today_row().responses) == (1010, 5)
    assert batch.pending() == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_flush_is_due_after_the_interval():
    timed = ByteCounter(flush_seconds=0.0, flush_responses=10_000)

    timed.add(42)

    assert today_row().bytes == 42


@pytest.mark.django_db
def test_a_due_flush_waits_while_a_transaction_is_open():
    """Inside atomic() (a test's transaction) the counter keeps counting instead."""
    timed = ByteCounter(flush_seconds=0.0, flush_responses=1)

    timed.add(42)
    timed.add(8)

    assert today_row() is None
    assert timed.pending() == (50, 2)
    assert timed.flush() is True  # an explicit flush still writes
    assert today_row().bytes == 50


@pytest.mark.django_db
def test_counts_served_against_another_database_are_dropped(monkeypatch):
    """At exit after a test run the connection points elsewhere: never add to it."""
    batch = ByteCounter(flush_seconds=3600, flush_responses=10_000)
    batch.add(10)
    monkeypatch.setitem(connection.settings_dict, "NAME", "some-other-database")

    assert batch.flush() is True
    monkeypatch.undo()
    assert batch.pending() == (0, 0)
    assert today_row() is None


@pytest.mark.django_db
def test_a_failed_flush_keeps_the_count_and_the_response(api, django_db_blocker):
    with django_db_blocker.block():
        # The database is unreachable for the counter: the flush fails quietly.
        assert counter.flush() is True  # nothing pending yet
        counter.add(500)
        assert counter.flush() is False
    assert counter.pending() == (500, 1)

    size = len(api.get("/api/ping").content)
    assert counter.flush() is True
    assert today_row().bytes == 500 + size


def test_streaming_responses_count_their_content_length():
    from django.http import StreamingHttpResponse

    with_length = StreamingHttpResponse(iter([b"abc"]), headers={"Content-Length": "3"})
    without = StreamingHttpResponse(iter([b"abc"]))

    assert middleware.response_size(with_length) == 3
    assert middleware.response_size(without) == 0


@pytest.mark.external  # starts gunicorn with two worker processes
@pytest.mark.django_db(transaction=True)  # the workers write through their own connections
def test_gunicorn_workers_flush_their_counts_at_exit(settings):
    """Two worker processes count in memory; stopping them flushes to the day's row."""
    proc, url = spawn_gunicorn(subprocess_env(settings), 2)
    try:
        total = 0
        for i in range(40):
            path = "/api/ping" if i % 2 else "/api/costs/history?days=1"
            req = urllib.request.Request(f"{url}{path}", headers={"X-Dash-Key": TEST_KEY})
            with urllib.request.urlopen(req, timeout=10) as res:
                total += len(res.read())
    finally:
        stop(proc)  # graceful: each worker exits and runs its atexit flush

    row = today_row()
    assert (row.bytes, row.responses) == (total, 40)
