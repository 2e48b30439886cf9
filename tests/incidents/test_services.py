"""An incident's life against a real HTTP server standing in for the Bot API."""

import datetime as dt

import pytest

from incidents import services
from incidents.models import Alert, Incident, Silence
from tests.conftest import read_ndjson
from tests.incidents.conftest import BOT_TOKEN, CHAT_ID, START

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_costs")]


@pytest.fixture
def scan(scan):
    """Run one scan as the CLI does (the conftest's scan, another actor)."""
    return lambda: scan(actor="cli")


def test_seed_contract_and_one_message_for_a_new_incident(scan, bot, signals, settings):
    settings.BASE_URL = "https://ops.example.test/"
    signals.slo(1500, 0.96)
    signals.payout(2, 1)
    signals.ops("high_cpu")
    result = scan()
    assert result["ok"] is True
    assert result["breach"] is True
    assert result["incident_count"] == 3
    assert result["details"] == [
        "SLO breach: P95=1500ms, Success=0.96",
        "Payout issues: 2 missing, 1 mismatched",
        "System warnings: high_cpu",
    ]
    assert result["severity"] == "HIGH"
    assert result["dry_run"] is False
    assert result["alerted"] is True
    assert result["alert"]["status"] == "delivered"
    incident = Incident.objects.get()
    assert result["incident_id"] == incident.pk and incident.status == "open"

    assert len(bot.requests) == 1
    request = bot.requests[0]
    assert request["path"] == f"/bot{BOT_TOKEN}/sendMessage"
    assert request["body"]["chat_id"] == CHAT_ID
    text = request["body"]["text"]
    assert text.startswith(
        "🚨 EchoPilot Incident Detected\n\n"
        "• SLO breach: P95=1500ms, Success=0.96\n"
        "• Payout issues: 2 missing, 1 mismatched\n"
        "• System warnings: high_cpu\n"
    )
    assert "Severity: HIGH" in text
    assert f"https://ops.example.test/admin/incidents/incident/{incident.pk}/change/" in text


def test_same_problems_send_nothing_new_key_alerts_once(scan, bot, signals, clock):
    signals.slo()
    scan()
    clock.advance(minutes=5)
    again = scan()
    assert again["alerted"] is False and len(bot.requests) == 1
    assert Incident.objects.get().last_seen_at == clock()

    clock.advance(minutes=5)
    signals.payout(1, 0)
    grown = scan()
    assert grown["alerted"] is True and grown["alert"]["kind"] == "new_issue"
    assert len(bot.requests) == 2
    assert "• Payout issues: 1 missing, 0 mismatched (new)" in bot.texts[1]
    assert "🚨 EchoPilot Incident Update: new issue" in bot.texts[1]

    clock.advance(minutes=5)
    scan()
    assert len(bot.requests) == 2
    assert Incident.objects.count() == 1


def test_partial_recovery_sends_nothing(scan, bot, signals, clock):
    signals.slo()
    signals.payout()
    scan()
    signals.payout(0, 0)
    clock.advance(minutes=5)
    result = scan()
    assert result["alerted"] is False and len(bot.requests) == 1
    assert Incident.objects.get().details == ["SLO breach: P95=1500ms, Success=0.96"]


def test_severity_rise_escalates(scan, bot, signals, clock):
    signals.slo()
    signals.payout()
    first = scan()
    assert first["severity"] == "MEDIUM" and len(bot.requests) == 1
    # a third issue appears, silenced: the incident is HIGH, but the on-call chat
    # is told about unsilenced issues only, so nothing escalates
    services.create_silence(key="alert:db_down", until=clock() + dt.timedelta(minutes=7), actor="t")
    signals.alerts("db_down")
    clock.advance(minutes=5)
    muted = scan()
    assert muted["severity"] == "HIGH" and muted["alerted"] is False
    assert len(bot.requests) == 1
    # the silence ends: three unsilenced issues, severity rose above MEDIUM
    clock.advance(minutes=5)
    result = scan()
    assert result["alert"]["kind"] == "escalation"
    assert bot.texts[1].startswith("🚨 EchoPilot Incident Escalated")
    assert "• Production alert: db_down (new)" in bot.texts[1]
    assert "Severity: HIGH" in bot.texts[1]
    clock.advance(minutes=5)
    assert scan()["alerted"] is False  # HIGH already announced


def test_key_that_vanishes_and_returns_alerts_again(scan, bot, signals, clock):
    signals.slo()
    signals.payout()
    scan()
    signals.payout(0, 0)  # partial recovery: nothing sent
    clock.advance(minutes=5)
    assert scan()["alerted"] is False
    assert Incident.objects.get().alerted_keys == ["slo"]
    signals.payout(3, 0)  # back: a key the incident did not have at its last scan
    clock.advance(minutes=5)
    back = scan()
    assert back["alert"]["kind"] == "new_issue"
    assert "• Payout issues: 3 missing, 0 mismatched (new)" in bot.texts[1]
    assert len(bot.requests) == 2


