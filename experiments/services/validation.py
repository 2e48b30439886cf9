"""Validation shared by every interface: definitions, users, event names."""

import math
from dataclasses import dataclass, field

from echopilot.config import ConfigError
from echopilot.exceptions import Conflict, Invalid, NotFound
from echopilot.parsers import text_problem
from experiments.limits import (
    EVENT_RE,
    KEY_RE,
    MAX_VARIANTS,
    MAX_WEIGHT,
    METRICS_MAX,
    PLANNED_USERS_DEFAULT,
    PLANNED_USERS_MAX,
    SALT_MAX,
    USER_MAX,
    VALUE_MAX,
    VARIANT_MAX,
)
from experiments.models import Analysis, Experiment

STREAM = "experiments"
CONFIG_FIELDS = {
    "variants",
    "weights",
    "salt",
    "description",
    "analysis",
    "planned_users",
    "metrics",
}
# Fields that decide who gets which variant: frozen once users are exposed.
ASSIGNMENT_FIELDS = ("variants", "weights", "salt")
# Fields compared with a stored experiment, in this order.
DEFINITION_FIELDS = (*ASSIGNMENT_FIELDS, "description", "analysis", "planned_users", "metrics")
METRIC_KEYS = {"primary", "secondary", "guardrails"}
DIRECTIONS = ("increase", "decrease")


@dataclass
class Definition:
    """A validated experiment definition (from the config file, admin or a command)."""

    key: str
    variants: list[str]
    weights: list[int]
    salt: str
    description: str = ""
    analysis: str = Analysis.SEQUENTIAL
    planned_users: int = PLANNED_USERS_DEFAULT
    metrics: dict = field(default_factory=dict)

    def differences(self, exp: Experiment) -> list[str]:
        """Return the names of the fields where `exp` differs from this definition."""
        return [name for name in DEFINITION_FIELDS if getattr(exp, name) != getattr(self, name)]


# --- definitions ------------------------------------------------------------------


def check_key(key: object) -> str:
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise ConfigError(f"experiment key {key!r} must match {KEY_RE.pattern}")
    return key


def check_variants(variants: object) -> list[str]:
    if not isinstance(variants, list) or not variants:
        raise ConfigError("'variants' must be a non-empty list of names")
    if len(variants) < 2:
        raise ConfigError("'variants' needs at least two names (a control and a treatment)")
    if len(variants) > MAX_VARIANTS:
        raise ConfigError(f"'variants' has {len(variants)} names; at most {MAX_VARIANTS}")
    names: list[str] = []
    for name in variants:
        if not isinstance(name, str) or not name.strip() or len(name) > VARIANT_MAX:
            raise ConfigError(
                f"variant {name!r} must be a non-empty string of at most {VARIANT_MAX} characters"
            )
        names.append(name)
    duplicates = sorted({v for v in names if names.count(v) > 1})
    if duplicates:
        raise ConfigError(f"duplicate variants: {', '.join(duplicates)}")
    return names


def check_weights(weights: object, variants: list[str]) -> list[int]:
    if weights is None:
        return [1] * len(variants)
    if not isinstance(weights, list):
        raise ConfigError("'weights' must be a list of positive integers")
    checked: list[int] = []
    for w in weights:
        if isinstance(w, bool) or not isinstance(w, int) or w <= 0 or w > MAX_WEIGHT:
            raise ConfigError(
                f"weight {w!r} is not a positive integer (at most {MAX_WEIGHT}): "
                "weights are positive integers"
            )
        checked.append(w)
    if len(checked) != len(variants):
        raise ConfigError(
            f"{len(checked)} weights for {len(variants)} variants: give one weight per variant"
        )
    return checked


def check_salt(salt: object, key: str) -> str:
    if salt is None:
        return key  # an omitted salt defaults to the experiment key
    if not isinstance(salt, str) or not salt or len(salt) > SALT_MAX:
        raise ConfigError(f"'salt' must be a non-empty string of at most {SALT_MAX} characters")
    return salt


def check_analysis(analysis: object) -> str:
    if analysis is None:
        return Analysis.SEQUENTIAL
    if analysis not in Analysis.values:
        raise ConfigError(f"'analysis' must be one of {', '.join(Analysis.values)}")
    return str(analysis)


def check_planned_users(planned: object) -> int:
    if planned is None:
        return PLANNED_USERS_DEFAULT
    if isinstance(planned, bool) or not isinstance(planned, int):
        raise ConfigError("'planned_users' must be a whole number")
    if not 1 <= planned <= PLANNED_USERS_MAX:
        raise ConfigError(f"'planned_users' must be from 1 to {PLANNED_USERS_MAX}")
    return planned


def _metric_name(name: object, where: str) -> str:
    if not isinstance(name, str) or not EVENT_RE.fullmatch(name):
        raise ConfigError(f"metrics: {where} {name!r} is not an event name ({EVENT_RE.pattern})")
    return name


def _guardrail(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict) or set(raw) != {"event", "direction"}:
        raise ConfigError(
            'metrics: a guardrail is {"event": NAME, "direction": "increase"|"decrease"}'
        )
    name = _metric_name(raw["event"], "guardrail")
    if raw["direction"] not in DIRECTIONS:
        raise ConfigError(
            f"metrics: guardrail {name!r} needs a direction of {' or '.join(DIRECTIONS)} "
            f"(the good direction), not {raw['direction']!r}"
        )
    return {"event": name, "direction": raw["direction"]}


