"""Retention: prune deletes exactly the rows past their kind's retention, nothing else."""

import datetime as dt
from io import StringIO

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Task

from echopilot import retention
from echopilot.models import ScheduleRun
from tests.conftest import read_ndjson

NOW = timezone.now().replace(microsecond=0)
DAY = dt.timedelta(days=1)
MINUTE = dt.timedelta(minutes=1)


def ago(days: float, plus: dt.timedelta = dt.timedelta()) -> dt.datetime:
    return NOW - dt.timedelta(days=days) + plus


def prune(*kinds: str) -> dict[str, int]:
    outcomes = retention.prune(kinds=list(kinds), now=NOW)
    assert all(not o.error for o in outcomes), [o.error for o in outcomes]
    return {o.kind: o.rows for o in outcomes}


def test_every_app_registers_its_kinds():
    assert {
        "task_records",
        "schedule_runs",
        "digests",
        "digest_messages",
        "cost_reports",
        "bandwidth_days",
        "incident_alerts",
        "received_alerts",
        "experiment_exposures",
        "experiment_events",
        "deleted_flag_history",
        "flag_usage",
        "flag_schedules",
        "incident_events",
        "incident_notes",
        "experiment_user_events",
    } <= set(retention.REGISTRY)


@pytest.mark.django_db
def test_task_records_and_ledger_past_35_days_go(settings):
    def task(name, stopped):
        Task.objects.create(
            id=name.ljust(32, "0"), name=name, func="math.sqrt", started=stopped,
            stopped=stopped, success=True,
        )  # fmt: skip

    task("old", ago(35, -MINUTE))
    task("young", ago(35, MINUTE))
    ScheduleRun.objects.create(name="gone.schedule", last_started_at=ago(35, -MINUTE))
    ScheduleRun.objects.create(name="live.schedule", last_started_at=ago(1))
    assert prune("task_records", "schedule_runs") == {"task_records": 1, "schedule_runs": 1}
    assert list(Task.objects.values_list("name", flat=True)) == ["young"]
    assert list(ScheduleRun.objects.values_list("name", flat=True)) == ["live.schedule"]

    settings.RETENTION_TASK_DAYS = 1
    assert prune("task_records") == {"task_records": 1}


@pytest.mark.django_db
def test_digests_and_their_messages_past_180_days_go():
    from support.models import Digest, DigestItem, Message

    def digest(when):
        return Digest.objects.create(created_at=when, actor="t", ok=True, limit=20, count=1)

    old, young = digest(ago(180, -MINUTE)), digest(ago(180, MINUTE))
    kept_msg = Message.objects.create(
        key="a", first_seen=ago(300), last_seen=ago(10), first_digest=old
    )
    gone_msg = Message.objects.create(key="b", first_seen=ago(300), last_seen=ago(181))
    for i, (d, m) in enumerate([(old, kept_msg), (old, gone_msg), (young, kept_msg)]):
        DigestItem.objects.create(digest=d, message=m, position=i, uid=i, new=False, urgent=False)

    assert prune("digests", "digest_messages") == {"digests": 1, "digest_messages": 1}
    assert list(Digest.objects.all()) == [young]
    assert list(Message.objects.all()) == [kept_msg]
    assert list(DigestItem.objects.values_list("digest", "message")) == [(young.id, kept_msg.id)]
    kept_msg.refresh_from_db()
    assert kept_msg.first_digest is None


@pytest.mark.django_db
def test_cost_reports_and_bandwidth_days_past_two_years_go():
    from costs.models import BandwidthCounter, CostReport

    def report(when):
        return CostReport.objects.create(
            created_at=when, actor="t", currency="USD", storage_bytes=0, storage_monthly_usd=0,
            compute_hours=0, compute_monthly_usd=0, bandwidth_bytes=0, bandwidth_monthly_usd=0,
            total_monthly_usd=0, payload={},
        )  # fmt: skip

    report(ago(730, -MINUTE))
    young = report(ago(730, MINUTE))
    BandwidthCounter.objects.create(day=ago(732).date(), bytes=1)
    BandwidthCounter.objects.create(day=ago(729).date(), bytes=2)
    assert prune("cost_reports", "bandwidth_days") == {"cost_reports": 1, "bandwidth_days": 1}
    assert list(CostReport.objects.all()) == [young]
    assert list(BandwidthCounter.objects.values_list("bytes", flat=True)) == [2]


