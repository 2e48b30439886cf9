"""Validation shared by every interface: definitions, users, event names."""

import math
import re
from dataclasses import dataclass

from echopilot.config import ConfigError
from echopilot.errors import ApiError
from echopilot.parsers import text_problem
from experiments.models import Experiment

STREAM = "experiments"
KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
EVENT_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
USER_MAX = 200
VARIANT_MAX = 64
MAX_VARIANTS = 26
MAX_WEIGHT = 1_000_000
BATCH_MAX = 1000
# |value| cap: a batch of 1,000 such values sums to 1e18, far from a float's
# 1.8e308, so SUM(value) in results can never overflow to infinity.
VALUE_MAX = 10**15
CONFIG_FIELDS = {"variants", "weights", "salt", "description"}


@dataclass
class Definition:
    """A validated experiment definition (from the config file, admin or a command)."""

    key: str
    variants: list[str]
    weights: list[int]
    salt: str
    description: str = ""

    def differences(self, exp: Experiment) -> list[str]:
        """Return the names of the fields where `exp` differs from this definition."""
        return [
            name
            for name in ("variants", "weights", "salt", "description")
            if getattr(exp, name) != getattr(self, name)
        ]


# --- validation -------------------------------------------------------------------


def check_key(key) -> str:
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise ConfigError(f"experiment key {key!r} must match {KEY_RE.pattern}")
    return key


def check_variants(variants) -> list[str]:
    if not isinstance(variants, list) or not variants:
        raise ConfigError("'variants' must be a non-empty list of names")
    if len(variants) < 2:
        raise ConfigError("'variants' needs at least two names (a control and a treatment)")
    if len(variants) > MAX_VARIANTS:
        raise ConfigError(f"'variants' has {len(variants)} names; at most {MAX_VARIANTS}")
    for name in variants:
        if not isinstance(name, str) or not name.strip() or len(name) > VARIANT_MAX:
            raise ConfigError(
                f"variant {name!r} must be a non-empty string of at most {VARIANT_MAX} characters"
            )
    duplicates = sorted({v for v in variants if variants.count(v) > 1})
    if duplicates:
        raise ConfigError(f"duplicate variants: {', '.join(duplicates)}")
    return list(variants)


def check_weights(weights, variants: list[str]) -> list[int]:
    if weights is None:
        return [1] * len(variants)
    if not isinstance(weights, list):
        raise ConfigError("'weights' must be a list of positive integers")
    for w in weights:
        if isinstance(w, bool) or not isinstance(w, int) or w <= 0 or w > MAX_WEIGHT:
            raise ConfigError(
                f"weight {w!r} is not a positive integer (at most {MAX_WEIGHT}): "
                "weights are positive integers"
            )
    if len(weights) != len(variants):
        raise ConfigError(
            f"{len(weights)} weights for {len(variants)} variants: give one weight per variant"
        )
    return list(weights)


def check_salt(salt, key: str) -> str:
    if salt is None:
        return key  # an omitted salt defaults to the experiment key
    if not isinstance(salt, str) or not salt or len(salt) > 200:
        raise ConfigError("'salt' must be a non-empty string of at most 200 characters")
    return salt


def parse_definition(key, raw) -> Definition:
    """Validate one experiment definition (a config file entry); raise ConfigError."""
    check_key(key)
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
    except ConfigError as exc:
        raise ConfigError(f"{key}: {exc}") from None
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{key}: 'description' must be a string")
    return Definition(key, variants, weights, salt, description)


def _invalid(exc: ConfigError) -> ApiError:
    return ApiError(str(exc), code="invalid_experiment", status_code=400)


def check_user(user) -> str:
    if not isinstance(user, str) or not user.strip():
        raise ApiError("'user' must be a non-empty string.", code="invalid")
    if len(user) > USER_MAX:
        raise ApiError(f"'user' is longer than {USER_MAX} characters.", code="invalid")
    # The hash input and a stored column: NUL cannot be stored, a lone surrogate
    # (from JSON) cannot be encoded.
    problem = text_problem(user)
    if problem:
        raise ApiError(f"'user' {problem}.", code="invalid")
    return user


def check_event_name(name) -> str:
    if not isinstance(name, str) or not EVENT_RE.fullmatch(name):
        raise ApiError(f"'event' must match {EVENT_RE.pattern}.", code="invalid")
    return name


def check_value(value) -> float | None:
    """Return an event's optional value as a float; refuse non-numbers and huge ones."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError("'value' must be a JSON number.", code="invalid")
    # abs() before float(): an int too large for a float must not raise OverflowError.
    if (isinstance(value, float) and not math.isfinite(value)) or abs(value) > VALUE_MAX:
        raise ApiError(
            f"'value' must be a finite number between -{VALUE_MAX:.0e} and {VALUE_MAX:.0e}.",
            code="invalid",
        )
    return float(value)


def get_experiment(key: str, *, for_update: bool = False) -> Experiment:
    """Return the experiment named `key` or raise 404 `unknown_experiment`.

    `for_update` locks the row until the surrounding transaction ends
    (PostgreSQL; SQLite's IMMEDIATE transactions already hold the write lock).
    """
    valid = isinstance(key, str) and KEY_RE.fullmatch(key)
    rows = Experiment.objects.select_for_update() if for_update else Experiment.objects
    exp = rows.filter(key=key).first() if valid else None
    if exp is None:
        raise ApiError(f"No experiment {key!r}.", code="unknown_experiment", status_code=404)
    return exp


def check_salt_free(salt: str, key: str) -> None:
    other = Experiment.objects.filter(salt=salt).exclude(key=key).values_list("key", flat=True)
    other = other.first()
    if other is not None:
        raise ApiError(
            f"Salt {salt!r} is already used by experiment {other!r}: salts must be unique, "
            "or every user would get correlated variants.",
            code="duplicate_salt",
            status_code=409,
        )