def _listed(metrics: dict, name: str) -> list:
    items = metrics[name]
    if not isinstance(items, list) or len(items) > METRICS_MAX:
        raise ConfigError(f"metrics: {name!r} must be a list of at most {METRICS_MAX}")
    return items


def check_metrics(metrics: object) -> dict:
    """Validate `metrics`: primary, secondary and guardrail event names, nothing else."""
    if metrics is None:
        return {}
    if not isinstance(metrics, dict):
        raise ConfigError("'metrics' must be an object with primary, secondary, guardrails")
    unknown = sorted(set(metrics) - METRIC_KEYS)
    if unknown:
        raise ConfigError(
            f"metrics: unknown field(s) {', '.join(map(str, unknown))} "
            f"(allowed: {', '.join(sorted(METRIC_KEYS))})"
        )
    out: dict = {}
    if "primary" in metrics:
        out["primary"] = _metric_name(metrics["primary"], "primary")
    if "secondary" in metrics:
        out["secondary"] = [_metric_name(m, "secondary") for m in _listed(metrics, "secondary")]
    if "guardrails" in metrics:
        out["guardrails"] = [_guardrail(g) for g in _listed(metrics, "guardrails")]
    guards = [g["event"] for g in out.get("guardrails", [])]
    named = [out.get("primary", "conversion"), *out.get("secondary", []), *guards]
    if len(named) != len(set(named)):
        raise ConfigError("metrics: an event is named twice (primary, secondary, guardrails)")
    return out


def parse_definition(key: object, raw: object) -> Definition:
    """Validate one experiment definition (a config file entry); raise ConfigError."""
    key = check_key(key)
    if not isinstance(raw, dict):
        raise ConfigError(f"{key}: the definition must be a JSON object")
    unknown = sorted(set(raw) - CONFIG_FIELDS)
    if unknown:
        raise ConfigError(
            f"{key}: unknown field(s) {', '.join(unknown)} "
            f"(allowed: {', '.join(sorted(CONFIG_FIELDS))})"
        )
    try:
        variants = check_variants(raw.get("variants"))
        weights = check_weights(raw.get("weights"), variants)
        salt = check_salt(raw.get("salt"), key)
        analysis = check_analysis(raw.get("analysis"))
        planned = check_planned_users(raw.get("planned_users"))
        metrics = check_metrics(raw.get("metrics"))
    except ConfigError as exc:
        raise ConfigError(f"{key}: {exc}") from None
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{key}: 'description' must be a string")
    return Definition(key, variants, weights, salt, description, analysis, planned, metrics)


def invalid_definition(exc: ConfigError) -> Invalid:
    """Return the error for a definition or config file that breaks the rules (400)."""
    return Invalid(str(exc), code="invalid_experiment")


# --- traffic ----------------------------------------------------------------------


def check_user(user: object) -> str:
    if not isinstance(user, str) or not user.strip():
        raise Invalid("'user' must be a non-empty string.")
    if len(user) > USER_MAX:
        raise Invalid(f"'user' is longer than {USER_MAX} characters.")
    # The hash input and a stored column: NUL cannot be stored, a lone surrogate
    # (from JSON) cannot be encoded.
    problem = text_problem(user)
    if problem:
        raise Invalid(f"'user' {problem}.")
    return user


def check_event_name(name: object) -> str:
    if not isinstance(name, str) or not EVENT_RE.fullmatch(name):
        raise Invalid(f"'event' must match {EVENT_RE.pattern}.")
    return name


def check_value(value: object) -> float | None:
    """Return an event's optional value as a float; refuse non-numbers and huge ones."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid("'value' must be a JSON number.")
    # abs() before float(): an int too large for a float must not raise OverflowError.
    if (isinstance(value, float) and not math.isfinite(value)) or abs(value) > VALUE_MAX:
        raise Invalid(
            f"'value' must be a finite number between -{VALUE_MAX:.0e} and {VALUE_MAX:.0e}."
        )
    return float(value)


# --- stored experiments -----------------------------------------------------------


def unknown_experiment(key: object) -> NotFound:
    """Return the error for an experiment key that names no experiment (404)."""
    return NotFound(f"No experiment {key!r}.", code="unknown_experiment")


def get_experiment(key: str, *, for_update: bool = False) -> Experiment:
    """Return the experiment named `key` or raise 404 `unknown_experiment`.

    `for_update` locks the row until the surrounding transaction ends
    (PostgreSQL; SQLite's IMMEDIATE transactions already hold the write lock).
    """
    rows = Experiment.objects.select_for_update() if for_update else Experiment.objects.all()
    exp = rows.filter(key=key).first() if isinstance(key, str) and KEY_RE.fullmatch(key) else None
    if exp is None:
        raise unknown_experiment(key)
    return exp


def check_salt_free(salt: str, key: str) -> None:
    """Refuse (409 `duplicate_salt`) a salt another experiment uses."""
    other = Experiment.objects.filter(salt=salt).exclude(key=key)
    taken_by = other.values_list("key", flat=True).first()
    if taken_by is not None:
        raise Conflict(
            f"Salt {salt!r} is already used by experiment {taken_by!r}: salts must be unique, "
            "or every user would get correlated variants.",
            code="duplicate_salt",
        )


def metric_event_names(config: object) -> list[str]:
    """Return the primary, secondary and guardrail events of a metrics config, once each."""
    metrics = config if isinstance(config, dict) else {}
    names = [metrics.get("primary") or "conversion", *metrics.get("secondary", [])]
    names += [g["event"] for g in metrics.get("guardrails", []) if isinstance(g, dict)]
    return list(dict.fromkeys(names))
