"""Numeric settings with the range they must lie in, checked in one way for every app.

An app declares `Range`s for the numbers it reads; `range_errors()` turns the
ones out of range into system-check errors at start-up, and `clamped()` keeps a
running task safe if a bad value slips through anyway (a test's
override_settings, a settings module edited by hand).
"""

import math
from dataclasses import dataclass

from django.conf import settings
from django.core.checks import Error


@dataclass(frozen=True)
class Range:
    check_id: str
    minimum: float
    maximum: float = math.inf
    unit: str = ""
    # False: the minimum itself is allowed (a price of 0); True: values must exceed it.
    above_minimum: bool = True
    default: float | None = None  # what clamped() falls back to
    hint: str = ""

    def describe(self) -> str:
        low = f"above {self.minimum:g}" if self.above_minimum else f"of {self.minimum:g} or more"
        high = "" if math.isinf(self.maximum) else f" and at most {self.maximum:,.0f}"
        return f"must be a finite number {low}{high}" + (f" {self.unit}" if self.unit else "")

    def contains(self, value: float) -> bool:
        low_ok = value > self.minimum if self.above_minimum else value >= self.minimum
        return math.isfinite(value) and low_ok and value <= self.maximum


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def range_problem(name: str, rng: Range) -> str | None:
    """Return why the configured `name` is out of `rng`, or None."""
    value = _number(getattr(settings, name, None))
    if value is None or not rng.contains(value):
        return f"{name}={getattr(settings, name, None)!r} {rng.describe()}."
    return None


def range_errors(ranges: dict[str, Range], *, optional: frozenset = frozenset()) -> list[Error]:
    """System-check errors for every setting out of its range.

    Settings that could not be parsed at all are skipped (echopilot.E001 reports
    them); those named in `optional` may also be None (unset).
    """
    invalid = getattr(settings, "INVALID_SETTINGS", {})
    errors = []
    for name, rng in ranges.items():
        if name in invalid or (name in optional and getattr(settings, name, None) is None):
            continue
        text = range_problem(name, rng)
        if text:
            errors.append(Error(text, hint=rng.hint or None, id=rng.check_id))
    return errors


def clamped(name: str, rng: Range) -> float:
    """Return the configured `name`, made usable.

    Too large (or infinite) becomes the maximum; missing, not a number, NaN or
    below the minimum becomes the default.
    """
    if rng.default is None:
        raise ValueError(f"{name}: clamped() needs a Range with a default")
    number = _number(getattr(settings, name, None))
    if (
        number is None
        or math.isnan(number)
        or not (number > rng.minimum if rng.above_minimum else number >= rng.minimum)
    ):
        return rng.default
    return min(number, rng.maximum)
