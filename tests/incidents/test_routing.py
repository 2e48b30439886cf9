"""Flapping, notes and the timeline, the issue-key cap, runbooks, and the config checks."""

import json
import re
from pathlib import Path

import pytest

from echopilot import channels
from echopilot.channels import checks
from incidents import selectors, services
from incidents.models import Alert, Incident

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_costs")]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "incidents.md"


def flap(scan, signals, clock, *, down=5, up=5):
    """Recover, then the SLO breach comes back `up` minutes later."""
    signals.healthy()
    clock.advance(minutes=down)
    resolved = scan()
    assert resolved["incident_status"] == "resolved"
    clock.advance(minutes=up)
    signals.slo()
    return scan()


def test_a_flap_reopens_the_same_incident_with_one_reopened_alert_per_window(
    scan, bot, signals, clock, api
):
    signals.slo()
    first = scan()
    again = flap(scan, signals, clock)
    assert again["incident_id"] == first["incident_id"]
    assert again["incident_status"] == "open" and again["alert"]["kind"] == "reopened"
    assert Incident.objects.count() == 1
    assert bot.texts[-1].startswith("🔁 EchoPilot Incident Reopened")
    third = flap(scan, signals, clock)  # within 30 min of the last reopened alert
    assert third["incident_id"] == first["incident_id"] and third["alerted"] is False
    kinds = list(Alert.objects.values_list("kind", flat=True))
    assert kinds == ["open", "resolved", "reopened", "resolved"]
    assert "open" not in kinds[1:]
    incident = Incident.objects.get()
    assert (incident.reopen_count, incident.flapping) == (2, False)
    flap(scan, signals, clock)
    body = api.get(f"/api/incidents/{first['incident_id']}").json()["incident"]
    assert body["reopen_count"] == 3 and body["flapping"] is True
    assert [e["kind"] for e in body["timeline"]].count("reopened") == 3
    assert "flapping" in [e["kind"] for e in body["timeline"]]


def test_issues_back_after_the_flap_window_open_a_new_incident(scan, bot, signals, clock):
    signals.slo()
    first = scan()
    later = flap(scan, signals, clock, up=31)
    assert later["incident_id"] != first["incident_id"] and later["alert"]["kind"] == "open"


def test_a_manual_resolve_does_not_flap(scan, bot, signals, clock):
    signals.slo()
    first = scan()
    services.resolve(incident_id=first["incident_id"], actor="cli")
    clock.advance(minutes=5)
    assert scan()["incident_id"] != first["incident_id"]


def test_notes_and_the_timeline_come_back_in_order(scan, bot, signals, clock, api):
    signals.slo()
    incident_id = scan()["incident_id"]
    clock.advance(minutes=2)
    answer = api.post(
        f"/api/incidents/{incident_id}/notes", {"text": "  looking at the DB  "}, format="json"
    )
    assert answer.status_code == 201
    assert answer.json()["note"]["text"] == "looking at the DB"
    clock.advance(minutes=1)
    ack = api.post(f"/api/incidents/{incident_id}/ack", {"note": "mine"}, format="json")
    assert ack.status_code == 200
    clock.advance(minutes=5)
    assert api.post(f"/api/incidents/{incident_id}/resolve").status_code == 200
    body = api.get(f"/api/incidents/{incident_id}").json()
    incident = body["incident"]
    assert incident["id"] == incident_id and incident["acknowledged_by"].startswith("api:")
    kinds = [(e["kind"], e.get("channel")) for e in incident["timeline"]]
    assert kinds == [
        ("opened", None),
        ("alert", "telegram"),
        ("note", None),
        ("acknowledged", None),
        ("note", None),
        ("resolved", None),
        ("alert", "telegram"),
    ]
    times = [e["at"] for e in incident["timeline"]]
    assert times == sorted(times)
    alert = incident["timeline"][1]
    assert (alert["status"], alert["attempts"], alert["alert_kind"]) == ("delivered", 1, "open")
    assert alert["delivered_at"] is not None


