"""Validate a change to a flag as a whole: the key, the type, and every field after it.

`flags.services.flag_set` and the admin form (through `services.validate_flag`)
run the same checks; the pure rules for values, rules and rollouts are in
`flags.engine`. Nothing here writes.
"""

import json
from typing import Any

from echopilot.parsers import text_problem
from flags.engine import (
    TYPES,
    InvalidFlag,
    WrongType,
    coerce,
    json_type,
    normalize_prerequisites,
    normalize_rollout,
    normalize_rules,
)
from flags.exceptions import InvalidFlagInput, TypeMismatch
from flags.limits import DESCRIPTION_MAX, KEY_MAX_LENGTH, SEGMENT_KEY_PREFIX
from flags.models import KEY_RE, Flag


class _Unset:
    """A field the caller did not give (None is a value: `rollout: null` removes it)."""

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


# Typed Any so a field annotated `Any = UNSET` takes it and any JSON value.
UNSET: Any = _Unset()
# A new flag's fields that the caller did not give.
DEFAULTS: dict[str, Any] = {
    "rules": [],
    "rollout": None,
    "description": "",
    "enabled": True,
    "archived": False,
    "prerequisites": [],
    "announce": False,
    "announce_channels": [],
}
CHANNEL_NAME_MAX = 50
CHANNELS_MAX = 10


def canon(value: Any) -> str:
    """Return a canonical JSON text of `value`, to compare stored fields."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def validate_key(key: Any) -> str:
    """Return `key` if it can name a flag; raise InvalidFlagInput saying why not."""
    if not isinstance(key, str) or not key:
        raise InvalidFlagInput("key: must be a non-empty string.")
    if len(key) > KEY_MAX_LENGTH:
        raise InvalidFlagInput(f"key: at most {KEY_MAX_LENGTH} characters.")
    if not KEY_RE.fullmatch(key):
        raise InvalidFlagInput(
            f"key: {key!r} may only hold letters, digits and . _ : - (no spaces)."
        )
    if key.startswith(SEGMENT_KEY_PREFIX):
        raise InvalidFlagInput(
            f"key: {SEGMENT_KEY_PREFIX!r} is reserved (segment history rows use it)."
        )
    return key


def resolve_type(
    current_type: str | None, value: Any, type_: str | None, retype: bool, key: str
) -> str:
    """Return the type the flag will have after the change (or raise TypeMismatch)."""
    if type_ is not None and type_ not in TYPES:
        raise InvalidFlagInput(f"type: must be one of {', '.join(TYPES)}.")
    if current_type is None:  # creating
        natural = json_type(value)
        if natural is None:
            raise TypeMismatch("value: must be a boolean, string, number, object or list.")
        return type_ or natural
    target = type_ or current_type
    if type_ is not None and type_ != current_type and not retype:
        raise TypeMismatch(
            f'{key} is a {current_type} flag; send "retype": true to change its type.'
        )
    if value is UNSET:
        return target
    try:
        coerce(value, target)
        return target
    except WrongType as exc:
        natural = json_type(value)
        if retype and type_ is None and natural is not None:
            return natural
        if retype:
            raise TypeMismatch(str(exc)) from None
        raise TypeMismatch(f'{exc} Send "retype": true to change the type of {key}.') from None
    except InvalidFlag as exc:  # not storable as any type (too deep, NUL, ...)
        raise InvalidFlagInput(str(exc)) from None


def _typed_fields(
    current: dict[str, Any], given: dict[str, Any], new_type: str, retyped: bool
) -> dict[str, Any]:
    """Return value, rules and rollout as `new_type` (a given field, else the current one)."""

    def pick(name: str) -> Any:
        return current[name] if given[name] is UNSET else given[name]

    try:
        return {
            "value": coerce(pick("value"), new_type, "value"),
            "rules": normalize_rules(pick("rules"), new_type),
            "rollout": normalize_rollout(pick("rollout"), new_type),
        }
    except WrongType as exc:
        if retyped:
            raise TypeMismatch(
                f"{exc} (changing the type also needs rules/rollout of the new type)"
            ) from None
        raise TypeMismatch(str(exc)) from None
    except InvalidFlag as exc:
        raise InvalidFlagInput(str(exc)) from None


def _switch(name: str, given: Any, current: bool) -> bool:
    if given is UNSET:
        return current
    if not isinstance(given, bool):
        raise InvalidFlagInput(f"{name}: must be a JSON boolean.")
    return given


def _description(given: Any, current: str) -> str:
    if given is UNSET:
        return current
    if not isinstance(given, str) or len(given) > DESCRIPTION_MAX:
        raise InvalidFlagInput(f"description: a string of at most {DESCRIPTION_MAX} characters.")
    if problem := text_problem(given):
        raise InvalidFlagInput(f"description: {problem}.")
    return given


def _channels(given: Any, current: list[str]) -> list[str]:
    if given is UNSET:
        return current
    if not isinstance(given, list) or len(given) > CHANNELS_MAX:
        raise InvalidFlagInput(f"announce_channels: a list of at most {CHANNELS_MAX} names.")
    for name in given:
        if not isinstance(name, str) or not KEY_RE.fullmatch(name) or len(name) > CHANNEL_NAME_MAX:
            raise InvalidFlagInput(
                f"announce_channels: {name!r} is not a channel name (letters, digits, . _ : -)."
            )
    if len(set(given)) != len(given):
        raise InvalidFlagInput("announce_channels: a name is listed twice.")
    return list(given)


def _prerequisites(given: Any, current: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    if given is UNSET:
        return current
    try:
        prerequisites = normalize_prerequisites(given)
    except InvalidFlag as exc:
        raise InvalidFlagInput(str(exc)) from None
    if any(p["flag"] == key for p in prerequisites):
        raise InvalidFlagInput(f"prerequisites: {key} cannot require itself.")
    return prerequisites


def new_state(
    flag: Flag | None,
    *,
    key: str,
    value: Any,
    type_: str | None,
    retype: bool,
    description: Any,
    rules: Any,
    rollout: Any,
    enabled: Any,
    archived: Any,
    prerequisites: Any = UNSET,
    announce: Any = UNSET,
    announce_channels: Any = UNSET,
) -> tuple[str, dict[str, Any]]:
    """Return (type, {field: new value}) after validating the whole resulting flag.

    A field given as UNSET keeps its current value (on creation: its default).
    """
    if flag is None:
        current = {**DEFAULTS, "value": value}
    else:
        current = {
            "value": flag.value,
            "rules": flag.rules or [],
            "rollout": flag.rollout,
            "description": flag.description,
            "enabled": flag.enabled,
            "archived": flag.archived,
            "prerequisites": flag.prerequisites or [],
            "announce": flag.announce,
            "announce_channels": flag.announce_channels or [],
        }
    new_type = resolve_type(flag.type if flag else None, value, type_, retype, key)
    given = {"value": value, "rules": rules, "rollout": rollout}
    retyped = flag is not None and new_type != flag.type
    state = _typed_fields(current, given, new_type, retyped)
    state["enabled"] = _switch("enabled", enabled, current["enabled"])
    state["archived"] = _switch("archived", archived, current["archived"])
    state["description"] = _description(description, current["description"])
    state["prerequisites"] = _prerequisites(prerequisites, current["prerequisites"], key)
    state["announce"] = _switch("announce", announce, current["announce"])
    state["announce_channels"] = _channels(announce_channels, current["announce_channels"])
    return new_type, state
