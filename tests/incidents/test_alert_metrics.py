"""echopilot_alerts_total{channel,outcome}: each delivery attempt, per channel
(loopback Slack, webhook and SMTP servers)."""

import pytest

from echopilot import metrics
from tests.foundation.test_metrics import scrape


def value(name: str, **labels) -> float:
    return metrics.sample(name, **labels)


def alert_counts() -> dict[tuple[str, str], float]:
    return {
        (channel, outcome): value("echopilot_alerts_total", channel=channel, outcome=outcome)
        for channel in ("chat", "hooks", "oncall")
        for outcome in ("sent", "failed")
    }


@pytest.mark.django_db
def test_each_alert_delivery_attempt_is_counted_by_channel_and_outcome(
    three_channels, signals, clock, committed, no_costs
):
    from incidents import services

    chat, webhook, mail = three_channels
    webhook.answer(("500",))  # the webhook fails once, then accepts
    before = alert_counts()
    signals.slo()
    with committed():
        assert services.scan(actor="schedule")["delivered"] == 2
    clock.advance(minutes=5)
    with committed():
        assert services.scan(actor="schedule")["delivered"] == 1
    assert [r["answer"] for r in webhook.requests] == ["500", "ok"]
    assert len(chat.requests) == len(mail.raw) == 1
    added = {pair: n - before[pair] for pair, n in alert_counts().items()}
    assert added == {
        ("chat", "sent"): 1,
        ("chat", "failed"): 0,
        ("hooks", "sent"): 1,
        ("hooks", "failed"): 1,
        ("oncall", "sent"): 1,
        ("oncall", "failed"): 0,
    }
    assert scrape()[("echopilot_alerts_total", (("channel", "hooks"), ("outcome", "failed")))] >= 1