@pytest.mark.parametrize(
    "path, body, status, code",
    [
        ("/api/incidents/999999/notes", {"text": "x"}, 404, "unknown_incident"),
        ("/api/incidents/{id}/notes", {"text": ""}, 400, "invalid"),
        ("/api/incidents/{id}/notes", {"text": "x" * 2001}, 400, "invalid"),
        ("/api/incidents/{id}/notes", {"text": 5}, 400, "invalid"),
        ("/api/incidents/{id}/notes", {"text": "x", "extra": 1}, 400, "invalid"),
        ("/api/incidents/{id}/ack", {"note": ["x"]}, 400, "invalid"),
    ],
)
def test_bad_notes_are_refused_and_change_nothing(scan, signals, api, path, body, status, code):
    signals.slo()
    incident_id = scan()["incident_id"]
    answer = api.post(path.format(id=incident_id), body, format="json")
    assert answer.status_code == status and answer.json()["error"] == code
    assert not Incident.objects.get().notes.exists()
    assert Incident.objects.get().status == "open"


def test_an_unknown_incident_is_404(api):
    answer = api.get("/api/incidents/999999")
    assert answer.status_code == 404 and answer.json()["error"] == "unknown_incident"


def test_an_incident_keeps_at_most_200_issue_keys(scan, signals, api):
    signals.alerts(*[f"alert_{n:03d}" for n in range(250)])
    result = scan()
    incident = Incident.objects.get(pk=result["incident_id"])
    assert len(incident.issue_keys) == 200 and incident.issue_keys_omitted == 50
    assert len(result["details"]) == 200
    body = api.get(f"/api/incidents/{incident.pk}").json()["incident"]
    assert body["issue_keys_omitted"] == 50 and len(body["issue_keys"]) == 200


def test_runbooks_by_key_prefix_show_in_the_api(scan, channel_config, signals, api):
    channel_config(
        {
            "channels": {},
            "runbooks": {
                "slo": "https://runbooks.example.com/slo",
                "alert:*": "https://runbooks.example.com/alerts",
                "payout": "https://runbooks.example.com/payout",
            },
        }
    )
    signals.slo()
    signals.alerts("api_5xx_rate")
    incident_id = scan()["incident_id"]
    runbooks = api.get(f"/api/incidents/{incident_id}").json()["incident"]["runbooks"]
    assert runbooks == [
        {"pattern": "slo", "url": "https://runbooks.example.com/slo"},
        {"pattern": "alert:*", "url": "https://runbooks.example.com/alerts"},
    ]


BAD = [
    (
        {
            "channels": {"a": {"type": "email", "to": ["x@example.com"]}},
            "routes": [{"channels": ["nope"]}],
        },
        "channels.E001",
        "route 1 names unknown channel 'nope'",
    ),
    (
        {"channels": {}, "routes": [{"match": {"severity": "HIGH"}}]},
        "channels.E002",
        "route 1 has no channels",
    ),
    (
        {
            "channels": {"a": {"type": "email", "to": ["x@example.com"]}},
            "routes": [
                {
                    "tiers": [
                        {"after_minutes": 15, "channels": ["a"]},
                        {"after_minutes": 5, "channels": ["a"]},
                    ]
                }
            ],
        },
        "channels.E003",
        "tiers out of order",
    ),
    (
        {"channels": {"h": {"type": "webhook", "url": "ftp://x.example.com", "secret_env": "S"}}},
        "channels.E004",
        "channel 'h': the URL is not http(s)",
    ),
    (
        {"channels": {"s": {"type": "slack", "url_env": "NO_SUCH_VARIABLE_FOR_TESTS"}}},
        "channels.E005",
        "environment variable NO_SUCH_VARIABLE_FOR_TESTS is not set",
    ),
    ('{"channels": ', "channels.E006", "invalid JSON"),
    (
        {"channels": {"s": {"type": "slack", "url": "https://hooks.slack.com/services/T/B/X"}}},
        "channels.E007",
        "channel 's': a Slack URL is a secret; name its variable in url_env",
    ),
]


