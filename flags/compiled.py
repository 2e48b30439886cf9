"""Compiled flags: evaluation in about a microsecond, counted once per call.

`compile_flag` turns stored (validated) fields into a `CompiledFlag`. All the
work that does not depend on the context is done here, once per snapshot:
each condition is a closure specialised for its operator and operand type,
every outcome is a prebuilt `(Evaluation, usage key)` pair, and the rollout
hash starts from a BLAKE2 state already fed the flag key. An evaluation then
runs the closures, hashes the targeting key and counts the outcome
(`flags.usage`). Segments and prerequisites are linked by the snapshot
(`link`), which knows every flag and segment.
"""

import copy
import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from flags import usage
from flags.engine import (
    BUCKETS,
    Evaluation,
    FlagError,
    InvalidContext,
    PrerequisiteFailed,
    Reason,
    TargetingKeyMissing,
    coerce,
    normalize_prerequisites,
    normalize_rollout,
    normalize_rules,
)

_MISSING: Any = object()
_EMPTY: dict[str, Any] = {}
# A compiled condition or rule: does it hold for this context?
Match = Callable[[Mapping[str, Any]], bool]
Outcome = tuple[Evaluation, list[int]]  # (the evaluation, its usage counter cell)


def _is_number(v: Any) -> bool:
    t = v.__class__
    return t is int or t is float