@pytest.mark.django_db
def test_alerts_of_incidents_resolved_over_a_year_ago_go():
    from incidents.models import Alert, Incident, ReceivedAlert

    def incident(resolved_at):
        active = resolved_at is None
        return Incident.objects.create(
            status="open" if active else "resolved", active=active, severity="MEDIUM",
            opened_at=ago(800), opened_by="t", last_seen_at=ago(800), resolved_at=resolved_at,
        )  # fmt: skip

    def alert(inc):
        return Alert.objects.create(
            incident=inc, kind="open", text="x", created_at=ago(800), next_attempt_at=ago(800)
        )

    old, recent, still_open = (
        incident(ago(365, -MINUTE)),
        incident(ago(365, MINUTE)),
        incident(None),
    )
    alert(old)
    kept = [alert(recent), alert(still_open)]
    for name, ends in [("ended", ago(366)), ("recent", ago(1)), ("firing", None)]:
        ReceivedAlert.objects.create(
            fingerprint=name, name=name, ends_at=ends, received_at=ago(800)
        )

    assert prune("incident_alerts", "received_alerts") == {
        "incident_alerts": 1,
        "received_alerts": 1,
    }
    assert sorted(Alert.objects.values_list("id", flat=True)) == [a.id for a in kept]
    assert Incident.objects.count() == 3  # the incidents themselves are kept
    assert sorted(ReceivedAlert.objects.values_list("name", flat=True)) == ["firing", "recent"]


@pytest.mark.django_db
def test_the_timeline_of_incidents_resolved_over_a_year_ago_goes():
    from incidents import selectors
    from incidents.models import Incident, IncidentEvent, IncidentNote

    def incident(resolved_at):
        active = resolved_at is None
        inc = Incident.objects.create(
            status="open" if active else "resolved", active=active, severity="MEDIUM",
            opened_at=ago(800), opened_by="cli", last_seen_at=ago(800), resolved_at=resolved_at,
            resolved_by="" if active else "schedule",
        )  # fmt: skip
        for kind in ("opened", "escalated", "resolved" if resolved_at else "acknowledged"):
            IncidentEvent.objects.create(incident=inc, at=ago(800), kind=kind, text=kind)
        IncidentNote.objects.create(incident=inc, text="why", author="cli", created_at=ago(800))
        return inc

    old, recent, still_open = (
        incident(ago(365, -MINUTE)),
        incident(ago(365, MINUTE)),
        incident(None),
    )
    assert prune("incident_events", "incident_notes") == {"incident_events": 3, "incident_notes": 1}
    left = {recent.id, still_open.id}
    assert set(IncidentEvent.objects.values_list("incident", flat=True)) == left
    assert set(IncidentNote.objects.values_list("incident", flat=True)) == left
    assert IncidentEvent.objects.count() == 6 and IncidentNote.objects.count() == 2
    assert Incident.objects.count() == 3  # the incidents themselves are kept
    # The old incident's timeline still tells when it opened and resolved, and by whom.
    entries = [(e["kind"], e["actor"]) for e in selectors.timeline(old)]
    assert entries == [("opened", "cli"), ("resolved", "schedule")]

    # However old, the timeline of an incident not resolved is never past retention.
    (later,) = retention.prune(dry_run=True, kinds=["incident_events"], now=ago(-4000))
    assert later.rows == 3  # the recent resolved incident's, not the open one's


@pytest.mark.django_db
def test_cancelled_and_failed_flag_schedules_go_applied_and_pending_stay(settings):
    from flags import services
    from flags.models import FlagChange, FlagSchedule

    services.flag_set(key="sched.flag", actor="cli", value=1, type="integer", create=True)
    flag_id = FlagChange.objects.get().flag_id

    def schedule(state, finished):
        return FlagSchedule.objects.create(
            flag_id=flag_id, key="sched.flag", at=ago(800), change={"value": 2},
            state=state, created_by="cli", applied_at=finished,
        ).pk  # fmt: skip

    gone = [schedule("cancelled", ago(365, -MINUTE)), schedule("failed", ago(366))]
    applied = schedule("applied", ago(800))
    services.flag_set(key="sched.flag", actor=f"schedule:{applied}", value=2)
    kept = [
        applied,
        schedule("pending", None),
        schedule("cancelled", ago(365, MINUTE)),
        schedule("failed", ago(2)),
    ]
    FlagChange.objects.update(ts=ago(5000))
    assert prune("flag_schedules") == {"flag_schedules": 2}
    assert sorted(FlagSchedule.objects.values_list("pk", flat=True)) == sorted(kept)
    assert not FlagSchedule.objects.filter(pk__in=gone).exists()

    settings.RETENTION_FLAG_SCHEDULE_DAYS = 1
    assert prune("flag_schedules") == {"flag_schedules": 2}  # finished over a day ago
    assert set(FlagSchedule.objects.values_list("state", flat=True)) == {"applied", "pending"}
    # The change history of the existing flag is whole, and still names its schedule.
    actors = list(FlagChange.objects.filter(key="sched.flag").values_list("actor", flat=True))
    assert len(actors) == 2 and f"schedule:{applied}" in actors
    assert FlagSchedule.objects.filter(pk=applied).exists()


