"""The numeric settings the incidents app reads, with the ranges they must lie in.

The system check (`incidents.checks`) reports a value outside its range at
start-up; `value()` keeps a scan running if one slips through anyway (a test's
override_settings, a settings module edited by hand).
"""

import math
from dataclasses import dataclass

from django.conf import settings

# A year: no window, interval or silence here is meant to be longer.
YEAR_MINUTES = 525_600


@dataclass(frozen=True)
class Limit:
    check_id: str
    default: float
    maximum: float
    unit: str
    minimum: float = 0.0  # exclusive
    inclusive_max: bool = True


LIMITS = {
    "SLO_P95_MS": Limit("incidents.E001", 1000.0, 86_400_000.0, "ms (a day at most)"),
    "OPS_WARNING_WINDOW_MINUTES": Limit("incidents.E002", 10.0, YEAR_MINUTES, "minutes"),
    "INCIDENT_REPEAT_MINUTES": Limit("incidents.E003", 240.0, YEAR_MINUTES, "minutes"),
    "TELEGRAM_TIMEOUT": Limit("incidents.E004", 10.0, 300.0, "seconds"),
    "SLO_SUCCESS_MIN": Limit("incidents.E010", 0.99, 1.0, "(a fraction, e.g. 0.99)"),
}


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def problem(name: str) -> str | None:
    """Return why the configured `name` cannot work, or None if it is in range."""
    limit = LIMITS[name]
    value = _number(getattr(settings, name, None))
    if value is None or not math.isfinite(value) or not limit.minimum < value <= limit.maximum:
        return (
            f"{name} must be a finite number above {limit.minimum:,.0f} and at most "
            f"{limit.maximum:,.0f} {limit.unit}."
        )
    return None


def value(name: str) -> float:
    """Return the configured `name`, made usable: out-of-range values are clamped.

    Too large (or infinite) becomes the maximum; missing, not a number, NaN or
    not above the minimum becomes the default.
    """
    limit = LIMITS[name]
    number = _number(getattr(settings, name, None))
    if number is None or math.isnan(number) or not number > limit.minimum:
        return limit.default
    return min(number, limit.maximum)