def _same_kind(a: Any, b: Any) -> bool:
    """Equality that does not confuse True with 1 (JSON types differ)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and a == b


def _tag(v: Any) -> Any:
    """Return a hashable key under which JSON-equal scalars meet (True apart from 1)."""
    t = v.__class__
    if t is bool:
        return ("b", v)
    if t is int or t is float:
        return ("n", v)
    if t is str:
        return ("s", v)
    if v is None:
        return ("z", None)
    return _MISSING  # a list or object never equals a scalar operand


class _Items:
    """A context list seen by `contains`: its items as a set, built once per evaluation."""

    __slots__ = ("tags",)

    def __init__(self, items: list):
        self.tags = frozenset(_tag(x) for x in items)


_GET = _MISSING  # the default of ctx.get: tells a missing attribute from None


def _condition(attribute: str, op: str, want: Any) -> Match:
    """Return a closure testing one condition against a context."""
    get = _GET
    if op == "eq" and want.__class__ is str:
        return lambda ctx: (v := ctx.get(attribute)).__class__ is str and v == want
    if op in ("in", "not_in"):
        return _membership(attribute, op, want)
    if op == "contains":
        return _contains(attribute, want)
    if op in ("gt", "gte", "lt", "lte"):
        return _ordering(attribute, op, want)
    if op == "starts_with":
        return lambda ctx: (v := ctx.get(attribute, get)).__class__ is str and v.startswith(want)
    if op == "eq":
        return lambda ctx: (v := ctx.get(attribute, get)) is not get and _same_kind(v, want)
    # neq: a missing attribute fails it too
    return lambda ctx: (v := ctx.get(attribute, get)) is not get and not _same_kind(v, want)


def _membership(attribute: str, op: str, want: Any) -> Match:
    """`in` / `not_in`: strings by one set lookup, other kinds compared one by one."""
    get = _GET
    strings = frozenset(w for w in want if isinstance(w, str))
    others = [w for w in want if not isinstance(w, str)]

    def member(v: Any) -> bool:
        if v.__class__ is str:
            return v in strings
        return any(_same_kind(v, w) for w in others)

    if op == "in" and not others:  # the common all-strings list: one set lookup
        return lambda ctx: (v := ctx.get(attribute)).__class__ is str and v in strings
    if op == "in":
        return lambda ctx: (v := ctx.get(attribute, get)) is not get and member(v)
    return lambda ctx: (v := ctx.get(attribute, get)) is not get and not member(v)


def _contains(attribute: str, want: Any) -> Match:
    """`contains`: a substring of a text, or an item of a list (a set, built once)."""
    get = _GET
    wanted = _tag(want)
    if want.__class__ is str:

        def contains_text(ctx: Mapping[str, Any]) -> bool:
            v = ctx.get(attribute)
            if v.__class__ is str:
                return want in v
            if v.__class__ is _Items:
                return wanted in v.tags
            return isinstance(v, list) and wanted in _Items(v).tags

        return contains_text

    def contains(ctx: Mapping[str, Any]) -> bool:
        v = ctx.get(attribute, get)
        if v.__class__ is str:
            return want.__class__ is str and want in v
        if v.__class__ is _Items:
            return wanted in v.tags
        if isinstance(v, list):  # not prepared (a direct call): build the set here
            return wanted in _Items(v).tags
        return False

    return contains


def _ordering(attribute: str, op: str, want: Any) -> Match:
    """`gt`/`gte`/`lt`/`lte` against a number (numbers only) or a string (strings only)."""
    get = _GET
    test = {
        "gt": lambda v: v > want,
        "gte": lambda v: v >= want,
        "lt": lambda v: v < want,
        "lte": lambda v: v <= want,
    }[op]
    if not _is_number(want):  # a string operand
        return lambda ctx: (v := ctx.get(attribute, get)).__class__ is str and test(v)
    if op == "lt":  # inlined: the type test and comparison of the commonest case
        return lambda ctx: (
            ((t := (v := ctx.get(attribute)).__class__) is int or t is float) and v < want
        )
    return lambda ctx: _is_number(v := ctx.get(attribute, get)) and test(v)


def compile_conditions(conditions: list[dict[str, Any]]) -> Match:
    """Return one closure that holds when every condition holds (a rule or a segment)."""
    tests = [_condition(c["attribute"], c["op"], c["value"]) for c in conditions]
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda ctx: first(ctx) and second(ctx)
    return lambda ctx: all(t(ctx) for t in tests)


def contains_attributes(conditions: list[dict[str, Any]]) -> set[str]:
    return {c["attribute"] for c in conditions if c["op"] == "contains"}


def _never(ctx: Mapping[str, Any]) -> bool:
    return False


class CompiledFlag:
    """One flag ready to evaluate; immutable once the snapshot linked it."""

    __slots__ = (
        "key",
        "type",
        "value",
        "enabled",
        "description",
        "rule_count",
        "rollout_pct",
        "prerequisites",
        "_spec_rules",
        "_rules",
        "_rollout",
        "_first",
        "_default",
        "_error",
        "_mutable",
        "_lists",
        "_prereqs",
    )

    def __init__(
        self, key, flag_type, value, rules, rollout, enabled, description="", prerequisites=()
    ):
        self.key = key
        self.type = flag_type
        self.value = value
        self.enabled = enabled
        self.description = description
        self.rule_count = len(rules)
        self.prerequisites = tuple(prerequisites)
        self._spec_rules = rules
        self._mutable = flag_type == "object"
        self._error = usage.cell((key, "default", Reason.ERROR))
        self._default = self._outcome(value, "default", Reason.DEFAULT)
        self.rollout_pct = None
        self._rollout = None
        if rollout is not None:
            self.rollout_pct = rollout["percentage"]
            hasher = hashlib.blake2b(f"{key}\x00".encode(), digest_size=8)
            self._rollout = (
                rollout["percentage"] * BUCKETS / 100,
                hasher,
                self._outcome(rollout["value"], rollout["name"], Reason.SPLIT),
                self._outcome(value, "default", Reason.SPLIT),
            )
        self.link({}, {})

    def _outcome(self, value: Any, variant: str, reason: str) -> Outcome:
        return Evaluation(value, variant, reason), usage.cell((self.key, variant, reason))

    def link(self, segments: Mapping[str, Any], flags: Mapping[str, "CompiledFlag"]) -> None:
        """Resolve segment rules and prerequisites against one snapshot's segments and flags.

        `segments` maps a name to (match, contains attributes); a missing segment
        or prerequisite flag never matches.
        """
        rules, lists = [], set()
        for rule in self._spec_rules:
            if "segment" in rule:
                match, attrs = segments.get(rule["segment"], (_never, set()))
            else:
                match = compile_conditions(rule["conditions"])
                attrs = contains_attributes(rule["conditions"])
            lists |= attrs
            rules.append(
                (match, self._outcome(rule["value"], rule["name"], Reason.TARGETING_MATCH))
            )
        self._rules = tuple(rules)
        self._lists = tuple(sorted(lists))
        prereqs = []
        for p in self.prerequisites:
            failed = PrerequisiteFailed(self.value, "default", Reason.PREREQUISITE_FAILED)
            failed.prerequisite = p["flag"]
            counted = usage.cell((self.key, "default", Reason.PREREQUISITE_FAILED))
            prereqs.append((_prerequisite(flags.get(p["flag"]), p["value"]), (failed, counted)))
        self._prereqs = tuple(prereqs)
        self._first = self._static_outcome()

    def _static_outcome(self) -> Outcome | None:
        """Return the outcome that needs no context (disabled, static), else None."""
        if not self.enabled:
            return self._outcome(self.value, "default", Reason.DISABLED)
        if not self._rules and self._rollout is None and not self._prereqs:
            return self._outcome(self.value, "default", Reason.STATIC)
        return None

    def evaluate(self, context: Mapping[str, Any] | None = None) -> Evaluation:
        """Return (value, variant, reason) for `context` (OpenFeature reasons); count it."""
        try:
            result, counted = self._evaluate(context or _EMPTY)
        except FlagError:
            usage.count(self._error)
            raise
        usage.count(counted)
        if self._mutable:
            # Object values are shared by every caller: hand out a copy.
            copied = result._replace(value=copy.deepcopy(result.value))
            if isinstance(result, PrerequisiteFailed) and isinstance(copied, PrerequisiteFailed):
                copied.prerequisite = result.prerequisite
            return copied
        return result

    def _evaluate(self, context: Mapping[str, Any]) -> Outcome:
        first = self._first
        if first is not None:
            return first
        for holds, failed in self._prereqs:
            if not holds(context):
                return failed
        for attribute in self._lists:
            if context.get(attribute).__class__ is list:  # rare: build the sets once
                context = _prepare(context, self._lists)
                break
        for match, outcome in self._rules:
            if match(context):
                return outcome
        rollout = self._rollout
        if rollout is None:
            return self._default
        targeting_key = context.get("targetingKey")
        if targeting_key.__class__ is not str:
            if targeting_key is None or targeting_key == "":
                raise TargetingKeyMissing(
                    self.key, "This flag has a percentage rollout: send a targetingKey."
                )
            raise InvalidContext(self.key, "targetingKey must be a string.")
        if not targeting_key:
            raise TargetingKeyMissing(
                self.key, "This flag has a percentage rollout: send a targetingKey."
            )
        hasher = rollout[1].copy()
        try:
            hasher.update(targeting_key.encode())
        except UnicodeEncodeError:
            raise InvalidContext(self.key, "targetingKey is not valid Unicode text.") from None
        if int.from_bytes(hasher.digest(), "big") % BUCKETS < rollout[0]:
            return rollout[2]
        return rollout[3]


def _prerequisite(flag: CompiledFlag | None, want: Any) -> Match:
    """Return a closure: does prerequisite `flag` evaluate to `want` for this context?

    Each evaluation of the prerequisite is counted as its own. A flag that
    needs no context (static, disabled) is decided here, once.
    """
    if flag is None:
        return _never
    count = usage.count
    first = flag._first
    if first is not None:
        holds, slot = _same_kind(first[0].value, want), first[1]

        def static(ctx: Mapping[str, Any]) -> bool:
            # Counted without usage.count(): the flag's own count closes batches.
            slot[0] += 1
            return holds

        return static

    def holds(ctx: Mapping[str, Any]) -> bool:
        try:
            result, counted = flag._evaluate(ctx)
        except FlagError:
            count(flag._error)
            return False
        count(counted)
        return _same_kind(result.value, want)

    return holds


def _prepare(context: Mapping[str, Any], attributes: tuple[str, ...]) -> Mapping[str, Any]:
    """Return `context` with the lists `contains` tests turned into sets (once)."""
    prepared = None
    for attribute in attributes:
        v = context.get(attribute)
        if v.__class__ is list:
            if prepared is None:
                prepared = dict(context)
            prepared[attribute] = _Items(v)
    return context if prepared is None else prepared


def compile_flag(
    key: str,
    flag_type: str,
    value: Any,
    rules: list,
    rollout: dict | None,
    enabled: bool,
    description: str = "",
    prerequisites: list | None = None,
) -> CompiledFlag:
    """Build a CompiledFlag from stored fields (already validated)."""
    # Also checks the stored value, so a hand-edited row cannot break evaluation.
    value = coerce(value, flag_type)
    rules = normalize_rules(rules, flag_type)
    rollout = normalize_rollout(rollout, flag_type)
    prereqs = normalize_prerequisites(prerequisites)
    return CompiledFlag(key, flag_type, value, rules, rollout, enabled, description, prereqs)
