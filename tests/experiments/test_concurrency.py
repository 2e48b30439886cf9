"""Real processes: concurrent first assignments of one user store and mirror it once."""

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from experiments.models import Event, Exposure
from tests.conftest import TEST_KEY
from tests.experiments.conftest import read_lines


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
    lines = [x for x in read_lines(log_dir) if x["type"] == "exposure"]
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
    lines = [x for x in read_lines(log_dir) if x["type"] == "exposure"]
    assert len(lines) == 9
