"""The pure evaluation engine: typing, rules, rollout buckets and reasons."""

import pytest

from flags.compiled import compile_flag
from flags.engine import (
    MAX_DEPTH,
    InvalidContext,
    InvalidFlag,
    Reason,
    TargetingKeyMissing,
    bucket,
    coerce,
    normalize_rollout,
    normalize_rules,
)


def rule(name, value, *conditions):
    return {
        "name": name,
        "value": value,
        "conditions": [{"attribute": a, "op": op, "value": v} for a, op, v in conditions],
    }


def flag(value=False, rules=(), rollout=None, enabled=True, flag_type=None, key="f"):
    from flags.engine import json_type

    return compile_flag(key, flag_type or json_type(value), value, list(rules), rollout, enabled)


@pytest.mark.parametrize(
    ("op", "operand", "attribute", "expected"),
    [
        ("eq", "DE", "DE", True),
        ("eq", "DE", "FR", False),
        ("eq", 1, True, False),  # JSON true is not 1
        ("eq", 1, 1.0, True),
        ("neq", "DE", "FR", True),
        ("neq", "DE", "DE", False),
        ("in", ["DE", "AT"], "AT", True),
        ("in", ["DE", "AT"], "FR", False),
        ("in", [1, 2], 2, True),
        ("in", [1, 2], True, False),
        ("not_in", ["DE"], "FR", True),
        ("not_in", ["DE"], "DE", False),
        ("contains", "@acme", "bob@acme.com", True),
        ("contains", "@acme", "bob@other.com", False),
        ("contains", "beta", ["alpha", "beta"], True),
        ("contains", "beta", 5, False),
        ("starts_with", "2.", "2.1.0", True),
        ("starts_with", "2.", "12.0", False),
        ("gt", 18, 19, True),
        ("gt", 18, 18, False),
        ("gte", 18, 18, True),
        ("lt", 18, 17.5, True),
        ("lt", 18, "17", False),  # a string never compares with a number
        ("lte", "2025-01-01", "2024-12-31", True),
        ("lte", 5, True, False),
    ],
)
def test_operators(op, operand, attribute, expected):
    f = flag(False, [rule("r", True, ("attr", op, operand))])
    result = f.evaluate({"attr": attribute})
    assert (result.reason == Reason.TARGETING_MATCH) is expected
    assert result.value is expected


def test_missing_attribute_fails_every_condition_even_neq():
    f = flag(False, [rule("r", True, ("country", "neq", "DE"))])
    assert f.evaluate({}).reason == Reason.DEFAULT


def test_all_conditions_must_hold_and_first_matching_rule_wins():
    f = flag(
        "off",
        [
            rule("de-beta", "beta", ("country", "eq", "DE"), ("plan", "in", ["beta"])),
            rule("de", "de", ("country", "eq", "DE")),
            rule("any-beta", "b", ("plan", "eq", "beta")),
        ],
    )
    assert f.evaluate({"country": "DE", "plan": "beta"}) == ("beta", "de-beta", "TARGETING_MATCH")
    assert f.evaluate({"country": "DE", "plan": "pro"}) == ("de", "de", "TARGETING_MATCH")
    assert f.evaluate({"country": "FR", "plan": "beta"}) == ("b", "any-beta", "TARGETING_MATCH")
    assert f.evaluate({"country": "FR"}) == ("off", "default", "DEFAULT")


def test_reasons_static_disabled_and_split():
    assert flag(True).evaluate({}) == (True, "default", "STATIC")
    disabled = flag(
        False, [rule("r", True, ("a", "eq", 1))], {"percentage": 100, "value": True}, enabled=False
    )
    assert disabled.evaluate({"a": 1, "targetingKey": "u"}) == (False, "default", "DISABLED")
    everyone = flag(False, rollout={"percentage": 100, "value": True, "name": "half"})
    assert everyone.evaluate({"targetingKey": "u1"}) == (True, "half", "SPLIT")
    nobody = flag(False, rollout={"percentage": 0, "value": True})
    assert nobody.evaluate({"targetingKey": "u1"}) == (False, "default", "SPLIT")


def test_rollout_needs_a_targeting_key_only_when_reached():
    f = flag(False, [rule("staff", True, ("staff", "eq", True))], {"percentage": 50, "value": True})
    assert f.evaluate({"staff": True}).reason == "TARGETING_MATCH"
    with pytest.raises(TargetingKeyMissing):
        f.evaluate({})


def test_rollout_is_stable_monotonic_and_independent_per_flag():
    users = [f"user-{i}" for i in range(4000)]

    def members(key, pct):
        f = flag(False, rollout={"percentage": pct, "value": True}, key=key)
        return {u for u in users if f.evaluate({"targetingKey": u}).value}

    at10, at30, at60 = members("a", 10), members("a", 30), members("a", 60)
    # The same user stays in as the percentage grows.
    assert at10 <= at30 <= at60
    # The share is close to the percentage (4000 users: within 2.5 points).
    assert abs(len(at30) / len(users) - 0.30) < 0.025
    assert members("a", 30) == at30  # stable across builds
    # Another flag picks users independently: overlap ~ 0.3 * 0.3.
    other = members("b", 30)
    assert abs(len(at30 & other) / len(users) - 0.09) < 0.02
    assert bucket("a", "user-1") == bucket("a", "user-1")


