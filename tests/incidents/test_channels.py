"""Channels: Slack, signed webhooks and e-mail to real loopback servers, each with its
own delivery state; routes, escalation tiers, runbooks, and the secrets kept out."""

import hashlib
import hmac
import json
import time
from io import StringIO

import pytest
from django.core.management import call_command

from incidents import services
from incidents.models import Alert, Delivery, Incident
from tests.incidents.conftest import HOOK_SECRET

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_costs")]


@pytest.fixture
def call():
    def run(*args):
        out, err = StringIO(), StringIO()
        call_command(*args, stdout=out, stderr=err)
        return out.getvalue() + err.getvalue()

    return run


def breach_high(signals):
    signals.slo()
    signals.payout()
    signals.alerts("api_5xx_rate")


def verify(secret: str, headers: dict, raw: bytes, *, now: float) -> bool:
    """A receiver's check, written independently: HMAC of "<ts>.<body>", 5-minute window."""
    timestamp = headers.get("X-EchoPilot-Timestamp", "")
    given = headers.get("X-EchoPilot-Signature", "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > 300:
        return False  # a replay (or a clock far off): refused
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given, f"sha256={mac}")


def test_a_high_breach_reaches_slack_the_webhook_and_email_once_each(
    scan, three_channels, signals, clock, settings
):
    slack, hook, smtp = three_channels
    settings.BASE_URL = "https://ops.example.com"
    breach_high(signals)
    result = scan()
    assert result["severity"] == "HIGH" and result["alert"]["status"] == "delivered"
    assert result["delivered"] == 3
    clock.advance(minutes=5)
    assert scan()["delivered"] == 0  # nothing new: nobody hears it twice
    assert len(slack.requests) == len(hook.requests) == len(smtp.raw) == 1

    text = slack.json()["text"]
    assert text.startswith("🚨 EchoPilot Incident Detected")
    assert "Severity: HIGH" in text and "• SLO breach: P95=1500ms, Success=0.96" in text
    incident_id = result["incident_id"]
    assert f"https://ops.example.com/admin/incidents/incident/{incident_id}/change/" in text
    assert "Runbook (slo): https://runbooks.example.com/slo" in text

    request = hook.requests[0]
    assert verify(HOOK_SECRET, request["headers"], request["raw"], now=time.time())
    body = json.loads(request["raw"])
    assert body["kind"] == "opened" and body["incident"]["id"] == incident_id
    assert body["incident"]["severity"] == "HIGH" and "timeline" not in body["incident"]
    assert request["headers"]["X-EchoPilot-Delivery"].endswith("-hooks")

    mail = smtp.messages[0]
    assert mail["To"] == "oncall@example.com"
    assert mail["Subject"] == "🚨 EchoPilot Incident Detected"
    assert "Severity: HIGH" in mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "SLO breach" in html and 'href="https://runbooks.example.com/slo"' in html

    deliveries = Delivery.objects.filter(alert__kind="open")
    assert {(d.channel, d.status, d.attempts) for d in deliveries} == {
        ("chat", "delivered", 1),
        ("hooks", "delivered", 1),
        ("oncall", "delivered", 1),
    }


def test_the_signature_is_checkable_and_a_replay_is_refused(scan, three_channels, signals):
    _, hook, _ = three_channels
    signals.slo()
    scan()
    request = hook.requests[0]
    sent_at = int(request["headers"]["X-EchoPilot-Timestamp"])
    assert abs(sent_at - time.time()) < 60  # Unix seconds, now
    assert verify(HOOK_SECRET, request["headers"], request["raw"], now=sent_at + 10)
    # The same request replayed 6 minutes later: refused by the window.
    assert not verify(HOOK_SECRET, request["headers"], request["raw"], now=sent_at + 360)
    # A changed body or another secret: refused.
    assert not verify(HOOK_SECRET, request["headers"], request["raw"] + b" ", now=sent_at)
    assert not verify("other-secret", request["headers"], request["raw"], now=sent_at)


def test_a_failing_webhook_is_delivered_on_the_fourth_scan_exactly_once(
    scan, three_channels, signals, clock
):
    slack, hook, smtp = three_channels
    hook.answer(("500",), ("302",), ("slow", 1.5))  # error, redirect, timeout (1 s)
    signals.slo()
    first = scan()
    assert first["delivered"] == 2  # Slack and e-mail did not wait for the webhook
    assert len(slack.requests) == 1 and len(smtp.raw) == 1
    errors = []
    for _ in range(2):
        clock.advance(minutes=5)
        assert scan()["delivered"] == 0
        errors.append(Delivery.objects.get(channel="hooks").last_error)
    assert errors == ["HTTP 302: redirects are not followed", "timed out waiting for the webhook"]
    clock.advance(minutes=5)
    assert scan()["delivered"] == 1
    for _ in range(2):
        clock.advance(minutes=5)
        scan()
    assert [r["answer"] for r in hook.requests] == ["500", "302", "slow", "ok"]
    assert len(slack.requests) == 1 and len(smtp.raw) == 1
    hooks = Delivery.objects.get(channel="hooks")
    assert (hooks.status, hooks.attempts) == ("delivered", 4)
    alert = Alert.objects.get()
    assert alert.status == "delivered" and alert.attempts == 6


