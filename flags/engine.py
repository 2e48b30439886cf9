"""Pure flag logic: typing, rule/rollout/prerequisite validation, the rollout hash.

Nothing here touches the database. `flags.compiled` turns a stored flag into
a `CompiledFlag` that evaluates in about a microsecond; it is re-exported here.
"""

import hashlib
import json
import math
from typing import Any, NamedTuple

from echopilot.parsers import json_problem, text_problem
from flags.limits import (
    CONTEXT_LIST_MAX,
    CONTEXT_STRING_MAX,
    KEY_MAX_LENGTH,
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_PREREQUISITE_DEPTH,
    MAX_PREREQUISITES,
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
    PREREQUISITE_FAILED = "PREREQUISITE_FAILED"
    ERROR = "ERROR"


class Evaluation(NamedTuple):
    value: Any
    variant: str
    reason: str


class PrerequisiteFailed(Evaluation):
    """A PREREQUISITE_FAILED evaluation; `prerequisite` names the flag that failed."""

    prerequisite = ""


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
    """Return why an evaluation context cannot be used (text, nesting, cost), or None.

    The cost budget: a list holds at most CONTEXT_LIST_MAX items and a string at
    most CONTEXT_STRING_MAX bytes, so no context makes an evaluation expensive.
    """
    problem = json_problem(context, MAX_DEPTH)
    if problem:
        return f"context: {problem}"
    return budget_problem(context)


def budget_problem(context: dict) -> str | None:
    """Return which list or string of `context` is over the evaluation budget, or None."""
    stack: list[tuple[str, Any]] = [("context", context)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if len(item) > CONTEXT_STRING_MAX // 4 and len(item.encode()) > CONTEXT_STRING_MAX:
                return f"{where}: a string of at most {CONTEXT_STRING_MAX} bytes"
        elif isinstance(item, list):
            if len(item) > CONTEXT_LIST_MAX:
                return f"{where}: a list of at most {CONTEXT_LIST_MAX} items ({len(item)} given)"
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(item))
        elif isinstance(item, dict):
            for k, v in item.items():
                if len(k) > CONTEXT_STRING_MAX // 4 and len(k.encode()) > CONTEXT_STRING_MAX:
                    return f"{where}: a key of at most {CONTEXT_STRING_MAX} bytes"
                stack.append((f"{where}.{k[:40]}", v))
    return None


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


def normalize_conditions(raw: Any, what: str) -> list[dict]:
    """Validate a non-empty list of conditions (a rule's or a segment's)."""
    if not isinstance(raw, list) or not raw:
        raise InvalidFlag(f"{what}: 'conditions' must be a non-empty list.")
    if len(raw) > MAX_CONDITIONS:
        raise InvalidFlag(f"{what}: at most {MAX_CONDITIONS} conditions.")
    return [normalize_condition(c, f"{what}.conditions[{j}]") for j, c in enumerate(raw)]


def _rule_target(rule: dict, what: str) -> dict[str, Any]:
    """Return {"conditions": [...]} or {"segment": name}: exactly one of them."""
    if ("conditions" in rule) == ("segment" in rule):
        raise InvalidFlag(f"{what}: give 'conditions' or 'segment' (one of them).")
    if "segment" in rule:
        segment = rule["segment"]
        if not isinstance(segment, str) or not segment or len(segment) > KEY_MAX_LENGTH:
            raise InvalidFlag(f"{what}: 'segment' must name a segment.")
        check_text(segment, f"{what}.segment")
        return {"segment": segment}
    return {"conditions": normalize_conditions(rule["conditions"], what)}


def normalize_rules(raw: Any, flag_type: str) -> list[dict]:
    """Validate targeting rules; return them in canonical form or raise InvalidFlag.

    A rule has `conditions`, or `segment` naming a segment (whether it exists is
    the services' check: this module has no database).
    """
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
        unknown = sorted(set(rule) - {"name", "conditions", "segment", "value"})
        if unknown:
            raise InvalidFlag(f"{what}: unknown field(s) {', '.join(unknown)}.")
        name = _name(rule.get("name"), f"rule-{i + 1}", what)
        if name in names:
            raise InvalidFlag(f"{what}: duplicate rule name {name!r}.")
        names.add(name)
        target = _rule_target(rule, what)
        if "value" not in rule:
            raise InvalidFlag(f"{what}: 'value' (served when the rule matches) is required.")
        value = coerce(rule["value"], flag_type, f"{what}.value")
        rules.append({"name": name, **target, "value": value})
    return rules


def rule_segments(rules: list[dict]) -> set[str]:
    """Return the segment names normalized `rules` refer to."""
    return {r["segment"] for r in rules if "segment" in r}


def normalize_prerequisites(raw: Any) -> list[dict]:
    """Validate prerequisites' shape: [{"flag": key, "value": JSON}], each flag once."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidFlag("prerequisites: must be a list.")
    if len(raw) > MAX_PREREQUISITES:
        raise InvalidFlag(f"prerequisites: at most {MAX_PREREQUISITES}.")
    result, seen = [], set()
    for i, item in enumerate(raw):
        what = f"prerequisites[{i}]"
        if not isinstance(item, dict):
            raise InvalidFlag(f'{what}: must be an object {{"flag", "value"}}.')
        unknown = sorted(set(item) - {"flag", "value"})
        if unknown:
            raise InvalidFlag(f"{what}: unknown field(s) {', '.join(unknown)}.")
        flag = item.get("flag")
        if not isinstance(flag, str) or not flag or len(flag) > KEY_MAX_LENGTH:
            raise InvalidFlag(f"{what}: 'flag' must be a flag key.")
        check_text(flag, f"{what}.flag")
        if flag in seen:
            raise InvalidFlag(f"{what}: {flag!r} is listed twice.")
        seen.add(flag)
        if "value" not in item or json_type(item["value"]) is None:
            raise InvalidFlag(f"{what}: 'value' (what {flag!r} must evaluate to) is required.")
        check_value(item["value"], f"{what}.value")
        result.append({"flag": flag, "value": item["value"]})
    return result


def chain_problem(graph: dict[str, list[str]], start: str) -> str | None:
    """Return why the prerequisite chain from `start` cannot be evaluated, or None.

    `graph` maps a flag key to its prerequisites' keys (a key not in it has
    none). A cycle or a chain deeper than MAX_PREREQUISITE_DEPTH is a problem;
    the first one found is described, e.g. "a cycle (a -> b -> a)".
    """
    stack: list[tuple[str, tuple[str, ...]]] = [(start, (start,))]
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, ()):
            if nxt in path:
                loop = " -> ".join((*path[path.index(nxt) :], nxt))
                return f"a cycle ({loop})"
            if len(path) > MAX_PREREQUISITE_DEPTH:
                chain = " -> ".join((*path, nxt))
                return f"chain deeper than {MAX_PREREQUISITE_DEPTH} ({chain})"
            stack.append((nxt, (*path, nxt)))
    return None


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
