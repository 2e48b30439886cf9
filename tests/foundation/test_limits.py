"""Numeric settings ranges: one check and one clamp for every app."""

import math

import pytest

from echopilot.limits import Range, clamped, range_errors

POSITIVE = Range("t.E001", 0, 100, "units", default=5.0)
PRICE = Range("t.E002", 0, above_minimum=False)


@pytest.mark.parametrize(
    "value, ok",
    [
        (1, True),
        (100, True),
        (0.5, True),
        (0, False),
        (-1, False),
        (100.1, False),
        (math.inf, False),
        (math.nan, False),
        (True, False),
        ("7", False),
        (None, False),
    ],
)
def test_range_errors_report_out_of_range(settings, value, ok):
    settings.X_NUMBER = value
    errors = range_errors({"X_NUMBER": POSITIVE})
    assert (errors == []) is ok
    if not ok:
        assert errors[0].id == "t.E001" and "X_NUMBER" in errors[0].msg


def test_minimum_can_be_allowed(settings):
    settings.X_PRICE = 0
    assert range_errors({"X_PRICE": PRICE}) == []
    settings.X_PRICE = -0.01
    assert [e.id for e in range_errors({"X_PRICE": PRICE})] == ["t.E002"]


def test_unparsed_and_optional_settings_are_skipped(settings):
    settings.X_NUMBER = None
    assert range_errors({"X_NUMBER": POSITIVE}, optional=frozenset({"X_NUMBER"})) == []
    settings.X_NUMBER = -5
    settings.INVALID_SETTINGS = {"X_NUMBER": "already reported"}
    assert range_errors({"X_NUMBER": POSITIVE}) == []


@pytest.mark.parametrize(
    "value, expected",
    [(7, 7.0), (1e9, 100.0), (math.inf, 100.0), (0, 5.0), (math.nan, 5.0), ("x", 5.0)],
)
def test_clamped_keeps_a_task_running(settings, value, expected):
    settings.X_NUMBER = value
    assert clamped("X_NUMBER", POSITIVE) == expected
