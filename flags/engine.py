"""Pure flag logic: typing, rule/rollout validation, and compiled evaluation.

Nothing here touches the database. `compile_flag` turns a stored flag into a
`CompiledFlag` whose `evaluate(context)` runs in a few microseconds: rules are
pre-built closures and the rollout bucket is one BLAKE2 hash.
"""

import copy
import hashlib
import json
import math
from collections.abc import Callable
from typing import Any, NamedTuple

from echopilot.parsers import json_problem, text_problem
from flags.limits import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_RULES,
    MAX_SAFE_INTEGER,
    MAX_VALUE_BYTES,
    NAME_MAX,
)

# The same names as flags.models.FlagType (this module stays free of Django).
TYPES = ("boolean", "string", "integer", "float", "object")
OPERATORS = ("eq", "neq", "in", "not_in", "contains", "starts_with", "gt", "gte", "lt", "lte")
# Rollout buckets are basis points, so percentages may have two decimals.
BUCKETS = 10_000


class Reason:
    STATIC = "STATIC"
    TARGETING_MATCH = "TARGETING_MATCH"
    SPLIT = "SPLIT"
    DEFAULT = "DEFAULT"
    DISABLED = "DISABLED"
    ERROR = "ERROR"


class Evaluation(NamedTuple):
    value: Any
    variant: str
    reason: str


class FlagError(Exception):
    """An evaluation that cannot produce a value; `code` is the OpenFeature error code."""

    code = "GENERAL"

    def __init__(self, key: str, detail: str):
        super().__init__(detail)
        self.key = key
        self.detail = detail


class FlagNotFound(FlagError):
    code = "FLAG_NOT_FOUND"


class TargetingKeyMissing(FlagError):
    code = "TARGETING_KEY_MISSING"


class InvalidContext(FlagError):
    code = "INVALID_CONTEXT"


class InvalidFlag(ValueError):
    """A value, rule or rollout that cannot be stored; the message says why."""


class WrongType(InvalidFlag):
    """A value whose JSON type does not fit the flag's type."""


