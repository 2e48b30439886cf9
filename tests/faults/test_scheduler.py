"""Scheduled runs under faults: a worker killed mid-digest, two qcluster nodes on one database.

Real `manage.py qcluster` processes on the test's PostgreSQL database, nothing
mocked. Django-Q2's scheduler looks at the schedules every ~30 s (first ~30 s
after start) and hands a task out again `Q_RETRY` seconds after a worker took it
if it was never acknowledged. `echopilot.schedules.scheduled` adds the lock
(`task:<name>`) and the half-period rule, judged by the REGISTRY period of the
name (60 minutes for `support.digest`, 5 for `incidents.scan`, 1 for
`echopilot.mirror_flush`), not by the short test schedules made here.
"""

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task

from echopilot import schedules
from echopilot.models import ScheduleRun
from support.models import Digest
from tests.conftest import ROOT, read_ndjson, subprocess_env

STILL_RUNNING = "another run of this task is still running"
ALREADY_RAN = "it already ran for this period"


def start_qcluster(env: dict, log_path: Path) -> subprocess.Popen:
    """Start `manage.py qcluster` in a session of its own, its output in `log_path`."""
    with open(log_path, "w") as log:
        return subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_qcluster(proc: subprocess.Popen) -> None:
    """SIGTERM (a graceful stop), then SIGKILL whatever is left of its process group."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # sentinel, workers, monitor, pusher
    except ProcessLookupError:
        pass
    proc.wait()


def wait_for(what: str, predicate, timeout: float, procs=()):
    """Poll `predicate` until it returns something truthy; fail on timeout or a dead node."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        for proc in procs:
            if proc.poll() is not None:
                pytest.fail(f"qcluster exited ({proc.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout:g}s")
        time.sleep(0.1)


