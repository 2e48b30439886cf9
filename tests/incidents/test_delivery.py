"""Reliable delivery: retries, 429 retry_after, timeouts, and the token kept secret."""

import datetime as dt
import json
import logging
import subprocess
import sys

import pytest

from incidents import services
from incidents.models import Alert, Delivery
from tests.conftest import ROOT, free_port, subprocess_env
from tests.incidents.conftest import BOT_TOKEN, CHAT_ID

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_costs")]


def test_500_leaves_alert_pending_and_next_scan_delivers_it_once(scan, bot, signals, clock):
    bot.answer(("500",))
    signals.slo()
    first = scan()
    assert first["alert"]["status"] == "pending"
    assert first["alert"]["last_error"] == "HTTP 500: Boom"
    assert first["delivered"] == 0
    clock.advance(minutes=5)
    second = scan()
    assert second["alerted"] is False  # nothing new to say ...
    assert second["delivered"] == 1  # ... but the pending alert went out
    clock.advance(minutes=5)
    scan()
    assert [r["answer"] for r in bot.requests] == ["500", "ok"]
    assert bot.texts[0] == bot.texts[1]
    alert = Alert.objects.get()
    assert alert.status == "delivered" and alert.attempts == 2 and alert.message_id == 102


def test_an_alert_is_retried_until_delivered_however_long_it_fails(scan, bot, signals, clock):
    """No give-up: after 300 failed attempts (25 hours of scans) it is still sent."""
    bot.answer(("500",))
    signals.slo()
    assert scan()["alert"]["status"] == "pending"
    Delivery.objects.update(attempts=299)  # as if 299 scans had failed to send it
    for _ in range(2):
        bot.answer(("500",))
        clock.advance(minutes=5)
        result = scan()
        assert result["delivered"] == 0 and result["pending_alerts"] == 1
        assert Alert.objects.get().status == "pending"
    assert Alert.objects.get().attempts == 301

    clock.advance(minutes=5)
    assert scan()["delivered"] == 1
    clock.advance(minutes=5)
    assert scan()["delivered"] == 0
    assert [r["answer"] for r in bot.requests] == ["500", "500", "500", "ok"]
    alert = Alert.objects.get()
    assert (alert.status, alert.attempts) == ("delivered", 302)


def test_429_short_retry_after_waits_and_retries_once(scan, bot, signals):
    bot.answer(("429", 1))
    signals.slo()
    result = scan()
    assert result["alert"]["status"] == "delivered"
    assert [r["answer"] for r in bot.requests] == ["429", "ok"]
    # retry_after honoured: the second request came at least ~1 s after the first
    assert bot.requests[1]["at"] - bot.requests[0]["at"] >= 0.9
    assert Alert.objects.get().attempts == 1


def test_429_twice_leaves_it_pending_until_retry_after(scan, bot, signals, clock):
    bot.answer(("429", 1), ("429", 1))
    signals.slo()
    result = scan()
    assert result["alert"]["status"] == "pending"
    assert len(bot.requests) == 2
    assert Alert.objects.get().next_attempt_at == clock() + dt.timedelta(seconds=1)


def test_429_long_retry_after_sends_nothing_before_that_time(scan, bot, signals, clock):
    bot.answer(("429", 120))
    signals.slo()
    first = scan()
    assert first["alert"]["status"] == "pending" and len(bot.requests) == 1
    alert = Alert.objects.get()
    assert alert.next_attempt_at == clock() + dt.timedelta(seconds=120)

    clock.advance(seconds=60)
    signals.payout()  # a new issue queues a second alert, which must wait too
    blocked = scan()
    assert blocked["alert"]["status"] == "pending"
    assert len(bot.requests) == 1

    clock.advance(seconds=61)
    later = scan()
    assert later["delivered"] == 2
    assert [r["answer"] for r in bot.requests] == ["429", "ok", "ok"]
    assert bot.texts[1].startswith("🚨 EchoPilot Incident Detected")  # order kept
    assert bot.texts[2].startswith("🚨 EchoPilot Incident Update")


def test_failure_keeps_order_of_later_alerts(scan, bot, signals, clock):
    bot.answer(("500",), ("500",))
    signals.slo()
    scan()
    signals.healthy()
    clock.advance(minutes=5)
    resolved = scan()  # the open alert fails again: the resolved one must wait
    assert resolved["alert"]["kind"] == "resolved"
    assert resolved["alert"]["status"] == "pending"
    clock.advance(minutes=5)
    scan()
    assert [t.split("\n")[0] for t in bot.texts[-2:]] == [
        "🚨 EchoPilot Incident Detected",
        f"✅ Resolved: EchoPilot Incident #{resolved['incident_id']}",
    ]
    assert set(Alert.objects.values_list("status", flat=True)) == {"delivered"}


def test_timeout_leaves_pending_and_resends(scan, bot, signals, clock, settings):
    settings.TELEGRAM_TIMEOUT = 0.3
    bot.answer(("slow", 1.0))
    signals.slo()
    first = scan()
    assert first["alert"]["status"] == "pending"
    assert first["alert"]["last_error"] == "timed out waiting for Telegram"
    settings.TELEGRAM_TIMEOUT = 5.0  # the retry must not time out on a busy machine
    clock.advance(minutes=5)
    scan()
    # at-least-once: Telegram may have taken the first one too
    assert len(bot.requests) == 2
    assert Alert.objects.get().status == "delivered"


