"""Flags announce their changes on the core channels: a flag with `announce` on
posts one line per change to a real loopback Slack receiver; others stay quiet."""

import pytest

from flags import services
from flags.models import Flag
from tests.incidents.conftest import SLACK_URL_ENV

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(channel_config, slack, settings):
    settings.TELEGRAM_TIMEOUT = 1.0
    channel_config(
        {"channels": {"chat": {"type": "slack", "url_env": SLACK_URL_ENV}}},
        **{SLACK_URL_ENV: slack.url},
    )
    return slack


@pytest.fixture
def flag_set(committed):
    """`flag_set(**fields)`: alice changes a flag; the change commits (announcements sent)."""

    def change(**fields):
        with committed():
            services.flag_set(actor="alice", **fields)

    return change


def test_an_announced_flag_posts_each_change_as_one_line(chat, flag_set):
    flag_set(key="checkout.v2", create=True, value=False)
    assert chat.requests == []  # not announced (yet)
    flag_set(key="checkout.v2", announce=True, announce_channels=["chat"])
    chat.requests.clear()  # turning it on is itself announced; what follows is checked
    flag_set(key="checkout.v2", value=True)
    flag_set(key="checkout.v2", description="new\ncheckout")
    texts = [chat.json(n)["text"] for n in range(len(chat.requests))]
    assert texts == [
        "alice changed checkout.v2 value: false → true (cli)",
        'alice changed checkout.v2 description: "" → "new\\ncheckout" (cli)',
    ]


def test_an_empty_channel_list_means_every_configured_channel(chat, flag_set):
    flag_set(key="ui.banner", create=True, value=False, announce=True)
    flag_set(key="ui.banner", value=True)
    assert chat.json()["text"] == "alice changed ui.banner value: false → true (cli)"


def test_a_failing_channel_never_breaks_the_change(chat, flag_set):
    flag_set(key="ui.k", create=True, value=False, announce=True)
    chat.answer(("500",), ("500",), ("500",), ("500",))
    flag_set(key="ui.k", value=True)
    assert chat.requests and chat.requests[-1]["answer"] == "500"  # it was tried, and failed
    assert Flag.objects.get(key="ui.k").value is True