def connected_pids(port: int) -> set[int]:
    """Pids of the processes with an established TCP connection TO loopback `port`."""
    out = subprocess.run(
        ["ss", "-Htnp", "state", "established", f"( dport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {int(pid) for pid in re.findall(r"pid=(\d+)", out)}


def tail(path: Path, lines: int = 60) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# --- 1. kill -9 of the worker mid-digest -----------------------------------------

IMAP_TIMEOUT = 10  # the digest's whole deadline against the silent server
Q_TIMEOUT = 20
# The killed run is handed out again Q_RETRY s after it was taken, i.e. ~Q_RETRY s
# after the scheduler's first look, and then runs IMAP_TIMEOUT s: 25-35 s after that
# look. The scheduler's next look (30 s after its first, a little later under load)
# falls inside that window: the next period's run arrives while the retry runs.
Q_RETRY = 25


def test_a_worker_killed_mid_digest_is_retried_recorded_and_never_overlaps(
    settings, silent_imap, tmp_path, log_dir
):
    """A worker killed with SIGKILL mid-digest: the broker hands the run out again after
    Q_RETRY; the retry reads the (silent) mailbox and records an `imap_timeout` digest.
    The next period's run arrives while the retry runs and skips on the lock; the one
    after skips on the half-period rule (the registry says 60 minutes). At most one
    connection to the mailbox at any time.

    Two workers, so the next run really can start while the retry is running: with
    one, it would wait behind the retry and the lock would never be put to the test.
    """
    cluster = f"kill{uuid.uuid4().hex[:8]}"
    env = subprocess_env(
        settings,
        IMAP_HOST="127.0.0.1",
        IMAP_PORT=silent_imap.port,
        IMAP_USER="support@example.com",
        IMAP_PASS="not-a-real-password",
        IMAP_SSL=0,
        IMAP_TIMEOUT=IMAP_TIMEOUT,
        WEB_TIMEOUT=30,  # >= IMAP_TIMEOUT + 5, and the start-up checks of other deadlines
        Q_TIMEOUT=Q_TIMEOUT,
        Q_RETRY=Q_RETRY,
        Q_WORKERS=2,
        Q_CLUSTER_NAME=cluster,
        LOG_LEVEL="INFO",
        TELEGRAM_BOT_TOKEN="",
        TELEGRAM_CHAT_ID="",
    )
    Schedule.objects.all().delete()
    schedule = Schedule.objects.create(
        name="support.digest",
        func="support.tasks.digest",
        schedule_type=Schedule.MINUTES,
        minutes=1,
        repeats=-1,
        next_run=timezone.now(),
    )
    log_path = tmp_path / "qcluster.log"
    began = time.monotonic()
    proc = start_qcluster(env, log_path)
    try:
        # The first run, mid-digest: its worker owns the connection to the silent server.
        pids = wait_for(
            "digest connecting to IMAP", lambda: connected_pids(silent_imap.port), 75, [proc]
        )
        taken_at = time.monotonic()
        assert len(pids) == 1, pids
        pid = pids.pop()
        assert pid != os.getpid() and os.getpgid(pid) == proc.pid, "not a worker of this qcluster"
        os.kill(pid, signal.SIGKILL)
        wait_for("killed worker's connection closing", lambda: silent_imap.active == 0, 10, [proc])

        schedule.refresh_from_db()
        first_task = schedule.task
        ledger = ScheduleRun.objects.get(name="support.digest")
        # It had taken the lock and started (the ledger says so), and never finished.
        assert ledger.last_started_at is not None and ledger.last_finished_at is None
        assert not Task.objects.filter(id=first_task).exists()
        # The broker kept the unacknowledged run, locked until Q_RETRY has passed.
        queued = list(OrmQ.objects.filter(key=cluster))
        assert len(queued) == 1 and queued[0].lock > timezone.now(), queued

        # The retry: handed out again after Q_RETRY, it connects once more.
        wait_for(
            "retry connecting to IMAP", lambda: silent_imap.accepted >= 2, Q_RETRY + 15, [proc]
        )
        retried_after = time.monotonic() - taken_at
        # The next period's run (while the retry runs) and the one after (just after it).
        tasks = Task.objects.filter(group="support.digest")
        wait_for("three digest task results", lambda: tasks.count() >= 3, 100, [proc])
        wait_for(
            "broker queue to drain",
            lambda: not OrmQ.objects.filter(key=cluster).exists(),
            30,
            [proc],
        )
        assert proc.poll() is None, "qcluster died"
    finally:
        stop_qcluster(proc)
        print(f"--- qcluster log (tail), {time.monotonic() - began:.0f}s ---\n{tail(log_path)}")

    # The run was taken again after Q_RETRY (the ORM broker's retry, not a new schedule).
    assert Q_RETRY - 3 <= retried_after <= Q_RETRY + 3, retried_after
    # ... and recorded: one digest, the mailbox's timeout, under the killed task's id.
    digest = Digest.objects.get()
    assert (digest.actor, digest.ok, digest.error) == ("schedule", False, "imap_timeout")
    lines = read_ndjson(log_dir, "support_digest")
    assert [(x["digest_id"], x["error"]) for x in lines] == [(digest.pk, "imap_timeout")]
    retry, during, after = tasks.order_by("started")
    assert retry.id == first_task
    assert retry.success and retry.result["digest_id"] == digest.pk, retry.result
    assert retry.result["error"] == "imap_timeout", retry.result
    retry_began = digest.created_at - dt.timedelta(milliseconds=digest.duration_ms)
    first = retry.started  # when the scheduler made the run that was killed
    print(
        f"timeline (s after the first run was made): retried after {retried_after:.1f}s "
        f"of the kill; retry {(retry_began - first).total_seconds():.1f}-"
        f"{(digest.created_at - first).total_seconds():.1f}; next run made at "
        f"{(during.started - first).total_seconds():.1f}, the one after at "
        f"{(after.started - first).total_seconds():.1f}"
    )

    # The next period's run arrived while the retry was reading the mailbox: it found
    # the lock taken, said so, and was done before the retry ended.
    assert during.success and during.result == {"ok": True, "skipped": STILL_RUNNING}
    assert retry_began <= during.started and during.stopped <= digest.created_at, (
        retry_began,
        during.started,
        during.stopped,
        digest.created_at,
    )
    # The run of the period after: within half the registered 60 minutes of the retry.
    assert after.success and after.result.get("skipped", "").startswith(ALREADY_RAN), after.result
    assert after.started > digest.created_at

    # Never two digests at once: two connections in all (killed run, retry), one at a time.
    assert (silent_imap.accepted, silent_imap.peak) == (2, 1)
    ledger.refresh_from_db()
    assert ledger.skipped == 2
    assert ledger.last_ok is False and ledger.last_finished_at >= digest.created_at
    assert "reincarnated worker" in log_path.read_text()


# --- 2. two qcluster nodes on one database -----------------------------------------

RUN_FOR = 190  # seconds: the first look at ~30 s, then 3 more one-minute periods
FREEZE_FOR = 45  # seconds the node that ran the first period is stopped (SIGSTOP)
SCHEDULES = {
    # name: (func, period in the registry, which the half-period rule reads)
    "echopilot.mirror_flush": ("echopilot.tasks.flush_mirror", 60),
    "incidents.scan": ("incidents.tasks.scan", 300),
}
PROCESSING = re.compile(r"processing (\S+) '")
CREATED = re.compile(r"created task (\S+) from schedule \[(.+?)\]")


def test_two_nodes_run_each_schedule_once_per_period(settings, tmp_path, log_dir):
    """Two qcluster nodes (one worker each) on one database and one queue for ~3 minutes
    with one-minute schedules: one task per schedule per period, each executed by one
    node once, and the runs the decorator let through match its rules.

    Left alone, one node tends to win every race (same start, same poll phase), so the
    node that ran the first period is frozen (SIGSTOP) across the second: the other one
    must schedule and run it, and both then compete again with shifted phases.
    """
    cluster = f"pair{uuid.uuid4().hex[:8]}"
    env = subprocess_env(
        settings,
        Q_WORKERS=1,
        Q_CLUSTER_NAME=cluster,
        LOG_LEVEL="INFO",
        TELEGRAM_BOT_TOKEN="",
        TELEGRAM_CHAT_ID="",
    )
    Schedule.objects.all().delete()
    origin = timezone.now()
    for name, (func, _period) in SCHEDULES.items():
        Schedule.objects.create(
            name=name,
            func=func,
            schedule_type=Schedule.MINUTES,
            minutes=1,
            repeats=-1,
            next_run=origin,
        )
    ours = Task.objects.filter(group__in=SCHEDULES)
    queue = OrmQ.objects.filter(key=cluster)
    logs = [tmp_path / "node-0.log", tmp_path / "node-1.log"]
    nodes = [start_qcluster(env, path) for path in logs]
    began = time.monotonic()
    frozen = None
    try:

        def period_done(n):
            return lambda: ours.count() >= n * len(SCHEDULES) and not queue.exists()

        wait_for("first period's results", period_done(1), 75, nodes)
        frozen = next(i for i, path in enumerate(logs) if PROCESSING.search(path.read_text()))
        os.killpg(nodes[frozen].pid, signal.SIGSTOP)
        frozen_at = time.monotonic()
        first_period = set(ours.values_list("name", flat=True))
        wait_for("second period's results", period_done(2), 75, nodes)
        second_period = set(ours.values_list("name", flat=True)) - first_period
        time.sleep(max(0.0, frozen_at + FREEZE_FOR - time.monotonic()))
        os.killpg(nodes[frozen].pid, signal.SIGCONT)

        while time.monotonic() - began < RUN_FOR:
            for node in nodes:
                assert node.poll() is None, f"a node exited with {node.returncode}"
            time.sleep(1)
        wait_for("broker queue to drain", lambda: not queue.exists(), 30, nodes)
        assert all(node.poll() is None for node in nodes), "a node died"
    finally:
        for node in nodes:
            try:
                os.killpg(node.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            stop_qcluster(node)
        for path in logs:
            print(f"--- {path.name} (tail), {time.monotonic() - began:.0f}s ---\n{tail(path)}")

    created = [dict(CREATED.findall(path.read_text())) for path in logs]
    processed = [PROCESSING.findall(path.read_text()) for path in logs]
    executions = Counter(processed[0] + processed[1])
    print(
        "created per node:",
        [len(c) for c in created],
        "executed per node:",
        [len(p) for p in processed],
        "node frozen:",
        frozen,
    )
    # While one node was frozen the other scheduled and ran the whole period alone.
    alone = 1 - frozen
    assert len(second_period) == len(SCHEDULES)
    assert second_period <= set(created[alone]) and second_period <= set(processed[alone])
    assert all(processed), "each node ran at least one task"

    scan_lines = [
        line
        for line in read_ndjson(log_dir, "incidents")
        if line["type"] == "scan" and line["actor"] == "schedule"
    ]
    for name, (_func, period) in SCHEDULES.items():
        tasks = list(ours.filter(group=name).order_by("started"))
        assert all(t.success for t in tasks), [t.result for t in tasks]
        # One task per one-minute period, none missed, none doubled.
        periods = [int((t.started - origin).total_seconds() // 60) for t in tasks]
        assert periods == list(range(len(tasks))), (name, [t.started for t in tasks])
        assert len(tasks) >= 3
        # Each made by one node's scheduler and executed by one node, once.
        makers = [t for node in created for t, s in node.items() if s == name]
        assert sorted(makers) == sorted(t.name for t in tasks), (name, makers)
        assert all(executions[t.name] == 1 for t in tasks), (name, executions)

        # The decorator: a run within half the registered period of the last finished
        # one skips; any other runs. A task checks between its `started` and `stopped`
        # and the previous run finished between its own two, so the gap it saw lies
        # between `shortest` and `longest`: below half a period it must skip, from half
        # a period on it must run. (Runs land 30-90 s apart: the scheduler looks every
        # ~30 s, and the frozen node comes back with another phase.)
        half = schedules.min_gap_seconds(dt.timedelta(seconds=period))
        ran = [tasks[0]]
        assert "skipped" not in tasks[0].result, tasks[0].result
        for task in tasks[1:]:
            previous = ran[-1]
            shortest = (task.started - previous.stopped).total_seconds()
            longest = (task.stopped - previous.started).total_seconds()
            if "skipped" in task.result:
                assert task.result["skipped"].startswith(ALREADY_RAN), (name, task.result)
                assert shortest < half, (name, shortest, task.result)
            else:
                assert longest >= half, (name, longest, task.result)
                ran.append(task)
        print(
            name,
            "tasks at",
            [round((t.started - origin).total_seconds()) for t in tasks],
            "s, ran at",
            [round((t.started - origin).total_seconds()) for t in ran],
        )
        ledger = ScheduleRun.objects.get(name=name)
        assert ledger.skipped == len(tasks) - len(ran), (name, ledger.skipped, len(ran))
        assert ledger.last_finished_at >= ran[-1].started
        if name == "incidents.scan":
            assert 1 <= len(ran) < len(tasks)  # five minutes registered: some skipped
            # Each scan that ran mirrored exactly one line; none more.
            assert len(scan_lines) == len(ran), (len(scan_lines), len(ran))
