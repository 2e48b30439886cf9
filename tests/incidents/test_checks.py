"""System checks for incidents settings."""

import pytest

from incidents.checks import incident_settings


def ids():
    return sorted(problem.id for problem in incident_settings())


def test_defaults_are_clean():
    assert ids() == []


def test_bad_values_are_reported(settings):
    settings.SLO_P95_MS = -1
    settings.OPS_WARNING_WINDOW_MINUTES = 0
    settings.INCIDENT_REPEAT_MINUTES = -5
    settings.TELEGRAM_TIMEOUT = 0
    settings.SLO_SUCCESS_MIN = 1.5
    settings.TELEGRAM_API_BASE = "ftp://example"
    assert ids() == [
        "incidents.E001",
        "incidents.E002",
        "incidents.E003",
        "incidents.E004",
        "incidents.E010",
        "incidents.E011",
    ]


def test_half_configured_telegram_warns(settings):
    settings.TELEGRAM_BOT_TOKEN = "123:abc"
    settings.TELEGRAM_CHAT_ID = ""
    assert ids() == ["incidents.W001"]


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 1e12, "10", None])
@pytest.mark.parametrize(
    ("name", "check_id"),
    [
        ("SLO_P95_MS", "incidents.E001"),
        ("OPS_WARNING_WINDOW_MINUTES", "incidents.E002"),
        ("INCIDENT_REPEAT_MINUTES", "incidents.E003"),
        ("TELEGRAM_TIMEOUT", "incidents.E004"),
        ("SLO_SUCCESS_MIN", "incidents.E010"),
    ],
)
def test_numbers_must_be_finite_and_bounded(settings, name, check_id, value):
    setattr(settings, name, value)
    problems = incident_settings()
    assert [p.id for p in problems] == [check_id]
    assert "finite" in problems[0].msg and "at most" in problems[0].msg


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OPS_WARNING_WINDOW_MINUTES", 525_600),
        ("INCIDENT_REPEAT_MINUTES", 525_600),
        ("SLO_P95_MS", 86_400_000),
        ("TELEGRAM_TIMEOUT", 300),
        ("SLO_SUCCESS_MIN", 1),
    ],
)
def test_upper_bounds_are_accepted(settings, name, value):
    settings.WEB_TIMEOUT = 3600  # room for the longest Telegram timeout (incidents.E012)
    setattr(settings, name, value)
    assert ids() == []
