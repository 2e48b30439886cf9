"""Power and duration: how many users an experiment needs (`GET /api/exp/plan`, `plan`)."""

import math
from typing import TypedDict

from echopilot.exceptions import Invalid
from experiments import stats
from experiments.limits import MAX_VARIANTS


class Plan(TypedDict):
    """The sample size for a two-sided test of two proportions (the API adds `ok`)."""

    users_per_variant: int
    total_users: int
    baseline: float
    mde: float
    mde_rel: float
    p2: float
    alpha: float
    alpha_per_comparison: float
    power: float
    variants: int


def _number(name: str, value: object) -> float:
    """Return a finite number given as a JSON number or a query string; 400 naming it."""
    if isinstance(value, str):
        try:
            value = float(value.strip()) if value.strip() == value and value else None
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid(f"{name}: must be a number.")
    return float(value)


def _open_unit(name: str, value: object) -> float:
    number = _number(name, value)
    if not 0 < number < 1:
        raise Invalid(f"{name}: must be strictly between 0 and 1.")
    return number


def _variants(value: object) -> int:
    text = value.strip() if isinstance(value, str) else None
    if text is not None and text == value and text.isdigit():
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("variants: must be a whole number.")
    if not 2 <= value <= MAX_VARIANTS:
        raise Invalid(f"variants: must be from 2 to {MAX_VARIANTS}.")
    return value


def plan(
    *,
    baseline: object,
    mde: object = None,
    mde_rel: object = None,
    alpha: object = 0.05,
    power: object = 0.8,
    variants: object = 2,
) -> Plan:
    """Return the users per variant to detect `mde` (absolute) or `mde_rel` (relative).

    Bonferroni over the comparisons with the control; see
    `stats.users_per_variant` for the formula.
    """
    p1 = _open_unit("baseline", baseline)
    if (mde is None) == (mde_rel is None):
        raise Invalid("mde: give exactly one of mde (absolute) and mde_rel (relative).")
    if mde is not None:
        diff = _number("mde", mde)
        field = "mde"
    else:
        diff = p1 * _number("mde_rel", mde_rel)
        field = "mde_rel"
    if diff == 0:
        raise Invalid(f"{field}: must not be 0.")
    if not 0 < p1 + diff < 1:
        raise Invalid(f"{field}: baseline + effect = {p1 + diff:.6g} must stay between 0 and 1.")
    a, pw, k = _open_unit("alpha", alpha), _open_unit("power", power), _variants(variants)
    n = _users(p1, diff, a, pw, k, field)
    return {
        "users_per_variant": n,
        "total_users": n * k,
        "baseline": p1,
        "mde": diff,
        "mde_rel": diff / p1,
        "p2": p1 + diff,
        "alpha": a,
        "alpha_per_comparison": a / (k - 1),
        "power": pw,
        "variants": k,
    }


def _users(p1: float, diff: float, a: float, pw: float, k: int, field: str) -> int:
    """stats.users_per_variant, or Invalid when floats cannot carry the inputs.

    A tiny alpha makes 1 - alpha/2 round to 1, an effect tiny against the
    baseline rounds away or its square to 0, one huge against it overflows.
    """
    if 1 - a / (k - 1) / 2 >= 1.0:
        raise Invalid("alpha: too small to compute (1 - alpha/2 rounds to 1).")
    if p1 + diff == p1 or not math.isfinite(diff / p1):
        raise Invalid(f"{field}: too small or too large against the baseline to compute.")
    try:
        return stats.users_per_variant(p1, diff, a, pw, k)
    except (ArithmeticError, ValueError) as exc:  # (p2 - p1) ** 2 == 0, ceil(inf)
        raise Invalid(f"{field}: too small against the baseline to compute.") from exc