def test_coercion_rules():
    assert coerce(3, "float") == 3.0 and isinstance(coerce(3, "float"), float)
    with pytest.raises(InvalidFlag, match="not an integer"):
        coerce(2.5, "integer")
    with pytest.raises(InvalidFlag, match="expected a boolean"):
        coerce(1, "boolean")
    with pytest.raises(InvalidFlag):
        coerce(None, "string")
    assert coerce([1, 2], "object") == [1, 2]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"not": "a list"}, "must be a list"),
        (
            [{"conditions": [{"attribute": "a", "op": "like", "value": 1}], "value": 1}],
            "unknown operator",
        ),
        ([{"conditions": [{"op": "eq", "value": 1}], "value": 1}], "'attribute'"),
        ([{"conditions": [], "value": 1}], "non-empty"),
        (
            [{"conditions": [{"attribute": "a", "op": "in", "value": 3}], "value": 1}],
            "needs a list",
        ),
        ([{"conditions": [{"attribute": "a", "op": "eq", "value": 1}]}], "'value'"),
        (
            [{"conditions": [{"attribute": "a", "op": "eq", "value": 1}], "value": "x"}],
            "expected an integer",
        ),
        (
            [
                {
                    "name": "default",
                    "conditions": [{"attribute": "a", "op": "eq", "value": 1}],
                    "value": 1,
                }
            ],
            "reserved",
        ),
    ],
)
def test_malformed_rules_are_refused(rules, message):
    with pytest.raises(InvalidFlag, match=message):
        normalize_rules(rules, "integer")


@pytest.mark.parametrize("pct", [-1, 100.5, "50", True, None, float("nan")])
def test_rollout_percentage_must_be_0_to_100(pct):
    with pytest.raises(InvalidFlag, match="percentage"):
        normalize_rollout({"percentage": pct, "value": True}, "boolean")


def test_object_values_are_copied_for_callers():
    f = flag({"limits": [1, 2]})
    first = f.evaluate({}).value
    first["limits"].append(3)
    assert f.evaluate({}).value == {"limits": [1, 2]}


def nested(depth, leaf=1):
    """Return a value with `depth` nested objects/lists (alternating)."""
    value = leaf
    for i in range(depth):
        value = {"a": value} if i % 2 else [value]
    return value


def test_an_integral_float_fits_an_integer_flag_as_an_int():
    assert coerce(4.0, "integer") == 4 and type(coerce(4.0, "integer")) is int
    assert normalize_rollout({"percentage": 5, "value": -2.0}, "integer")["value"] == -2
    with pytest.raises(InvalidFlag, match="not an integer"):
        coerce(4.5, "integer")
    with pytest.raises(InvalidFlag):
        coerce(True, "integer")


def test_huge_integers_are_type_errors_not_crashes():
    huge = 10**400
    with pytest.raises(InvalidFlag, match="too large"):
        coerce(huge, "float")
    with pytest.raises(InvalidFlag, match="percentage"):
        normalize_rollout({"percentage": huge, "value": True}, "boolean")
    with pytest.raises(InvalidFlag, match="2\\^53 - 1"):
        coerce(10**5000, "integer")  # past Python's int-to-text digit limit


def test_object_values_are_capped_in_depth_and_size():
    assert coerce(nested(MAX_DEPTH), "object") == nested(MAX_DEPTH)
    with pytest.raises(InvalidFlag, match=f"deeper than {MAX_DEPTH}"):
        coerce(nested(MAX_DEPTH + 1), "object")
    with pytest.raises(InvalidFlag, match="deeper"):
        coerce(nested(870), "object")
    with pytest.raises(InvalidFlag, match="64 KiB"):
        coerce({"a": "x" * 70_000}, "object")
    with pytest.raises(InvalidFlag, match="deeper"):
        normalize_rules([rule("r", nested(40), ("a", "eq", 1))], "object")


BAD_TEXT = ["\ud800", "a\x00b", "\udc00z"]


@pytest.mark.parametrize("text", BAD_TEXT)
def test_nul_and_lone_surrogates_are_refused_everywhere_a_string_is_stored(text):
    for value, flag_type in [
        (text, "string"),
        ({"k": [text]}, "object"),
        ({text: 1}, "object"),
        ([{"deep": {"er": text}}], "object"),
    ]:
        with pytest.raises(InvalidFlag, match="NUL|surrogate"):
            coerce(value, flag_type)
    for condition in [("a", "eq", text), ("a", "in", ["ok", text]), (text, "eq", "x")]:
        with pytest.raises(InvalidFlag, match="NUL|surrogate"):
            normalize_rules([rule("r", True, condition)], "boolean")
    with pytest.raises(InvalidFlag, match="NUL|surrogate"):
        normalize_rules([rule(text, True, ("a", "eq", 1))], "boolean")
    with pytest.raises(InvalidFlag, match="NUL|surrogate"):
        normalize_rollout({"percentage": 5, "value": text}, "string")


def test_a_lone_surrogate_targeting_key_is_an_invalid_context():
    f = flag(False, rollout={"percentage": 50, "value": True})
    with pytest.raises(InvalidContext):
        f.evaluate({"targetingKey": "\ud800"})


def test_a_stored_value_that_is_too_deep_does_not_compile():
    with pytest.raises(InvalidFlag):
        compile_flag("f", "object", nested(870), [], None, True)
