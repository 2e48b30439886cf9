"""System checks for the cost settings: prices, budget and thresholds that cannot work."""

import math

from django.conf import settings
from django.core.checks import Error, register

PRICES = (
    "COST_STORAGE_PER_GB_MONTH",
    "COST_CPU_PER_HOUR",
    "COST_BANDWIDTH_PER_GB",
)


def _bad_number(value) -> bool:
    return isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)


@register()
def cost_settings(app_configs, **kwargs):
    """Refuse negative or non-numeric prices, budget and thresholds."""
    from costs.services import parse_thresholds

    errors = []
    invalid = getattr(settings, "INVALID_SETTINGS", {})
    for name in PRICES:
        if name in invalid:
            continue  # echopilot.E001 already reports the unparseable text
        value = getattr(settings, name, None)
        if _bad_number(value) or value < 0:
            errors.append(
                Error(
                    f"{name}={value!r}: a price must be a number of 0 or more.",
                    hint=f"Set {name} to the price in your currency, e.g. 0.05.",
                    id="costs.E001",
                )
            )
    budget = getattr(settings, "COST_MONTHLY_BUDGET_USD", None)
    if budget is not None and "COST_MONTHLY_BUDGET_USD" not in invalid:
        if _bad_number(budget) or budget <= 0:
            errors.append(
                Error(
                    f"COST_MONTHLY_BUDGET_USD={budget!r}: the budget must be a number above 0.",
                    hint="Set the monthly budget (e.g. 50) or unset it for no budget.",
                    id="costs.E002",
                )
            )
    try:
        parse_thresholds(getattr(settings, "COST_BUDGET_THRESHOLDS", "50,80,100"))
    except ValueError as exc:
        errors.append(
            Error(
                f"COST_BUDGET_THRESHOLDS={settings.COST_BUDGET_THRESHOLDS!r}: {exc}.",
                hint="Use comma-separated positive percentages, e.g. 50,80,100.",
                id="costs.E003",
            )
        )
    hours = getattr(settings, "COST_ALWAYS_ON_HOURS_PER_DAY", 0.0)
    if "COST_ALWAYS_ON_HOURS_PER_DAY" not in invalid and (
        _bad_number(hours) or not 0 <= hours <= 24 * 1000
    ):
        errors.append(
            Error(
                f"COST_ALWAYS_ON_HOURS_PER_DAY={hours!r}: must be a number of 0 or more.",
                hint="Machine-hours billed per day around the clock: 24 per always-on machine.",
                id="costs.E004",
            )
        )
    currency = getattr(settings, "COST_CURRENCY", "USD")
    if not isinstance(currency, str) or not 1 <= len(currency.strip()) <= 8:
        errors.append(
            Error(
                f"COST_CURRENCY={currency!r}: must be a short label such as USD or EUR.",
                id="costs.E005",
            )
        )
    return errors