def json_type(value: Any) -> str | None:
    """Return the flag type a JSON value naturally has (None for null/non-finite)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float" if math.isfinite(value) else None
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict | list):
        return "object"
    return None


def coerce(value: Any, flag_type: str, what: str = "value") -> Any:
    """Return `value` as `flag_type` or raise InvalidFlag (an int fits a float flag)."""
    actual = json_type(value)
    if actual == flag_type:
        if flag_type == "integer" and abs(value) > MAX_SAFE_INTEGER:
            raise InvalidFlag(
                f"{what}: integer flags hold at most ±{MAX_SAFE_INTEGER} (2^53 - 1), "
                "the integers every JSON client reads exactly."
            )
        check_value(value, what)
        return value
    if flag_type == "float" and actual == "integer":
        try:
            return float(value)
        except OverflowError:
            raise WrongType(f"{what}: the integer is too large for a float flag.") from None
    if flag_type == "integer" and actual == "float":
        if value.is_integer():
            return coerce(int(value), flag_type, what)
        raise WrongType(f"{what}: {value!r} is not an integer (this is an integer flag).")
    shown = actual or ("null" if value is None else "a non-finite number")
    article = "an" if flag_type in ("integer", "object") else "a"
    raise WrongType(f"{what}: expected {article} {flag_type}, got {shown}.")


def check_value(value: Any, what: str) -> None:
    """Raise InvalidFlag unless `value` is storable JSON of at most MAX_VALUE_BYTES."""
    problem = json_problem(value, MAX_DEPTH)
    if problem:
        raise InvalidFlag(f"{what}: {problem}.")
    if isinstance(value, bool) or value is None:
        return
    try:
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    except ValueError:  # an integer past Python's int/str digit limit
        raise InvalidFlag(f"{what}: the number is too large.") from None
    if size > MAX_VALUE_BYTES:
        raise InvalidFlag(f"{what}: {size} bytes as JSON; at most {MAX_VALUE_BYTES // 1024} KiB.")


def check_text(text: Any, what: str) -> None:
    """Raise InvalidFlag if a string holds NUL or a lone surrogate."""
    problem = isinstance(text, str) and text_problem(text)
    if problem:
        raise InvalidFlag(f"{what}: {problem}.")


def context_problem(context: dict) -> str | None:
    """Return why an evaluation context cannot be used (text, nesting), or None."""
    problem = json_problem(context, MAX_DEPTH)
    return f"context: {problem}" if problem else None


def _name(raw: Any, default: str, what: str) -> str:
    if raw is None:
        return default
    if not isinstance(raw, str) or not raw.strip() or len(raw) > NAME_MAX:
        raise InvalidFlag(f"{what}: name must be a non-empty string of at most {NAME_MAX}.")
    if raw == "default":
        raise InvalidFlag(f"{what}: 'default' is reserved for the flag's own value.")
    check_text(raw, f"{what}: name")
    return raw


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | bool) or _is_number(v)


def normalize_condition(raw: Any, what: str) -> dict:
    if not isinstance(raw, dict):
        raise InvalidFlag(f"{what}: a condition must be an object.")
    unknown = sorted(set(raw) - {"attribute", "op", "value"})
    if unknown:
        raise InvalidFlag(f"{what}: unknown field(s) {', '.join(unknown)}.")
    attribute = raw.get("attribute")
    if not isinstance(attribute, str) or not attribute.strip():
        raise InvalidFlag(f"{what}: 'attribute' (a context attribute name) is required.")
    check_text(attribute, f"{what}.attribute")
    op = raw.get("op")
    if op not in OPERATORS:
        raise InvalidFlag(f"{what}: unknown operator {op!r} (use one of {', '.join(OPERATORS)}).")
    if "value" not in raw:
        raise InvalidFlag(f"{what}: 'value' is required.")
    operand = raw["value"]
    if op in ("in", "not_in"):
        if not isinstance(operand, list) or not all(_is_scalar(v) for v in operand):
            raise InvalidFlag(f"{what}: '{op}' needs a list of strings, numbers or booleans.")
    elif op == "starts_with":
        if not isinstance(operand, str):
            raise InvalidFlag(f"{what}: 'starts_with' needs a string.")
    elif op in ("gt", "gte", "lt", "lte"):
        if not (isinstance(operand, str) or _is_number(operand)):
            raise InvalidFlag(f"{what}: '{op}' needs a number or a string.")
    if not _is_scalar(operand) and op not in ("in", "not_in"):
        raise InvalidFlag(f"{what}: '{op}' needs a string, number or boolean.")
    problem = json_problem(operand, MAX_DEPTH)
    if problem:
        raise InvalidFlag(f"{what}: {problem}.")
    return {"attribute": attribute, "op": op, "value": operand}


def normalize_rules(raw: Any, flag_type: str) -> list[dict]:
    """Validate targeting rules; return them in canonical form or raise InvalidFlag."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidFlag("rules: must be a list.")
    if len(raw) > MAX_RULES:
        raise InvalidFlag(f"rules: at most {MAX_RULES}.")
    rules, names = [], set()
    for i, rule in enumerate(raw):
        what = f"rules[{i}]"
        if not isinstance(rule, dict):
            raise InvalidFlag(f"{what}: a rule must be an object.")
        unknown = sorted(set(rule) - {"name", "conditions", "value"})
        if unknown:
            raise InvalidFlag(f"{what}: unknown field(s) {', '.join(unknown)}.")
        name = _name(rule.get("name"), f"rule-{i + 1}", what)
        if name in names:
            raise InvalidFlag(f"{what}: duplicate rule name {name!r}.")
        names.add(name)
        conditions = rule.get("conditions")
        if not isinstance(conditions, list) or not conditions:
            raise InvalidFlag(f"{what}: 'conditions' must be a non-empty list.")
        if len(conditions) > MAX_CONDITIONS:
            raise InvalidFlag(f"{what}: at most {MAX_CONDITIONS} conditions.")
        if "value" not in rule:
            raise InvalidFlag(f"{what}: 'value' (served when the rule matches) is required.")
        rules.append(
            {
                "name": name,
                "conditions": [
                    normalize_condition(c, f"{what}.conditions[{j}]")
                    for j, c in enumerate(conditions)
                ],
                "value": coerce(rule["value"], flag_type, f"{what}.value"),
            }
        )
    return rules


def normalize_rollout(raw: Any, flag_type: str) -> dict | None:
    """Validate a rollout; return it in canonical form (None: no rollout)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidFlag("rollout: must be an object or null.")
    unknown = sorted(set(raw) - {"percentage", "value", "name"})
    if unknown:
        raise InvalidFlag(f"rollout: unknown field(s) {', '.join(unknown)}.")
    pct: Any = raw.get("percentage")
    # Range first: math.isfinite() overflows on an integer past a float's range.
    if not _is_number(pct) or not 0 <= pct <= 100 or not math.isfinite(pct):
        raise InvalidFlag("rollout: 'percentage' must be a number from 0 to 100.")
    if "value" not in raw:
        raise InvalidFlag("rollout: 'value' (served inside the rollout) is required.")
    return {
        "percentage": pct,
        "value": coerce(raw["value"], flag_type, "rollout.value"),
        "name": _name(raw.get("name"), "rollout", "rollout"),
    }


def bucket(flag_key: str, targeting_key: str) -> int:
    """Return the stable rollout bucket (0..9999) of a targeting key for a flag.

    Hashing the flag key with the targeting key keeps a user in as the
    percentage grows and picks independent users for different flags.
    """
    digest = hashlib.blake2b(f"{flag_key}\x00{targeting_key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


# --- compiled conditions -------------------------------------------------------

_MISSING = object()
# A compiled condition: does this context attribute value pass?
Test = Callable[[Any], bool]


def _same_kind(a: Any, b: Any) -> bool:
    """Equality that does not confuse True with 1 (JSON types differ)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and a == b


