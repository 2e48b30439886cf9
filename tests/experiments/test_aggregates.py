"""Aggregates: kept up to date by every write path, equal to a full recount, concurrency-safe."""

import json
import random
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from experiments import selectors, services, timeseries
from experiments.models import Event, EventDay, Exposure, ExposureDay, UserEvent
from tests.conftest import TEST_KEY

DAY1 = datetime(2026, 11, 25, 23, 59, 59, tzinfo=UTC)


def at(monkeypatch, when):
    """Make the services store rows at `when`."""
    monkeypatch.setattr(timezone, "now", lambda: when)


def brute_force(key, event):
    """Users, converters, value sum and squared user totals per variant, from raw rows."""
    out = {}
    for x in Exposure.objects.filter(experiment__key=key):
        out.setdefault(x.variant, {"users": 0, "totals": {}})["users"] += 1
    for e in Event.objects.filter(experiment__key=key, event=event):
        totals = out[e.variant]["totals"]
        totals[e.user] = totals.get(e.user, 0.0) + (e.value or 0.0)
    return {
        v: (
            d["users"],
            len(d["totals"]),
            sum(d["totals"].values()),
            sum(t * t for t in d["totals"].values()),
        )
        for v, d in out.items()
    }


def test_every_write_path_keeps_aggregates_equal_to_a_recount(seeded, monkeypatch):
    rng = random.Random(5)
    at(monkeypatch, DAY1)
    for i in range(30):
        services.assign(experiment="onboarding_flow", user=f"a{i}", actor="t")
    services.assign(experiment="onboarding_flow", user="a1", actor="t")  # a repeat: nothing
    for day in range(3):
        at(monkeypatch, DAY1 + timedelta(days=day, seconds=1))
        batch = [
            {
                "event": rng.choice(["conversion", "refund"]),
                "user": f"{rng.choice('ab')}{rng.randrange(40)}",
                "exp": "onboarding_flow",
                "value": rng.choice([None, 1.5, 20.0, -3.25]),
            }
            for _ in range(200)
        ]
        services.log_events(events=batch, actor="t")
    # A transaction that committed late: day-0 events after day-2 ones move the
    # users' first day (and converter day) back.
    at(monkeypatch, DAY1)
    services.log_events(
        events=[
            {"event": "conversion", "user": f"a{i}", "exp": "onboarding_flow"} for i in range(5)
        ],
        actor="t",
    )
    stored = selectors.results(experiment="onboarding_flow", event="conversion")
    series = timeseries.timeseries(experiment="onboarding_flow", event="conversion", days=30)
    [result] = services.recount(key="onboarding_flow")
    assert result.difference_count == 0, result.differences
    assert result.compared > 100
    assert selectors.results(experiment="onboarding_flow", event="conversion") == stored
    assert (
        timeseries.timeseries(experiment="onboarding_flow", event="conversion", days=30) == series
    )
    want = brute_force("onboarding_flow", "conversion")
    for row in selectors.variant_counts(selectors.get_experiment("onboarding_flow"), "conversion"):
        users, converters, total, sq = want[row["variant"]]
        assert (row["users"], row["converters"]) == (users, converters)
        assert row["value_sum"] == pytest.approx(total, rel=1e-12, abs=1e-12)
        assert row["value_sq"] == pytest.approx(sq, rel=1e-12, abs=1e-12)


def test_recount_reports_and_corrects_rows_written_behind_the_back(seeded):
    services.log_event(event="conversion", user="u1", experiment="pricing_v2", actor="t")
    exp = selectors.get_experiment("pricing_v2")
    variant = Exposure.objects.get(user="u1").variant
    Event.objects.create(
        experiment=exp, user="u1", variant=variant, event="conversion", created_at=timezone.now()
    )
    ExposureDay.objects.filter(experiment=exp).update(users=7)
    out = StringIO()
    with pytest.raises(CommandError) as e:
        call_command("experiments", "recount", "pricing_v2", stdout=out)
    assert e.value.returncode == 1
    text = out.getvalue()
    # The exposure count, the day's event count and the user's event count.
    assert "pricing_v2:" in text and "3 difference(s), corrected" in text
    assert f"users ({variant}, " in text and "stored (7), recounted (1)" in text
    assert f"per user (conversion, u1): stored ({variant}, 1, 0.0, " in text
    assert UserEvent.objects.get(user="u1").events == 2
    out = StringIO()
    call_command("experiments", "recount", stdout=out)  # now everything matches
    assert "pricing_v2: " in out.getvalue() and "ok" in out.getvalue()
    assert "difference" not in out.getvalue()


