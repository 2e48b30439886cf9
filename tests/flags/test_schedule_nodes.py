"""Two real qcluster nodes on PostgreSQL apply each scheduled change exactly once.

Every change is handed to both nodes several times over (duplicate tasks on the
queue, two workers per node) on top of its own one-off Django-Q2 schedule, so
the row-level claim in `flags.scheduling.schedule_apply` is what keeps it to one
application. PostgreSQL only (SQLite serialises every writer anyway).
"""

import datetime as dt
import time
import uuid

import pytest
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule, Task
from django_q.tasks import async_task

from flags import scheduling, services
from flags.models import FlagChange, FlagSchedule
from tests.conftest import subprocess_env
from tests.faults.test_scheduler import start_qcluster, stop_qcluster, tail

pytestmark = [pytest.mark.external, pytest.mark.slow]

FLAGS = [f"launch.n{i}" for i in range(4)]
DUPLICATES = 4  # extra tasks per change, on top of its one-off schedule


def wait_until(predicate, timeout, procs):
    deadline = time.monotonic() + timeout
    while not predicate():
        for proc in procs:
            assert proc.poll() is None, "a qcluster node exited"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_two_nodes_apply_each_scheduled_change_exactly_once(transactional_db, settings, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("two qcluster nodes: PostgreSQL only (DATABASE_URL=postgres://… make test)")
    for key in FLAGS:
        services.flag_set(key=key, actor="cli", create=True, value=False)
    now = timezone.now()
    # Due now (raced by duplicates), and one due a few seconds on (its one-off schedule).
    raced = [
        scheduling.schedule_create(key=k, at=now, change={"value": True}, actor="cli")["id"]
        for k in FLAGS[:-1]
    ]
    later_at = now + dt.timedelta(seconds=5)
    later = scheduling.schedule_create(
        key=FLAGS[-1], at=later_at, change={"value": True}, actor="cli"
    )["id"]
    for schedule_id in raced:
        for _ in range(DUPLICATES):
            async_task("flags.tasks.apply_schedule", schedule_id)

    env = subprocess_env(settings, Q_WORKERS=2, LOG_LEVEL="INFO")
    env["Q_CLUSTER_NAME"] = settings.Q_CLUSTER["name"]
    # Queued task payloads are signed: the nodes need the key this process signed with.
    env["SECRET_KEY"] = settings.SECRET_KEY
    logs = [tmp_path / f"node{i}-{uuid.uuid4().hex[:6]}.log" for i in range(2)]
    nodes = [start_qcluster(env, log) for log in logs]
    try:
        wait_until(lambda: not FlagSchedule.objects.filter(state="pending").exists(), 120, nodes)
        # Every task handed out has run (the one-off schedules included).
        wait_until(
            lambda: (
                not Schedule.objects.filter(name__startswith="flags.schedule:").exists()
                and Task.objects.filter(func="flags.tasks.apply_schedule").count()
                >= len(raced) * DUPLICATES
            ),
            60,
            nodes,
        )
    finally:
        for node in nodes:
            stop_qcluster(node)
        for log in logs:
            print(f"--- {log.name} ---\n{tail(log, 20)}")

    for schedule in FlagSchedule.objects.all():
        assert schedule.state == "applied", (schedule.pk, schedule.error)
        rows = FlagChange.objects.filter(key=schedule.key, field="value")
        assert [(r.actor, r.new) for r in rows] == [(f"schedule:{schedule.pk}", True)]
    results = [t.result for t in Task.objects.filter(func="flags.tasks.apply_schedule")]
    applied = sorted(r["id"] for r in results if r and r.get("state") == "applied")
    assert applied == sorted([*raced, later]), results
    late = FlagSchedule.objects.get(pk=later)
    assert late.applied_at - later_at <= dt.timedelta(seconds=60)