def test_429_retry_after_holds_that_channel_only(scan, three_channels, signals, clock):
    slack, hook, smtp = three_channels
    slack.answer(("429", 1))
    hook.answer(("429", 120))
    signals.slo()
    first = scan()
    assert [r["answer"] for r in slack.requests] == ["429", "ok"]  # waited out, retried
    assert slack.requests[1]["at"] - slack.requests[0]["at"] >= 0.9
    assert first["delivered"] == 2 and len(hook.requests) == 1
    clock.advance(minutes=1)
    scan()
    assert len(hook.requests) == 1  # still inside its Retry-After: not asked again
    clock.advance(minutes=2)
    scan()
    assert [r["answer"] for r in hook.requests] == ["429", "ok"]


ESCALATING = {
    "channels": {
        "chat": {"type": "slack", "url_env": "TEST_SLACK_WEBHOOK_URL"},
        "oncall": {"type": "email", "to": ["oncall@example.com"]},
    },
    "routes": [
        {
            "match": {"severity": "MEDIUM"},
            "tiers": [
                {"after_minutes": 0, "channels": ["chat"]},
                {"after_minutes": 15, "channels": ["oncall"]},
            ],
        }
    ],
}


@pytest.fixture
def escalating(channel_config, slack, smtp):
    channel_config(ESCALATING, TEST_SLACK_WEBHOOK_URL=slack.url)
    return slack, smtp


def test_unacknowledged_incident_escalates_after_the_delay_then_resolves_to_both(
    scan, escalating, signals, clock, api
):
    slack, smtp = escalating
    signals.slo()
    incident_id = scan()["incident_id"]
    clock.advance(minutes=10)
    scan()
    assert len(slack.requests) == 1 and smtp.raw == []
    clock.advance(minutes=6)
    result = scan()
    assert result["alert"]["kind"] == "tier"
    assert len(smtp.raw) == 1 and len(slack.requests) == 1  # only the new tier is told
    assert "Escalated to you" in smtp.messages[0]["Subject"]
    clock.advance(minutes=5)
    scan()
    assert len(smtp.raw) == 1  # a tier fires once
    signals.healthy()
    clock.advance(minutes=5)
    scan()
    assert slack.json()["text"].startswith("✅ Resolved")
    assert smtp.messages[-1]["Subject"].startswith("✅ Resolved")
    timeline = api.get(f"/api/incidents/{incident_id}").json()["incident"]["timeline"]
    escalated = [e for e in timeline if e["kind"] == "escalated"]
    assert len(escalated) == 1 and "oncall" in escalated[0]["text"]


def test_acknowledging_stops_escalation(scan, escalating, signals, clock):
    slack, smtp = escalating
    signals.slo()
    incident_id = scan()["incident_id"]
    clock.advance(minutes=10)
    services.acknowledge(incident_id=incident_id, actor="cli")
    clock.advance(minutes=30)
    scan()
    assert smtp.raw == [] and len(slack.requests) == 1
    assert Incident.objects.get().fired_tiers == ["1.1"]


def test_routes_match_severity_and_key_prefix_with_continue(
    channel_config, slack, hook, smtp, call
):
    doc = {
        "channels": {
            "chat": {"type": "slack", "url_env": "TEST_SLACK_WEBHOOK_URL"},
            "hooks": {"type": "webhook", "url": hook.url, "secret_env": "TEST_OPS_WEBHOOK_SECRET"},
            "oncall": {"type": "email", "to": ["oncall@example.com"]},
        },
        "routes": [
            {
                "match": {"severity": "HIGH"},
                "continue": True,
                "tiers": [
                    {"after_minutes": 0, "channels": ["chat", "hooks"]},
                    {"after_minutes": 15, "channels": ["oncall"]},
                ],
            },
            {"match": {"key_prefix": "slo"}, "channels": ["oncall"]},
        ],
    }
    channel_config(doc, TEST_SLACK_WEBHOOK_URL=slack.url, TEST_OPS_WEBHOOK_SECRET=HOOK_SECRET)
    lines = call("incidents", "routes", "--test", "HIGH", "slo").splitlines()
    # One line per channel a scan would use: oncall is told at once by route 2, so
    # route 1's 15-minute tier finds it told.
    assert [line.split()[:4] for line in lines] == [
        ["chat", "after", "0", "min"],
        ["hooks", "after", "0", "min"],
        ["oncall", "after", "0", "min"],
    ]
    assert "route 2.1, also route 1.2 after 15 min  (email to oncall@example.com)" in lines[2]
    assert call("incidents", "routes", "--test", "HIGH", "payout").splitlines()[2].split()[:3] == [
        "oncall",
        "after",
        "15",
    ]
    medium_payout = call("incidents", "routes", "--test", "MEDIUM", "payout")
    assert "default (no route matched)" in medium_payout  # every configured channel
    assert HOOK_SECRET not in call("incidents", "routes") and slack.url not in medium_payout


