"""Concurrency: racing processes store one exposure; racing changes stay consistent."""

import json
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from django.db import connection

from echopilot.exceptions import ServiceError
from experiments import services
from experiments.assignment import assign_variant
from experiments.models import Event, Experiment, Exposure
from experiments.services import definitions, traffic
from tests.conftest import TEST_KEY, read_ndjson


def call(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"X-Dash-Key": TEST_KEY})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, json.loads(resp.read())


def test_racing_assignments_store_one_exposure_and_one_line(gunicorn_server, seeded, log_dir):
    base = gunicorn_server(workers=3)
    users = [f"racer{i}" for i in range(4)]
    urls = [f"{base}/api/exp/assign?user={u}&exp=onboarding_flow" for u in users for _ in range(8)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(call, urls))
    assert all(status == 200 for status, _ in answers)
    for u in users:
        variants = {body["variant"] for _, body in answers if body["user"] == u}
        assert len(variants) == 1
    assert Exposure.objects.count() == 4
    lines = [x for x in read_ndjson(log_dir, "experiments") if x["type"] == "exposure"]
    assert sorted(x["user"] for x in lines) == users

    # Events racing with assignments for fresh users: still one exposure each.
    body = [{"event": "conversion", "user": f"late{i}", "exp": "onboarding_flow"} for i in range(5)]
    jobs = [(f"{base}/api/exp/log", body)] * 4 + [
        (f"{base}/api/exp/assign?user=late{i}&exp=onboarding_flow", None) for i in range(5)
    ]
    with ThreadPoolExecutor(max_workers=9) as pool:
        results = list(pool.map(lambda job: call(*job), jobs))
    assert all(status == 200 for status, _ in results)
    assert Event.objects.count() == 20
    assert Exposure.objects.filter(user__startswith="late").count() == 5
    lines = [x for x in read_ndjson(log_dir, "experiments") if x["type"] == "exposure"]
    assert len(lines) == 9


# --- a change committed between a service's read and its write --------------------
#
# `race` runs `action` in another thread (its own database connection) when the
# wrapped function first returns, i.e. inside the service's read-then-write
# window, and waits up to a second for it. Where the service holds its lock the
# other thread blocks until the service commits; either order must end consistent.


def race(monkeypatch, module, name, action):
    real = getattr(module, name)
    threads, outcome = [], {}

    def run():
        try:
            outcome["result"] = action()
        except ServiceError as exc:
            outcome["error"] = exc.code
        finally:
            connection.close()

    def wrapper(*args, **kwargs):
        result = real(*args, **kwargs)  # the service has read: now the other change
        if not threads:
            threads.append(threading.Thread(target=run))
            threads[0].start()
            threads[0].join(timeout=1.0)
        return result

    monkeypatch.setattr(module, name, wrapper)

    def finish():
        for thread in threads:
            thread.join(timeout=60)
            assert not thread.is_alive()
        assert threads, "the race never started"
        return outcome

    return finish


def outcome_of(call):
    try:
        return call()
    except ServiceError as exc:
        return exc.code


def test_update_racing_a_first_exposure_keeps_exposures_consistent(
    transactional_db, make_exp, monkeypatch
):
    make_exp(key="race", variants=["A", "B"], salt="OLD")
    # A user whose variant differs between the old and the new salt.
    user = next(
        u
        for u in (f"u{i}" for i in range(100))
        if assign_variant(u, "OLD", ["A", "B"]) != assign_variant(u, "NEW", ["A", "B"])
    )
    finish = race(
        monkeypatch,
        definitions,
        "check_salt_free",
        lambda: services.assign(experiment="race", user=user, actor="t"),
    )
    outcome_of(lambda: services.experiment_update(key="race", salt="NEW", actor="t"))
    finish()
    exp = Experiment.objects.get(key="race")
    exposure = Exposure.objects.get(user=user)
    # Whichever won, the stored exposure is what the final definition assigns.
    assert exposure.variant == assign_variant(user, exp.salt, exp.variants, exp.weights)


def test_pause_racing_a_first_assignment_exposes_nobody(transactional_db, seeded, monkeypatch):
    finish = race(
        monkeypatch,
        traffic,
        "assign_variant",
        lambda: services.experiment_set_status(key="pricing_v2", status="paused", actor="t"),
    )
    result = services.assign(experiment="pricing_v2", user="bob", actor="t")
    finish()
    assert Experiment.objects.get(key="pricing_v2").status == "paused"
    assert result["variant"] == "A"  # the control, as a paused experiment serves
    assert not Exposure.objects.exists()


def test_stop_racing_an_event_stores_nothing(transactional_db, seeded, monkeypatch):
    finish = race(
        monkeypatch,
        traffic,
        "assign_variant",
        lambda: services.experiment_set_status(key="pricing_v2", status="stopped", actor="t"),
    )
    code = outcome_of(
        lambda: services.log_event(
            event="conversion", user="bob", experiment="pricing_v2", actor="t"
        )
    )
    finish()
    assert Experiment.objects.get(key="pricing_v2").status == "stopped"
    assert code == "experiment_stopped"
    assert not Event.objects.exists() and not Exposure.objects.exists()


def test_resume_racing_a_stop_cannot_restart_the_experiment(transactional_db, seeded, monkeypatch):
    services.experiment_set_status(key="pricing_v2", status="paused", actor="t")
    finish = race(
        monkeypatch,
        definitions,
        "get_experiment",
        lambda: services.experiment_set_status(key="pricing_v2", status="stopped", actor="t"),
    )
    outcome_of(
        lambda: services.experiment_set_status(key="pricing_v2", status="running", actor="t")
    )
    finish()
    assert Experiment.objects.get(key="pricing_v2").status == "stopped"
