"""System checks for the cost settings: prices, budget and thresholds that cannot work."""

from django.conf import settings
from django.core.checks import Error, register

from echopilot.limits import Range, range_errors

PRICE = "a price in your currency, e.g. 0.05"
RANGES = {
    name: Range("costs.E001", 0, above_minimum=False, hint=f"Set {name} to {PRICE}.")
    for name in ("COST_STORAGE_PER_GB_MONTH", "COST_CPU_PER_HOUR", "COST_BANDWIDTH_PER_GB")
}
RANGES["COST_MONTHLY_BUDGET_USD"] = Range(
    "costs.E002", 0, hint="Set the monthly budget (e.g. 50) or unset it for no budget."
)
RANGES["COST_ALWAYS_ON_HOURS_PER_DAY"] = Range(
    "costs.E004",
    0,
    24 * 1000,
    "hours per day",
    above_minimum=False,
    hint="Machine-hours billed per day around the clock: 24 per always-on machine.",
)


@register()
def cost_settings(app_configs, **kwargs):
    """Refuse negative or non-numeric prices, budget, always-on hours and thresholds."""
    from costs.services import parse_thresholds

    errors = range_errors(RANGES, optional=frozenset({"COST_MONTHLY_BUDGET_USD"}))
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
    currency = getattr(settings, "COST_CURRENCY", "USD")
    if not isinstance(currency, str) or not 1 <= len(currency.strip()) <= 8:
        errors.append(
            Error(
                f"COST_CURRENCY={currency!r}: must be a short label such as USD or EUR.",
                id="costs.E005",
            )
        )
    return errors