def _ordered(a: Any, b: Any) -> bool:
    return (_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str))


def _compile_condition(cond: dict[str, Any]) -> Test:
    op, want = cond["op"], cond["value"]
    if op == "eq":
        return lambda v: _same_kind(v, want)
    if op == "neq":
        return lambda v: not _same_kind(v, want)
    if op in ("in", "not_in"):
        # A set gives O(1) lookups for the common all-strings case.
        strings = frozenset(w for w in want if isinstance(w, str))
        others = [w for w in want if not isinstance(w, str)]

        def member(v: Any) -> bool:
            if isinstance(v, str):
                return v in strings
            return any(_same_kind(v, w) for w in others)

        if op == "in":
            return member
        return lambda v: not member(v)
    if op == "contains":

        def contains(v: Any) -> bool:
            if isinstance(v, str):
                return isinstance(want, str) and want in v
            if isinstance(v, list):
                return any(_same_kind(x, want) for x in v)
            return False

        return contains
    if op == "starts_with":
        return lambda v: isinstance(v, str) and v.startswith(want)
    compare: dict[str, Test] = {
        "gt": lambda v: _ordered(v, want) and v > want,
        "gte": lambda v: _ordered(v, want) and v >= want,
        "lt": lambda v: _ordered(v, want) and v < want,
        "lte": lambda v: _ordered(v, want) and v <= want,
    }
    return compare[op]


def _compile_rule(rule: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    tests = [(c["attribute"], _compile_condition(c)) for c in rule["conditions"]]

    def matches(context: dict) -> bool:
        for attribute, test in tests:
            v = context.get(attribute, _MISSING)
            # A missing attribute fails every condition, `neq` included.
            if v is _MISSING or not test(v):
                return False
        return True

    return matches


class CompiledFlag:
    """One flag ready to evaluate; immutable once built."""

    __slots__ = (
        "key",
        "type",
        "value",
        "enabled",
        "description",
        "_rules",
        "_rollout",
        "_static",
        "_mutable",
        "rule_count",
        "rollout_pct",
    )

    def __init__(self, key, flag_type, value, rules, rollout, enabled, description=""):
        self.key = key
        self.type = flag_type
        self.value = value
        self.enabled = enabled
        self.description = description
        self._mutable = flag_type == "object"
        self._rules = tuple((r["name"], r["value"], _compile_rule(r)) for r in rules)
        self._rollout = None
        self.rule_count = len(rules)
        self.rollout_pct = None
        if rollout is not None:
            self.rollout_pct = rollout["percentage"]
            threshold = rollout["percentage"] * BUCKETS / 100
            self._rollout = (threshold, rollout["value"], rollout["name"])
        self._static = not self._rules and self._rollout is None

    def evaluate(self, context: dict | None = None) -> Evaluation:
        """Return (value, variant, reason) for `context` (OpenFeature reasons)."""
        result = self._evaluate(context or {})
        if self._mutable:
            # Object values are shared by every caller: hand out a copy.
            return Evaluation(copy.deepcopy(result[0]), result[1], result[2])
        return result

    def _evaluate(self, context: dict) -> Evaluation:
        if not self.enabled:
            return Evaluation(self.value, "default", Reason.DISABLED)
        if self._static:
            return Evaluation(self.value, "default", Reason.STATIC)
        for name, value, matches in self._rules:
            if matches(context):
                return Evaluation(value, name, Reason.TARGETING_MATCH)
        if self._rollout is None:
            return Evaluation(self.value, "default", Reason.DEFAULT)
        targeting_key = context.get("targetingKey")
        if targeting_key is None or targeting_key == "":
            raise TargetingKeyMissing(
                self.key, "This flag has a percentage rollout: send a targetingKey."
            )
        if not isinstance(targeting_key, str):
            raise InvalidContext(self.key, "targetingKey must be a string.")
        threshold, value, name = self._rollout
        try:
            in_rollout = bucket(self.key, targeting_key) < threshold
        except UnicodeEncodeError:
            raise InvalidContext(self.key, "targetingKey is not valid Unicode text.") from None
        if in_rollout:
            return Evaluation(value, name, Reason.SPLIT)
        return Evaluation(self.value, "default", Reason.SPLIT)


def compile_flag(
    key: str,
    flag_type: str,
    value: Any,
    rules: list,
    rollout: dict | None,
    enabled: bool,
    description: str = "",
) -> CompiledFlag:
    """Build a CompiledFlag from stored fields (already validated)."""
    # Also checks the stored value, so a hand-edited row cannot break evaluation.
    value = coerce(value, flag_type)
    rules = normalize_rules(rules, flag_type)
    rollout = normalize_rollout(rollout, flag_type)
    return CompiledFlag(key, flag_type, value, rules, rollout, enabled, description)
