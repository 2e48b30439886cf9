"""System checks for the cost settings."""

import subprocess
import sys

import pytest

from costs.checks import cost_settings
from tests.conftest import ROOT, subprocess_env


def ids(errors):
    return sorted(e.id for e in errors)


def test_defaults_pass():
    assert cost_settings(None) == []


@pytest.mark.parametrize("name", ["COST_STORAGE_PER_GB_MONTH", "COST_CPU_PER_HOUR"])
def test_negative_price_fails(settings, name):
    setattr(settings, name, -0.01)

    errors = cost_settings(None)

    assert ids(errors) == ["costs.E001"]
    assert name in errors[0].msg


def test_non_numeric_price_fails(settings):
    settings.COST_BANDWIDTH_PER_GB = "cheap"

    assert ids(cost_settings(None)) == ["costs.E001"]


def test_unparseable_env_price_is_left_to_the_echopilot_check(settings):
    settings.INVALID_SETTINGS = {"COST_CPU_PER_HOUR": "COST_CPU_PER_HOUR='x' is not a number"}
    settings.COST_CPU_PER_HOUR = "x"

    assert cost_settings(None) == []


@pytest.mark.parametrize("budget", [-5.0, 0.0, float("nan")])
def test_bad_budget_fails(settings, budget):
    settings.COST_MONTHLY_BUDGET_USD = budget

    errors = cost_settings(None)

    assert ids(errors) == ["costs.E002"]
    assert "COST_MONTHLY_BUDGET_USD" in errors[0].msg


@pytest.mark.parametrize("raw", ["50,eighty", "", "-10,50", "0", "50,,inf"])
def test_bad_thresholds_fail(settings, raw):
    settings.COST_BUDGET_THRESHOLDS = raw

    assert ids(cost_settings(None)) == ["costs.E003"]


def test_negative_always_on_hours_fail(settings):
    settings.COST_ALWAYS_ON_HOURS_PER_DAY = -1.0

    assert ids(cost_settings(None)) == ["costs.E004"]


@pytest.mark.external  # runs manage.py in a process of its own
def test_check_command_reports_a_negative_price_from_the_environment(settings):
    """A negative price in the environment stops `manage.py check`."""
    env = subprocess_env(settings, COST_CPU_PER_HOUR="-1", COST_BUDGET_THRESHOLDS="50,abc")
    proc = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )

    assert proc.returncode != 0
    assert "costs.E001" in proc.stderr and "costs.E003" in proc.stderr