def test_secrets_never_reach_ndjson_logs_api_or_admin(
    scan, three_channels, signals, clock, caplog, log_dir, api, admin_client
):
    slack, hook, _ = three_channels
    hook.answer(("500",))
    slack.answer(("500",))
    signals.slo()
    incident_id = scan()["incident_id"]
    texts = [(log_dir / "incidents.ndjson").read_text()]
    texts += [r.getMessage() for r in caplog.records]
    texts.append(api.get(f"/api/incidents/{incident_id}").content.decode())
    texts.append(api.get("/api/incidents").content.decode())
    page = admin_client.get(f"/admin/incidents/incident/{incident_id}/change/")
    texts.append(page.content.decode())
    joined = "\n".join(texts)
    assert "HTTP 500" in joined
    assert HOOK_SECRET not in joined and slack.url not in joined and hook.url not in joined


def test_announce_posts_to_the_named_channels_and_never_raises(three_channels, caplog):
    from echopilot.channels import announce, configured

    slack, hook, smtp = three_channels
    slack.answer(("500",))
    line = "admin:alice changed checkout.v2 enabled: false → true"
    announce(["hooks", "chat", "no-such-channel", "hooks"], line)  # no exception
    assert set(configured()) == {"chat", "hooks", "oncall"}
    assert len(hook.requests) == 1 and hook.json() == {"kind": "announce", "text": line}
    request = hook.requests[0]
    assert verify(HOOK_SECRET, request["headers"], request["raw"], now=time.time())
    assert [r["answer"] for r in slack.requests] == ["500"]  # failed: logged, not raised
    assert smtp.raw == []  # not named
    assert any("no configured channel 'no-such-channel'" in r.getMessage() for r in caplog.records)


def test_a_mail_server_that_is_down_leaves_the_email_pending_until_it_answers(
    scan, channel_config, settings, signals, clock
):
    from tests.incidents.conftest import Mailbox
    from tests.processes import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    settings.TELEGRAM_TIMEOUT = 1.0
    channel_config({"channels": {"oncall": {"type": "email", "to": ["oncall@example.com"]}}})
    signals.slo()
    assert scan()["delivered"] == 0
    delivery = Delivery.objects.get()
    assert delivery.status == "pending"
    assert delivery.last_error == "mail not sent (ConnectionRefusedError)"
    box = Mailbox()
    try:
        settings.EMAIL_PORT = box.port
        clock.advance(minutes=5)
        assert scan()["delivered"] == 1
        assert len(box.raw) == 1
    finally:
        box.close()


def test_routes_test_lists_unconfigured_channels_apart_and_each_used_one_once(
    channel_config, smtp, call
):
    doc = {
        "channels": {
            "oncall": {"type": "email", "to": ["oncall@example.com"]},
            "chat": {"type": "slack", "url_env": "NO_SUCH_SLACK_URL_FOR_TESTS"},  # not set
        },
        "routes": [
            {
                "match": {"severity": "HIGH"},
                "continue": True,
                "tiers": [
                    {"after_minutes": 0, "channels": ["chat", "oncall"]},
                    {"after_minutes": 30, "channels": ["oncall", "chat"]},
                ],
            },
            {"channels": ["oncall", "chat"]},
        ],
    }
    channel_config(doc)
    lines = call("incidents", "routes", "--test", "HIGH", "slo").splitlines()
    assert lines == [
        "oncall           after 0 min    route 1.1, also route 2.1 after 0 min, also route 1.2"
        " after 30 min  (email to oncall@example.com)",
        "chat             NOT CONFIGURED: not used  (route 1.1, route 1.2, route 2.1 names it)",
    ]
    channel_config({"channels": {}, "routes": [{"channels": ["chat"]}]})
    assert call("incidents", "routes", "--test", "MEDIUM", "slo").splitlines() == [
        "no channel: a scan's alerts would be dry runs (not sent)",
        "chat             NOT CONFIGURED: not used  (route 1.1 names it)",
    ]