@pytest.mark.django_db
def test_history_of_an_existing_flag_is_never_pruned(settings):
    from flags import services
    from flags.models import FlagChange

    services.flag_set(key="old.flag", actor="cli", value=True, type="boolean", create=True)
    services.flag_set(key="old.flag", actor="cli", value=False)
    FlagChange.objects.update(ts=ago(5000))
    settings.RETENTION_DELETED_FLAG_HISTORY_DAYS = 1
    assert prune("deleted_flag_history") == {"deleted_flag_history": 0}
    assert FlagChange.objects.filter(key="old.flag").count() == 2


@pytest.mark.django_db
def test_oldest_deleted_flag_history_ignores_the_history_of_existing_flags():
    from flags import services
    from flags.models import FlagChange

    kind = retention.REGISTRY["deleted_flag_history"]
    services.flag_set(key="live.flag", actor="cli", value=True, type="boolean", create=True)
    FlagChange.objects.update(ts=ago(5000))
    assert kind.oldest() is None  # only an existing flag's history: nothing this kind prunes
    FlagChange.objects.create(
        flag=None, key="gone.flag", field="value", old=True, new=False, actor="cli",
        source="cli", ts=ago(10),
    )  # fmt: skip
    assert kind.oldest() == ago(10)


@pytest.mark.django_db
def test_flag_usage_hours_past_400_days_go():
    from flags.models import FlagUsage

    def hour(key, days):
        when = ago(days)
        FlagUsage.objects.create(
            key=key, variant="on", reason="STATIC", hour=when, count=1, last_at=when
        )

    hour("gone", 400.01)
    hour("kept", 399.99)
    assert prune("flag_usage") == {"flag_usage": 1}
    assert list(FlagUsage.objects.values_list("key", flat=True)) == ["kept"]


def _experiment(key, status, changed_days_ago):
    from experiments.models import Event, Experiment, Exposure

    exp = Experiment.objects.create(
        key=key, variants=["A", "B"], weights=[1, 1], salt=key, status=status
    )
    Experiment.objects.filter(pk=exp.pk).update(updated_at=ago(changed_days_ago))
    for i in range(3):
        Exposure.objects.create(
            experiment=exp, user=f"u{i}", variant="AB"[i % 2], created_at=ago(900)
        )
        Event.objects.create(
            experiment=exp, user=f"u{i}", variant="AB"[i % 2], event="conversion", value=1.0,
            created_at=ago(900),
        )  # fmt: skip
    return exp


@pytest.mark.django_db
def test_raw_rows_of_experiments_stopped_over_a_year_ago_go():
    from experiments.models import Event, Exposure

    _experiment("gone", "stopped", 365.01)
    recent = _experiment("recent", "stopped", 364.99)
    running = _experiment("running", "running", 900)
    paused = _experiment("paused", "paused", 900)
    assert prune("experiment_exposures", "experiment_events") == {
        "experiment_exposures": 3,
        "experiment_events": 3,
    }
    left = {recent.id, running.id, paused.id}
    assert set(Exposure.objects.values_list("experiment", flat=True)) == left
    assert set(Event.objects.values_list("experiment", flat=True)) == left
    assert Exposure.objects.count() == Event.objects.count() == 9


@pytest.mark.django_db
def test_per_user_totals_of_experiments_stopped_over_a_year_ago_go():
    from experiments import services
    from experiments.models import UserEvent

    gone = _experiment("gone", "stopped", 365.01)
    kept = [
        _experiment("recent", "stopped", 364.99),
        _experiment("running", "running", 900),
        _experiment("paused", "paused", 900),
    ]
    services.recount()  # rows written behind the services' back: build the per-user totals
    assert UserEvent.objects.filter(experiment=gone).count() == 3
    assert prune("experiment_user_events") == {"experiment_user_events": 3}
    assert set(UserEvent.objects.values_list("experiment", flat=True)) == {e.id for e in kept}
    assert UserEvent.objects.count() == 9


@pytest.mark.django_db
def test_results_of_an_old_experiment_still_answer_after_prune():
    from experiments import selectors, services

    _experiment("old_test", "stopped", 400)
    services.recount(key="old_test")  # rows written behind the services' back: aggregate them
    before = selectors.results(experiment="old_test")
    prune("experiment_exposures", "experiment_events", "experiment_user_events")
    assert selectors.results(experiment="old_test") == before
    assert before["variants"][0]["users"] == 2