def test_results_read_a_bounded_number_of_rows(seeded, django_assert_max_num_queries):
    services.log_events(
        events=[{"event": "conversion", "user": f"u{i}", "exp": "pricing_v2"} for i in range(500)],
        actor="t",
    )
    assert EventDay.objects.count() == 2 and ExposureDay.objects.count() == 2
    with django_assert_max_num_queries(3):
        selectors.results(experiment="pricing_v2", event="conversion")


def post(url, body):
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"X-Dash-Key": TEST_KEY, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.status


def test_concurrent_ingestion_from_four_processes_equals_a_recount(gunicorn_server, seeded):
    base = gunicorn_server(workers=4)
    rng = random.Random(11)
    # Overlapping users across the clients: the same per-user and per-day rows race.
    batches = [
        [
            {
                "event": rng.choice(["conversion", "purchase"]),
                "user": f"u{rng.randrange(300)}",
                "exp": rng.choice(["pricing_v2", "onboarding_flow"]),
                "value": rng.choice([None, 0.5, 9.99, 120.0]),
            }
            for _ in range(100)
        ]
        for _ in range(40)
    ]
    assigns = [f"{base}/api/exp/assign?user=u{i}&exp=pricing_v2" for i in range(300, 340)]

    def job(i):
        if i < len(batches):
            return post(f"{base}/api/exp/log", batches[i])
        with urllib.request.urlopen(
            urllib.request.Request(assigns[i - len(batches)], headers={"X-Dash-Key": TEST_KEY})
        ) as resp:
            return resp.status

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert set(pool.map(job, range(len(batches) + len(assigns)))) == {200}
    assert Event.objects.count() == 4000
    for key in ("pricing_v2", "onboarding_flow"):
        before = selectors.results(experiment=key, event="purchase")
        [result] = services.recount(key=key)
        assert result.difference_count == 0, result.differences
        after = selectors.results(experiment=key, event="purchase")
        counts = [(v["users"], v["converters"]) for v in before["variants"]]
        assert counts == [(v["users"], v["converters"]) for v in after["variants"]]
        assert sum(n for n, _ in counts) == Exposure.objects.filter(experiment__key=key).count()


@pytest.mark.django_db
def test_any_user_id_and_value_round_trips_through_the_bulk_insert(make_exp):
    """Quotes, backslashes, commas, braces, SQL and non-ASCII user ids, a 200-character
    id, and values of every sign are stored exactly as sent (the bulk statements pass
    rows as JSON on PostgreSQL, as placeholders on SQLite)."""
    from experiments.models import Event, Exposure, UserEvent

    make_exp("odd_users")
    users = ['a"b', "c\\d", "e,f", "{g}", "h'); DROP TABLE x;--", "é😀中", " x ", "u" * 200]
    values = [0.5, -1e-9, 1e12, None, 0.0, 3.25, -7.0, 42.0]
    batch = [
        {"event": "conversion", "user": u, "exp": "odd_users", "value": v}
        for u, v in zip(users, values, strict=True)
    ]
    logged = services.log_events(events=batch, actor="test")
    assert logged["stored"] == len(users) and logged["exposures_recorded"] == len(users)
    stored = dict(Event.objects.filter(experiment__key="odd_users").values_list("user", "value"))
    assert stored == dict(zip(users, values, strict=True))
    exposed = set(
        Exposure.objects.filter(experiment__key="odd_users").values_list("user", flat=True)
    )
    assert exposed == set(users)
    assert set(UserEvent.objects.values_list("user", flat=True)) >= set(users)
