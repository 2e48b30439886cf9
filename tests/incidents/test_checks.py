"""System checks for incidents settings."""

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