@pytest.mark.django_db
def test_prune_deletes_in_batches_and_the_dry_run_deletes_nothing(monkeypatch, log_dir):
    def task(i):
        when = ago(40)
        return Task(id=f"{i:032}", name=f"t{i}", func="f", started=when, stopped=when, success=True)

    Task.objects.bulk_create([task(i) for i in range(25)])
    kind = retention.REGISTRY["task_records"]
    monkeypatch.setitem(
        retention.REGISTRY, "task_records", retention.Kind(**{**vars(kind), "batch": 10})
    )

    out = StringIO()
    call_command("prune", "--dry-run", "--kind", "task_records", stdout=out)
    assert "task_records: would delete 25 " in out.getvalue()
    assert Task.objects.count() == 25

    out = StringIO()
    call_command("prune", "--kind", "task_records", stdout=out)
    assert "task_records: deleted 25 " in out.getvalue()
    assert Task.objects.count() == 0
    (line,) = read_ndjson(log_dir, "retention")
    assert line["type"] == "prune" and line["kinds"][0]["rows"] == 25


@pytest.mark.django_db
def test_status_shows_the_oldest_record_of_each_kind(api):
    from costs.models import BandwidthCounter

    BandwidthCounter.objects.create(day=dt.date(2026, 1, 2), bytes=1)
    part = api.get("/api/status").json()["components"]["retention"]
    assert part["status"] == "ok"
    assert part["kinds"]["bandwidth_days"] == {
        "oldest_iso": "2026-01-02T00:00:00Z",
        "keep_days": 730,
    }
    assert part["kinds"]["digests"] == {"oldest_iso": None, "keep_days": 180}
    for kind in ("flag_schedules", "incident_events", "incident_notes", "experiment_user_events"):
        assert part["kinds"][kind] == {"oldest_iso": None, "keep_days": 365}, kind


@pytest.mark.django_db
def test_status_shows_the_oldest_timeline_entry_and_user_total(api):
    from experiments import services
    from incidents.models import Incident, IncidentEvent

    inc = Incident.objects.create(
        status="open", active=True, severity="MEDIUM", opened_at=ago(3), opened_by="t",
        last_seen_at=ago(3),
    )  # fmt: skip
    IncidentEvent.objects.create(
        incident=inc, at=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), kind="escalated", text="x"
    )
    exp = _experiment("status_exp", "running", 1)
    exp.events.update(created_at=dt.datetime(2026, 1, 3, 12, tzinfo=dt.UTC))
    services.recount(key="status_exp")
    kinds = api.get("/api/status").json()["components"]["retention"]["kinds"]
    assert kinds["incident_events"]["oldest_iso"] == "2026-01-02T03:04:05Z"
    assert kinds["experiment_user_events"]["oldest_iso"] == "2026-01-03T00:00:00Z"


@pytest.mark.parametrize("value", [0, -5, 40000])
def test_retention_days_out_of_range_is_a_check_error(settings, value):
    settings.RETENTION_DIGEST_DAYS = value
    ids = [m.id for m in run_checks()]
    assert "echopilot.E101" in ids


@pytest.mark.parametrize(
    "name, value, check_id",
    [("LOG_MAX_MB", 0, "echopilot.E102"), ("LOG_KEEP", -1, "echopilot.E103"),
     ("BACKUP_KEEP", 0, "echopilot.E104")],
)  # fmt: skip
def test_lifecycle_numbers_out_of_range_are_check_errors(settings, name, value, check_id):
    setattr(settings, name, value)
    assert check_id in [m.id for m in run_checks()]


def test_a_kind_whose_setting_is_not_defined_uses_its_default(monkeypatch):
    kind = retention.Kind(
        "demo", "RETENTION_DEMO_DAYS", 12, lambda c: Task.objects.none(), lambda: None
    )
    monkeypatch.setitem(retention.REGISTRY, "demo", kind)
    assert retention.keep_days(kind) == 12
    assert "echopilot.E101" not in [m.id for m in run_checks()]


@pytest.mark.django_db
def test_the_daily_prune_task_prunes_every_kind():
    from echopilot import tasks

    when = ago(40)
    Task.objects.create(id="x" * 32, name="t", func="f", started=when, stopped=when, success=True)
    result = tasks.prune()
    assert result["ok"] is True and result["deleted"]["task_records"] == 1
    assert set(result["deleted"]) == set(retention.REGISTRY)