def test_alert_held_by_another_sender_is_not_sent_twice(scan, bot, signals, clock):
    bot.answer(("500",))
    signals.slo()
    scan()
    Delivery.objects.update(claimed_until=clock() + dt.timedelta(seconds=30))
    assert services.deliver_pending(now=clock()) == []
    assert len(bot.requests) == 1
    clock.advance(seconds=31)  # the holder died: its claim expires
    assert len(services.deliver_pending()) == 1


def test_token_never_leaks(
    scan, committed, bot, signals, clock, settings, caplog, log_dir, admin_client
):
    caplog.set_level(logging.DEBUG)
    signals.slo()
    bot.answer(("500",))
    results = [scan()]
    # connection refused: requests puts the whole URL (with the token) in its error
    settings.TELEGRAM_API_BASE = f"http://127.0.0.1:{free_port()}"
    clock.advance(minutes=5)
    results.append(scan())
    settings.TELEGRAM_API_BASE = bot.base
    settings.TELEGRAM_TIMEOUT = 0.2
    bot.answer(("slow", 0.6))
    clock.advance(minutes=5)
    results.append(scan())
    from incidents.tasks import scan as task_scan

    clock.advance(minutes=5)
    with committed():
        results.append(task_scan())

    alert = Alert.objects.get()
    assert alert.last_error == "timed out waiting for Telegram" or alert.status == "delivered"
    failures = [
        line["error"]
        for line in map(json.loads, (log_dir / "incidents.ndjson").read_text().splitlines())
        if line["type"] == "alert_failed"
    ]
    assert failures[:3] == [
        "HTTP 500: Boom",
        "cannot connect to the Telegram API",
        "timed out waiting for Telegram",
    ]
    assert results[1]["pending_alerts"] == 1
    texts = [json.dumps(r) for r in results]
    texts += [record.getMessage() for record in caplog.records]
    texts += [p.read_text() for p in log_dir.glob("*.ndjson")]
    texts += list(Alert.objects.values_list("last_error", flat=True))
    page = admin_client.get(f"/admin/incidents/incident/{alert.incident_id}/change/")
    assert page.status_code == 200
    texts.append(page.content.decode())
    secret = BOT_TOKEN.split(":")[1]
    for text in texts:
        assert BOT_TOKEN not in text and secret not in text
    assert any("Telegram send failed" in r.getMessage() for r in caplog.records)


@pytest.mark.external
@pytest.mark.django_db(transaction=True)  # the child process writes to the database
def test_token_absent_from_command_output_and_logs(bot, signals, settings, clock):
    """A real `manage.py incident_scan` process, logging at DEBUG, send failing."""
    signals.slo()
    signals.ops("high_cpu", minutes_ago=0)
    env = subprocess_env(
        settings,
        TELEGRAM_BOT_TOKEN=BOT_TOKEN,
        TELEGRAM_CHAT_ID=CHAT_ID,
        TELEGRAM_API_BASE=f"http://127.0.0.1:{free_port()}",
        LOG_LEVEL="DEBUG",
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "incident_scan"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["alert"]["last_error"] == "cannot connect to the Telegram API"
    assert "Telegram send failed" in out.stderr
    assert BOT_TOKEN not in out.stdout + out.stderr
    lines = (settings.LOG_DIR / "incidents.ndjson").read_text()
    assert "alert_failed" in lines and BOT_TOKEN not in lines


def test_a_delivery_round_stops_where_a_request_could_run_out_of_time(
    scan, bot, signals, clock, settings
):
    bot.answer(("500",), ("500",), ("500",))  # three alerts pile up, none delivered
    signals.slo()
    scan()
    clock.advance(minutes=5)
    signals.payout()
    scan()
    clock.advance(minutes=5)
    signals.ops("high_cpu")
    scan()
    assert Alert.objects.filter(status=Alert.Status.PENDING).count() == 3
    # One alert may take 2 x TELEGRAM_TIMEOUT + 5 s: with a 9 s web timeout only
    # the first fits the budget (WEB_TIMEOUT - 5); the others wait.
    settings.TELEGRAM_TIMEOUT = 1.0
    settings.WEB_TIMEOUT = 9
    assert len(services.deliver_pending(now=clock())) == 1
    settings.WEB_TIMEOUT = 30
    assert len(services.deliver_pending(now=clock())) == 2
    assert not Alert.objects.filter(status=Alert.Status.PENDING).exists()


def test_a_telegram_timeout_too_long_for_the_web_timeout_fails_the_check(settings):
    from incidents.checks import incident_settings

    settings.TELEGRAM_TIMEOUT = 10.0
    settings.WEB_TIMEOUT = 29
    assert "incidents.E012" not in [m.id for m in incident_settings()]  # dry run: sends nothing
    settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_CHAT_ID = BOT_TOKEN, CHAT_ID
    assert "incidents.E012" in [m.id for m in incident_settings()]
    settings.WEB_TIMEOUT = 30
    assert "incidents.E012" not in [m.id for m in incident_settings()]