def test_severity_high_medium_high_alerts_again(scan, bot, signals, clock):
    signals.slo()
    signals.payout()
    signals.alerts("db_down")
    assert scan()["severity"] == "HIGH"
    signals.alerts()  # HIGH -> MEDIUM: fewer problems, nothing sent
    clock.advance(minutes=5)
    lower = scan()
    assert lower["severity"] == "MEDIUM" and lower["alerted"] is False
    assert Incident.objects.get().alerted_severity == "MEDIUM"
    signals.alerts("db_down")  # MEDIUM -> HIGH again
    clock.advance(minutes=5)
    again = scan()
    assert again["alert"]["kind"] == "escalation"
    assert bot.texts[1].startswith("🚨 EchoPilot Incident Escalated")
    assert len(bot.requests) == 2
    clock.advance(minutes=5)
    assert scan()["alerted"] is False


def test_acknowledged_incident_alerts_for_a_returning_key(scan, bot, signals, clock, settings):
    settings.INCIDENT_REPEAT_MINUTES = 10
    signals.slo()
    signals.payout()
    opened = scan()
    services.acknowledge(incident_id=opened["incident_id"], actor="cli")
    signals.payout(0, 0)
    clock.advance(minutes=30)
    assert scan()["alerted"] is False  # fewer problems and no repeats when acknowledged
    signals.payout()
    clock.advance(minutes=5)
    assert scan()["alert"]["kind"] == "new_issue"
    clock.advance(minutes=30)
    assert scan()["alerted"] is False
    assert len(bot.requests) == 2


def test_resolved_message_after_the_announced_keys_vanished(scan, bot, signals, clock):
    signals.slo()
    scan()
    # slo recovers while a silenced issue remains: the incident stays open
    services.create_silence(key="payout", until=clock() + dt.timedelta(hours=1), actor="t")
    signals.payout()
    signals.slo(420, 0.999)
    clock.advance(minutes=5)
    assert scan()["alerted"] is False
    signals.payout(0, 0)
    clock.advance(minutes=5)
    done = scan()
    assert done["incident_status"] == "resolved" and done["alert"]["kind"] == "resolved"
    assert bot.texts[-1].startswith("✅ Resolved")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INCIDENT_REPEAT_MINUTES", float("inf")),
        ("INCIDENT_REPEAT_MINUTES", 1e12),
        ("INCIDENT_REPEAT_MINUTES", float("nan")),
        ("OPS_WARNING_WINDOW_MINUTES", float("inf")),
        ("OPS_WARNING_WINDOW_MINUTES", 1e12),
        ("TELEGRAM_TIMEOUT", float("inf")),
    ],
)
def test_scan_survives_settings_out_of_range(scan, bot, signals, clock, settings, name, value):
    setattr(settings, name, value)
    signals.slo()
    signals.ops("high_cpu")
    first = scan()
    assert first["alert"]["status"] == "delivered"
    assert first["sources"]["ops"]["status"] == "ok"
    assert first["details"][1] == "System warnings: high_cpu"
    clock.advance(days=400)
    signals.ops("high_cpu")
    later = scan()  # a repeat interval of "forever" is at most a year
    assert later["ok"] is True and later["sources"]["ops"]["status"] == "ok"


def test_silenced_keys_are_announced_when_the_silence_ends(scan, bot, signals, clock):
    signals.slo()
    signals.payout()
    signals.alerts("db_down")
    # all three are known, but silenced keys are not announced: only slo is
    Silence.objects.create(
        key="payout", until=clock() + dt.timedelta(minutes=1), created_at=clock(), created_by="t"
    )
    Silence.objects.create(
        key="alert", until=clock() + dt.timedelta(minutes=1), created_at=clock(), created_by="t"
    )
    first = scan()
    assert first["severity"] == "HIGH" and first["alert"]["kind"] == "open"
    assert first["issues"][1]["silenced"] is True
    assert "• Payout issues: 2 missing, 1 mismatched (silenced)" in bot.texts[0]
    assert "• Production alert: db_down (silenced)" in bot.texts[0]
    # silences end: the muted keys are announced now
    clock.advance(minutes=5)
    resumed = scan()
    assert resumed["alert"]["kind"] == "new_issue"
    assert len(bot.requests) == 2


