"""The numeric settings the incidents app reads, with the ranges they must lie in.

`incidents.checks` reports a value outside its range at start-up; `value()`
keeps a scan running if one slips through anyway.
"""

from echopilot.limits import Range, clamped

# A year: no window, interval or silence here is meant to be longer.
YEAR_MINUTES = 525_600

# Distinct issue keys an incident keeps (the rest are counted in issue_keys_omitted).
ISSUE_KEYS_MAX = 200
# Reopenings within this long that make an incident `flapping`, and how many.
FLAP_PERIOD_MINUTES = 60
FLAPPING_REOPENS = 3

LIMITS = {
    "SLO_P95_MS": Range("incidents.E001", 0, 86_400_000, "ms (a day at most)", default=1000.0),
    "OPS_WARNING_WINDOW_MINUTES": Range("incidents.E002", 0, YEAR_MINUTES, "minutes", default=10.0),
    "INCIDENT_REPEAT_MINUTES": Range("incidents.E003", 0, YEAR_MINUTES, "minutes", default=240.0),
    "TELEGRAM_TIMEOUT": Range("incidents.E004", 0, 300, "seconds", default=10.0),
    "INCIDENT_FLAP_MINUTES": Range("incidents.E005", 0, YEAR_MINUTES, "minutes", default=30.0),
    "SLO_SUCCESS_MIN": Range("incidents.E010", 0, 1, "(a fraction, e.g. 0.99)", default=0.99),
}


def value(name: str) -> float:
    """Return the configured `name`, clamped into its range."""
    return clamped(name, LIMITS[name])
