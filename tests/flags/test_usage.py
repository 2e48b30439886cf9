"""Usage counts: counted in memory per evaluation, flushed in batches, read per day."""

import datetime as dt
import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.utils import timezone

import flags
from flags import services, usage
from flags.limits import USAGE_FLUSH_EVALUATIONS
from flags.models import FlagUsage
from tests.conftest import TEST_KEY, spawn_gunicorn, stop, subprocess_env
from tests.processes import children, counts_per_process


def rows():
    return {(u.key, u.variant, u.reason): u.count for u in FlagUsage.objects.all()}


@pytest.fixture
def beta(transactional_db):
    services.flag_set(
        key="ui.beta",
        actor="cli",
        create=True,
        value=False,
        rules=[
            {
                "name": "de",
                "conditions": [{"attribute": "country", "op": "eq", "value": "DE"}],
                "value": True,
            }
        ],
    )
    return "ui.beta"


@pytest.fixture
def listener():
    batches = []
    usage.FLUSH_LISTENERS.append(batches.append)
    yield batches
    usage.FLUSH_LISTENERS.remove(batches.append)


def test_every_evaluation_is_counted_and_flushed_in_one_batch(beta, listener, monkeypatch):
    now = [1_800_000_000.0]
    monkeypatch.setattr(usage, "_time", lambda: now[0])
    usage.reset()  # the open batch's hour: now
    for _ in range(3):
        flags.evaluate(beta, {"country": "DE"})
    flags.is_enabled(beta, context={"country": "FR"})
    flags.get_value("no.such.flag", 1)
    assert FlagUsage.objects.count() == 0  # nothing written per evaluation
    assert usage.pending_count() == 5
    usage.flush(close=True)  # what the writer thread does every 10 s
    assert rows() == {(beta, "de", "TARGETING_MATCH"): 3, (beta, "default", "DEFAULT"): 1}
    assert listener == [
        {
            (beta, "de", "TARGETING_MATCH"): 3,
            (beta, "default", "DEFAULT"): 1,
            ("other", "default", "ERROR"): 1,
        }
    ]
    # The next batch adds to the same rows (one F() update each), unknown keys never written.
    flags.evaluate(beta, {"country": "FR"})
    usage.flush(close=True)
    assert rows()[(beta, "default", "DEFAULT")] == 2
    assert not FlagUsage.objects.filter(key="other").exists()
    hour = FlagUsage.objects.first().hour
    assert hour == dt.datetime.fromtimestamp(1_800_000_000 // 3600 * 3600, tz=dt.UTC)


def wait_for_rows(expected, timeout=10.0):
    deadline = time.monotonic() + timeout
    while rows() != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return rows()


def test_the_writer_thread_flushes_after_the_evaluation_limit(beta, monkeypatch):
    monkeypatch.setattr(usage, "BACKGROUND", True)
    for _ in range(USAGE_FLUSH_EVALUATIONS):
        flags.evaluate(beta, {"country": "DE"})
    expected = {(beta, "de", "TARGETING_MATCH"): USAGE_FLUSH_EVALUATIONS}
    assert wait_for_rows(expected) == expected


def test_the_writer_thread_flushes_every_interval(beta, monkeypatch):
    monkeypatch.setattr(usage, "BACKGROUND", True)
    monkeypatch.setattr(usage, "USAGE_FLUSH_SECONDS", 0.1)
    usage._wake.set()  # the writer sleeps up to 10 s: start its next, shorter wait now
    flags.evaluate(beta)
    expected = {(beta, "default", "DEFAULT"): 1}
    assert wait_for_rows(expected) == expected


def test_nothing_is_written_inside_a_transaction_and_kept_for_later(beta):
    from django.db import transaction

    flags.evaluate(beta)
    with transaction.atomic():
        flags.evaluate(beta)
        assert usage.flush(close=True) is False
        assert FlagUsage.objects.count() == 0
    usage.flush(close=True)
    assert rows() == {(beta, "default", "DEFAULT"): 2}


def test_usage_endpoint_lists_days_and_variants(api, beta):
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    for variant, n, when in (
        ("de", 5, hour),
        ("default", 7, hour),
        ("de", 2, hour - dt.timedelta(days=2)),
    ):
        FlagUsage.objects.create(
            key=beta, variant=variant, reason="X", hour=when, count=n, last_at=when
        )
    body = api.get(f"/api/flags/usage?key={beta}&days=3").json()
    today = hour.date()
    assert body == {
        "ok": True,
        "key": beta,
        "days": [
            {"date": (today - dt.timedelta(days=2)).isoformat(), "variants": {"de": 2}},
            {"date": (today - dt.timedelta(days=1)).isoformat(), "variants": {}},
            {"date": today.isoformat(), "variants": {"de": 5, "default": 7}},
        ],
    }
    assert api.get("/api/flags/usage?key=no.such").status_code == 404
    assert api.get(f"/api/flags/usage?key={beta}&days=0").status_code == 400
    assert api.get(f"/api/flags/usage?key={beta}&days=91").status_code == 400
    assert api.get("/api/flags/usage").status_code == 400


@pytest.mark.external
def test_two_gunicorn_workers_add_up_exactly(beta, settings, tmp_path):
    """Evaluations served by two worker processes; after a clean stop the rows hold them all.

    Each worker's share is read from its own Prometheus file: requests served as
    they come, evaluations counted when its usage batch is flushed (at exit).
    """
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = subprocess_env(settings, PROMETHEUS_MULTIPROC_DIR=directory)
    proc, base = spawn_gunicorn(env, workers=2)
    burst, sent = 100, 0

    def evaluate(i):
        country = "DE" if i % 4 == 0 else "FR"
        body = json.dumps({"key": beta, "context": {"country": country}}).encode()
        request = urllib.request.Request(
            f"{base}/api/flags/evaluate",
            data=body,
            headers={"X-Dash-Key": TEST_KEY, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status

    try:
        # Gunicorn's workers race to accept, so one can take a whole burst: send
        # bursts until each has served some (bounded).
        with ThreadPoolExecutor(4) as pool:
            while sent < 20 * burst:
                assert list(pool.map(evaluate, range(sent, sent + burst))) == [200] * burst
                sent += burst
                served = counts_per_process(
                    directory, "echopilot_http_requests_total", view="flags-evaluate"
                )
                if len([n for n in served.values() if n]) >= 2:
                    break
        worker_pids = children(proc.pid)  # sync workers start no processes of their own
        assert len(worker_pids) == 2
    finally:
        stop(proc)  # SIGTERM: each worker flushes what it still holds at exit
    shares = counts_per_process(directory, "echopilot_flag_evaluations_total", flag=beta)
    assert sorted(shares) == sorted(f"counter_{pid}.db" for pid in worker_pids)
    assert all(shares.values()), shares  # both workers counted some evaluations
    assert sum(shares.values()) == sent
    assert rows() == {
        (beta, "de", "TARGETING_MATCH"): sent // 4,
        (beta, "default", "DEFAULT"): sent - sent // 4,
    }


def test_the_usage_flush_feeds_the_metrics_counter(beta):
    """One count per evaluation, two readers: the flush also raises the Prometheus counter."""
    from echopilot import metrics

    def sample(reason):
        return metrics.sample("echopilot_flag_evaluations_total", flag=beta, reason=reason)

    usage.reset()
    before = sample("TARGETING_MATCH"), sample("DEFAULT")
    for _ in range(3):
        flags.evaluate(beta, {"country": "DE"})
    flags.evaluate(beta, {"country": "FR"})
    assert (sample("TARGETING_MATCH"), sample("DEFAULT")) == before  # counted, not yet flushed
    usage.flush(close=True)
    assert sample("TARGETING_MATCH") == before[0] + 3
    assert sample("DEFAULT") == before[1] + 1


def test_ofrep_evaluations_are_counted(api, beta):
    """OFREP's single and bulk evaluations count like the API's, per variant and reason."""
    usage.reset()
    url = "/ofrep/v1/evaluate/flags"
    one = api.post(f"{url}/{beta}", {"context": {"country": "DE"}}, format="json")
    assert (one.status_code, one.json()["variant"]) == (200, "de")
    bulk = api.post(url, {"context": {"country": "FR", "targetingKey": "u1"}}, format="json")
    assert bulk.status_code == 200 and [f["key"] for f in bulk.json()["flags"]] == [beta]
    missing = api.post(f"{url}/no.such.flag", {"context": {}}, format="json")
    assert missing.status_code == 404
    assert FlagUsage.objects.count() == 0  # counted in memory, written by the flush
    usage.flush(close=True)
    assert rows() == {(beta, "de", "TARGETING_MATCH"): 1, (beta, "default", "DEFAULT"): 1}