def test_repeat_after_the_interval_unless_acknowledged(scan, bot, signals, clock, settings):
    settings.INCIDENT_REPEAT_MINUTES = 60
    signals.slo()
    scan()
    clock.advance(minutes=59)
    assert scan()["alerted"] is False
    clock.advance(minutes=1)
    repeat = scan()
    assert repeat["alert"]["kind"] == "repeat"
    assert bot.texts[1].startswith("🔁 EchoPilot Incident Still Open")
    assert "Open for 1h 00m, not acknowledged" in bot.texts[1]
    clock.advance(minutes=30)
    assert scan()["alerted"] is False  # the interval restarts at the repeat

    services.acknowledge(incident_id=repeat["incident_id"], actor="cli")
    clock.advance(minutes=120)
    assert scan()["alerted"] is False
    assert len(bot.requests) == 2
    # a new key still alerts while acknowledged
    signals.payout()
    assert scan()["alert"]["kind"] == "new_issue"
    assert len(bot.requests) == 3
    assert Incident.objects.get().status == "acknowledged"


def test_resolved_message_with_duration_then_a_new_episode(scan, bot, signals, clock):
    signals.slo()
    opened = scan()
    clock.advance(minutes=65)
    signals.healthy()
    result = scan()
    assert result["breach"] is False and result["incident_count"] == 0
    assert result["incident_status"] == "resolved"
    assert result["alert"]["kind"] == "resolved"
    assert bot.texts[1].startswith(f"✅ Resolved: EchoPilot Incident #{opened['incident_id']}")
    assert "Lasted 1h 05m." in bot.texts[1]
    incident = Incident.objects.get()
    assert incident.resolved_by == "cli" and incident.active is False

    clock.advance(minutes=5)
    assert scan()["alerted"] is False  # still healthy: nothing
    clock.advance(minutes=26)  # past INCIDENT_FLAP_MINUTES (30): not a flap
    signals.slo()
    again = scan()
    assert again["incident_id"] != opened["incident_id"]
    assert again["alert"]["kind"] == "open"
    assert len(bot.requests) == 3


def test_unreadable_source_does_not_resolve(scan, bot, signals, clock):
    signals.slo()
    scan()
    signals.write("slo_report.json", '{"p95_ms": 1500, "succ')
    clock.advance(minutes=5)
    result = scan()
    assert result["breach"] is False
    assert result["sources"]["slo"]["status"] == "invalid"
    assert result["incident_status"] == "open"
    assert "slo" in result["resolve_blocked"]
    assert len(bot.requests) == 1


def test_manual_resolve_and_acknowledge_record_who(scan, committed, bot, signals):
    signals.slo()
    opened = scan()
    with committed():
        ack = services.acknowledge(incident_id=opened["incident_id"], actor="api:k_1")
    assert ack["changed"] is True and ack["incident"]["acknowledged_by"] == "api:k_1"
    with committed():
        again = services.acknowledge(incident_id=opened["incident_id"], actor="cli")
    assert again["changed"] is False
    with committed():
        done = services.resolve(incident_id=opened["incident_id"], actor="admin:alice")
    assert done["incident"]["status"] == "resolved"
    assert done["incident"]["resolved_by"] == "admin:alice"
    assert "Resolved by admin:alice." in bot.texts[-1]
    with pytest.raises(services.IncidentConflict, match="Incident .* is already resolved"):
        services.acknowledge(incident_id=opened["incident_id"], actor="cli")
    with pytest.raises(services.IncidentNotFound, match="No incident with id 999"):
        services.resolve(incident_id=999, actor="cli")
    kinds = [line["type"] for line in ndjson_lines()]
    assert kinds.count("incident_acknowledged") == 1 and kinds.count("incident_resolved") == 1
    assert kinds.index("incident_acknowledged") < kinds.index("incident_resolved")


def ndjson_lines():
    from django.conf import settings

    return read_ndjson(settings.LOG_DIR, "incidents")


def test_dry_run_without_credentials(scan, signals, log_dir):
    signals.slo()
    result = scan()
    assert result["dry_run"] is True
    assert result["alerted"] is True
    assert result["alert"]["status"] == "dry_run"
    assert Alert.objects.get().status == "dry_run"
    lines = read_ndjson(log_dir, "incidents")
    types = [line["type"] for line in lines]
    assert types == ["incident_opened", "alert_queued", "scan"]
    assert lines[1]["text"].startswith("🚨 EchoPilot Incident Detected")
    assert lines[2]["details"] == ["SLO breach: P95=1500ms, Success=0.96"]


def test_every_scan_is_logged_even_healthy(scan, signals, log_dir):
    signals.healthy()
    scan()
    scan()
    assert [line["type"] for line in read_ndjson(log_dir, "incidents")] == ["scan", "scan"]