@pytest.mark.parametrize("doc, check_id, text", BAD, ids=[b[1] for b in BAD])
def test_bad_config_is_a_system_check_error_naming_the_problem(
    channel_config, doc, check_id, text, monkeypatch, scan, signals
):
    monkeypatch.setenv("S", "secret-value")
    channel_config(doc)
    errors = checks.channel_config()
    assert any(e.id == check_id and text in e.msg for e in errors), errors
    signals.slo()
    assert scan()["ok"] is True  # never a crash in a scan


def test_the_docs_example_config_loads_without_problems(channel_config, settings):
    text = DOCS.read_text()
    block = re.search(r"```json configs/incidents.json\n(.*?)```", text, re.S)
    assert block, "docs/incidents.md shows configs/incidents.json"
    doc = json.loads(block.group(1))
    env = {
        "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/X",
        "OPS_WEBHOOK_URL": "https://hooks.example.com/echopilot",
        "OPS_WEBHOOK_SECRET": "s3cret-value",
    }
    settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_CHAT_ID = "1:abc", "-1001234567"
    channel_config(doc, **env)
    conf = channels.load()
    assert conf.problems == []
    assert len(conf.routes) == 2 and any(len(r.tiers) == 2 for r in conf.routes)


def test_the_docs_routes_test_output_is_what_the_command_prints(channel_config, settings):
    from io import StringIO

    from django.core.management import call_command

    text = DOCS.read_text()
    config = re.search(r"```json configs/incidents.json\n(.*?)```", text, re.S)
    shown = re.search(r"```sh routes --test\n\S+ manage.py (.*?)\n(.*?)```", text, re.S)
    assert config and shown, "docs/incidents.md shows the config and a routes --test run"
    settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_CHAT_ID = "1:abc", "-1001234567"
    channel_config(
        json.loads(config.group(1)),
        SLACK_WEBHOOK_URL="https://hooks.slack.com/services/T/B/X",
        OPS_WEBHOOK_URL="https://hooks.example.com/echopilot",
        OPS_WEBHOOK_SECRET="s3cret-value",
    )
    out = StringIO()
    call_command(*shown.group(1).split(), stdout=out)
    assert out.getvalue() == shown.group(2)


def test_the_timeline_shows_the_silences_that_applied(scan, bot, signals, clock):
    import datetime as dt

    services.create_silence(
        key="payout", until=clock() + dt.timedelta(hours=2), reason="recon rerun", actor="cli"
    )
    signals.slo()
    signals.payout()
    incident = Incident.objects.get(pk=scan()["incident_id"])
    clock.advance(minutes=5)
    scan()  # still silenced: not listed twice
    entries = [e for e in selectors.timeline(incident) if e["kind"] == "silenced"]
    assert len(entries) == 1
    assert entries[0]["text"] == "payout silenced by cli until 2026-01-05 14:00 UTC (recon rerun)."


def test_start_up_checks_fail_clearly_on_a_bad_config(channel_config):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    channel_config({"channels": {}, "routes": [{"channels": ["chat"]}]})
    with pytest.raises(SystemCheckError) as failure:
        call_command("check")
    assert "channels.E001" in str(failure.value)
    assert "route 1 names unknown channel 'chat'" in str(failure.value)


@pytest.mark.parametrize("extra", [{}, {"url_env": "TEST_SLACK_URL"}])
def test_an_inline_slack_url_is_refused_and_never_echoed(channel_config, extra):
    inline = "https://hooks.slack.com/services/T000/B000/inline-secret"
    channel_config(
        {"channels": {"chat": {"type": "slack", "url": inline, **extra}}},
        TEST_SLACK_URL="https://hooks.slack.com/services/T/B/from-env",
    )
    conf = channels.load()
    assert "chat" not in conf.channels  # not used until the file names a variable
    errors = checks.channel_config()
    assert [e.id for e in errors] == ["channels.E007"]
    assert inline not in errors[0].msg and "inline-secret" not in errors[0].msg
