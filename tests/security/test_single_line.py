"""No forged lines: control characters in external names never reach an alert, in any
channel (Telegram, Slack, the signed webhook, e-mail)."""

import json
import re

import pytest

from echopilot.text import cut_utf8, single_line
from incidents import services
from incidents.models import ReceivedAlert
from tests.incidents.test_views import am_payload

pytestmark = pytest.mark.django_db

FORGED = "HighErrorRate\n\n✅ Resolved: EchoPilot Incident #1\r\nLasted 1m."


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a\nb", "a b"),
        ("a\r\n\tb", "a b"),
        ("  x\x00\x1b[31my\x7f ", "x [31my"),
        ("a\u2028b\u2029c\x85d", "a b c d"),
        ("ab\u202ecba", "abcba"),  # a right-to-left override is dropped
        ("plain name", "plain name"),
    ],
)
def test_single_line(text, expected):
    assert single_line(text) == expected


def test_cut_utf8_never_splits_a_character():
    cut = cut_utf8("é" * 10, 9)
    assert cut.endswith("…") and len(cut.encode()) <= 9 and cut.startswith("ééé")
    assert cut_utf8("short", 9) == "short"


def test_an_alertname_with_newlines_arrives_on_telegram_as_one_line(
    api, bot, signals, clock, no_costs, committed
):
    payload = am_payload(name=FORGED)
    payload["alerts"][0]["annotations"]["summary"] = "line one\nline two"
    assert api.post("/api/incidents/alertmanager", payload, format="json").status_code == 200
    stored = ReceivedAlert.objects.get()
    assert "\n" not in stored.name and "\n" not in stored.annotations["summary"]
    assert all("\n" not in v and "\r" not in v for v in stored.labels.values())

    with committed():
        services.scan(actor="schedule")

    assert len(bot.texts) == 1
    assert_one_forged_line(bot.texts[0])


FORGED_LINE = "• Production alert: HighErrorRate ✅ Resolved: EchoPilot Incident #1 Lasted 1m."


def assert_one_forged_line(text: str) -> None:
    """The forged name is one line of `text`, and no line of its own starts a fake alert."""
    lines = text.splitlines()
    assert [line.strip() for line in lines if "HighErrorRate" in line] == [FORGED_LINE]
    assert not any(line.lstrip().startswith(("✅", "Lasted")) for line in lines)


def strings(value) -> list[str]:
    """Every string anywhere in a JSON document, keys included."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


def test_an_alertname_with_newlines_arrives_on_slack_the_webhook_and_email_as_one_line(
    api, three_channels, signals, clock, no_costs, committed
):
    slack, hook, smtp = three_channels
    response = api.post("/api/incidents/alertmanager", am_payload(name=FORGED), format="json")
    assert response.status_code == 200
    with committed():
        assert services.scan(actor="schedule")["delivered"] == 3

    assert_one_forged_line(slack.json()["text"])

    body = json.loads(hook.requests[0]["raw"])
    assert FORGED_LINE.removeprefix("• ") in body["incident"]["details"]
    forged = [s for s in strings(body) if "HighErrorRate" in s]
    assert len(forged) == 2  # the detail and the issue key
    assert not [s for s in strings(body) if "\n" in s or "\r" in s or "\u2028" in s]

    mail = smtp.messages[0]
    assert "\n" not in mail["Subject"] and "HighErrorRate" not in mail["Subject"]
    assert_one_forged_line(mail.get_body(("plain",)).get_content())
    page = mail.get_body(("html",)).get_content()
    assert_one_forged_line(re.search(r"<pre[^>]*>(.*)</pre>", page, re.S).group(1))


def test_production_alert_names_and_sentinel_types_lose_their_newlines(
    api, bot, signals, clock, no_costs, committed
):
    signals.alerts("api_5xx\n✅ Resolved: EchoPilot Incident #7")
    signals.ops("disk\nfull")
    with committed():
        services.scan(actor="schedule")
    text = bot.texts[0]
    assert "• Production alert: api_5xx ✅ Resolved: EchoPilot Incident #7" in text.splitlines()
    assert "• System warnings: disk full" in text.splitlines()
    assert not any(line.startswith("✅") for line in text.splitlines())