def test_silence_mutes_then_alerting_resumes(scan, bot, signals, clock):
    services.create_silence(
        key="ops:high_cpu", until=clock() + dt.timedelta(minutes=30), reason="deploy", actor="cli"
    )
    signals.ops("high_cpu")
    result = scan()
    assert result["breach"] is True and result["incident_count"] == 1
    assert result["issues"][0]["silenced"] is True
    assert result["alerted"] is False and bot.requests == []
    assert Incident.objects.get().silenced_keys == ["ops:high_cpu"]

    clock.advance(minutes=31)
    signals.ops("high_cpu")
    resumed = scan()
    assert resumed["alert"]["kind"] == "open"
    assert len(bot.requests) == 1 and "(silenced)" not in bot.texts[0]


def test_silence_validation(clock):
    with pytest.raises(services.SilenceInvalid, match="Unknown issue key 'nonsense'") as bad_key:
        services.create_silence(key="nonsense", until=clock() + dt.timedelta(1), actor="cli")
    assert bad_key.value.field == "key" and bad_key.value.code == "invalid"
    with pytest.raises(services.SilenceInvalid, match="must be in the future") as past:
        services.create_silence(key="slo", until=clock() - dt.timedelta(1), actor="cli")
    assert past.value.field == "until"
    assert not Silence.objects.exists()


@pytest.mark.parametrize("minutes", [0, -5, float("nan"), float("inf"), 3650 * 24 * 60 + 1])
def test_silence_minutes_out_of_range_are_refused(clock, minutes):
    with pytest.raises(services.SilenceInvalid, match="at most 5256000") as refused:
        services.silence_until(minutes=minutes, now=clock())
    assert refused.value.field == "minutes"


def test_silence_minutes_longest_allowed(clock):
    until = services.silence_until(minutes=3650 * 24 * 60, now=clock())
    assert until == START + dt.timedelta(days=3650)
    assert services.create_silence(key="slo", until=until, actor="cli")["ok"] is True


def test_expire_silence_ends_it_once(committed, clock, log_dir):
    with committed():
        created = services.create_silence(
            key="slo", until=clock() + dt.timedelta(hours=1), actor="cli"
        )
    clock.advance(minutes=10)
    with committed():
        ended = services.expire_silence(silence_id=created["silence"]["id"], actor="cli")
    assert ended["silence"]["until"] == "2026-01-05T12:10:00Z"
    clock.advance(minutes=10)
    with committed():
        again = services.expire_silence(silence_id=created["silence"]["id"], actor="cli")
    assert again["silence"]["until"] == "2026-01-05T12:10:00Z"  # already ended: unchanged
    types = [line["type"] for line in read_ndjson(log_dir, "incidents")]
    assert types == ["silence_created", "silence_expired"]
    with pytest.raises(services.SilenceNotFound, match="No silence with id 999") as missing:
        services.expire_silence(silence_id=999, actor="cli")
    assert missing.value.code == "not_found"


@pytest.mark.parametrize(
    "until",
    [
        dt.datetime.fromisoformat("9999-12-31T23:59:59-05:00"),
        dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
        START + dt.timedelta(days=3651),
    ],
)
def test_silence_too_far_ahead_is_refused(clock, until):
    with pytest.raises(services.SilenceInvalid, match="at most 3650 days ahead"):
        services.create_silence(key="slo", until=until, actor="cli")
    assert not Silence.objects.exists()


def test_silence_with_an_offset_is_stored_in_utc(clock):
    until = dt.datetime.fromisoformat("2026-01-05T10:00:00-05:00")
    result = services.create_silence(key="slo", until=until, actor="cli")
    assert result["silence"]["until"] == "2026-01-05T15:00:00Z"
    assert Silence.objects.get().until == dt.datetime(2026, 1, 5, 15, tzinfo=dt.UTC)


def test_fully_silenced_incident_resolves_quietly(scan, bot, signals, clock):
    services.create_silence(key="slo", until=clock() + dt.timedelta(hours=1), actor="cli")
    signals.slo()
    scan()
    signals.healthy()
    result = scan()
    assert result["incident_status"] == "resolved" and result["alert"] is None
    assert bot.requests == []


def test_long_message_is_cut_not_rejected(scan, bot, signals):
    names = [f"alert_{'x' * 60}_{i}" for i in range(120)]
    signals.alerts(*names)
    result = scan()
    assert result["alert"]["status"] == "delivered"
    text = bot.texts[0]
    assert len(text.encode("utf-16-le")) // 2 <= 4096
    assert "(message cut:" in text


def test_one_active_incident_is_a_database_constraint(clock):
    from django.db import IntegrityError, transaction

    fields = dict(severity="MEDIUM", opened_at=clock(), opened_by="t", last_seen_at=clock())
    Incident.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.create(**fields)
    Incident.objects.create(status="resolved", active=False, **fields)
    assert Incident.objects.count() == 2
