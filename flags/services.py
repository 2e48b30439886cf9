"""Flag operations: one function per thing the app does.

The API, the admin, the `flags` command and `load_configs` all call these, so
every change is validated the same way and recorded the same way: one
`FlagChange` row per changed field, mirrored to `feature_flags.ndjson` after
commit, and a new cache stamp so every process reloads within a second.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from echopilot import mirror
from echopilot.errors import ApiError
from echopilot.parsers import text_problem
from flags import snapshot
from flags.engine import (
    TYPES,
    InvalidFlag,
    WrongType,
    coerce,
    json_type,
    normalize_rollout,
    normalize_rules,
)
from flags.models import (
    KEY_MAX_LENGTH,
    KEY_RE,
    ChangeField,
    ChangeSource,
    Flag,
    FlagChange,
    FlagStamp,
)

STREAM = "feature_flags"
DESCRIPTION_MAX = 2000
UNSET: Any = type("Unset", (), {"__repr__": lambda self: "UNSET", "__bool__": lambda s: False})()
# Fields a change can touch, in the order their history rows are written.
FIELDS = ("value", "rules", "rollout", "enabled", "archived", "description")


class UnknownFlag(ApiError):
    status_code = 404
    code = "unknown_flag"


class UnknownChange(ApiError):
    status_code = 404
    code = "unknown_change"


class TypeMismatch(ApiError):
    status_code = 400
    code = "type_mismatch"


class InvalidFlagInput(ApiError):
    status_code = 400
    code = "invalid"


class RevertConflict(ApiError):
    status_code = 409
    code = "revert_conflict"


@dataclass
class SetResult:
    key: str
    type: str
    value: Any
    previous: Any
    created: bool
    changes: list[dict] = field(default_factory=list)

    @property
    def changed(self) -> list[str]:
        return [c["field"] for c in self.changes]


def source_of(actor: str) -> str:
    """Return the interface an actor string belongs to (`api:k_…` -> `api`)."""
    prefix = actor.split(":", 1)[0]
    return prefix if prefix in ChangeSource.values else ChangeSource.CLI


def validate_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidFlagInput("key: must be a non-empty string.")
    if len(key) > KEY_MAX_LENGTH:
        raise InvalidFlagInput(f"key: at most {KEY_MAX_LENGTH} characters.")
    if not KEY_RE.match(key):
        raise InvalidFlagInput(
            f"key: {key!r} may only hold letters, digits and . _ : - (no spaces)."
        )
    return key


def canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def change_row(change: FlagChange) -> dict:
    """Return a history row as the API, the command and the NDJSON mirror show it."""
    return {
        "id": change.pk,
        "key": change.key,
        "field": change.field,
        "old": change.old,
        "new": change.new,
        "actor": change.actor,
        "source": change.source,
        "ts_iso": mirror.now_iso(change.ts),
    }


def flag_spec(flag: Flag) -> dict:
    """Return everything a flag has, in the extended config form."""
    return {
        "type": flag.type,
        "value": flag.value,
        "description": flag.description,
        "rules": flag.rules or [],
        "rollout": flag.rollout,
        "enabled": flag.enabled,
        "archived": flag.archived,
    }


def _bump_stamp() -> None:
    """Replace the shared stamp in this transaction; publish it after commit."""
    stamp = snapshot.new_stamp()
    if not FlagStamp.objects.filter(pk=1).update(stamp=stamp):
        try:
            with transaction.atomic():
                FlagStamp.objects.create(pk=1, stamp=stamp)
        except IntegrityError:
            FlagStamp.objects.filter(pk=1).update(stamp=stamp)

    def published():
        snapshot.publish_stamp(stamp)
        snapshot.invalidate()

    transaction.on_commit(published, robust=True)
    # Also now: a read later in this transaction must see the change.
    snapshot.invalidate()


def _resolve_type(current_type, value, type_, retype, key) -> str:
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
        if retype and type_ is None and json_type(value) is not None:
            return json_type(value)
        if retype:
            raise TypeMismatch(str(exc)) from None
        raise TypeMismatch(f'{exc} Send "retype": true to change the type of {key}.') from None
    except InvalidFlag as exc:  # not storable as any type (too deep, NUL, ...)
        raise InvalidFlagInput(str(exc)) from None


def _new_state(flag, *, value, type_, retype, description, rules, rollout, enabled, archived, key):
    """Return (type, {field: new value}) after validating the whole resulting flag."""
    current = flag_spec(flag) if flag is not None else None
    if current is None:  # creating: unset fields take their defaults
        current = {"value": value, "rules": [], "rollout": None, "description": ""}
        current.update(enabled=True, archived=False)
    new_type = _resolve_type(flag.type if flag else None, value, type_, retype, key)
    try:
        state = {
            "value": coerce(current["value"] if value is UNSET else value, new_type, "value"),
            "rules": normalize_rules(current["rules"] if rules is UNSET else rules, new_type),
            "rollout": normalize_rollout(
                current["rollout"] if rollout is UNSET else rollout, new_type
            ),
        }
    except InvalidFlag as exc:
        if isinstance(exc, WrongType) and flag is not None and new_type != flag.type:
            raise TypeMismatch(
                f"{exc} (changing the type also needs rules/rollout of the new type)"
            ) from None
        error = TypeMismatch if isinstance(exc, WrongType) else InvalidFlagInput
        raise error(str(exc)) from None
    for name, given in (("enabled", enabled), ("archived", archived)):
        if given is UNSET:
            state[name] = current[name]
        elif not isinstance(given, bool):
            raise InvalidFlagInput(f"{name}: must be a JSON boolean.")
        else:
            state[name] = given
    if description is UNSET:
        state["description"] = current["description"]
    elif not isinstance(description, str) or len(description) > DESCRIPTION_MAX:
        raise InvalidFlagInput(f"description: a string of at most {DESCRIPTION_MAX} characters.")
    elif problem := text_problem(description):
        raise InvalidFlagInput(f"description: {problem}.")
    else:
        state["description"] = description
    return new_type, state


def validate_flag(*, key: str, flag: Flag | None = None, **fields) -> tuple[str, dict]:
    """Dry-run `flag_set`'s validation (admin forms); return (type, state) or raise."""
    args = dict.fromkeys(("value", "description", "rules", "rollout", "enabled", "archived"), UNSET)
    args.update(fields)
    args.setdefault("type_", None)
    args.setdefault("retype", flag is not None)
    validate_key(key)
    return _new_state(flag, key=key, **args)


def _record(flag, field_name, old, new, actor, source, ts, revert_of) -> FlagChange:
    return FlagChange.objects.create(
        flag=flag,
        key=flag.key,
        field=field_name,
        old=old,
        new=new,
        actor=actor,
        source=source,
        ts=ts,
        revert_of_id=revert_of,
    )


def flag_set(
    *,
    key: str,
    actor: str,
    value: Any = UNSET,
    type: str | None = None,
    retype: bool = False,
    create: bool = False,
    description: Any = UNSET,
    rules: Any = UNSET,
    rollout: Any = UNSET,
    enabled: Any = UNSET,
    archived: Any = UNSET,
    revert_of: int | None = None,
) -> SetResult:
    """Change (or with `create`, create) a flag; record one history row per changed field."""
    validate_key(key)
    fields = {
        "value": value,
        "type_": type,
        "retype": retype,
        "description": description,
        "rules": rules,
        "rollout": rollout,
        "enabled": enabled,
        "archived": archived,
    }
    for attempt in range(3):
        try:
            return _flag_set(key, actor, create, revert_of, fields)
        except IntegrityError:
            # Two creates of one key raced; the loser retries as an update.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _flag_set(key, actor, create, revert_of, fields) -> SetResult:
    source = source_of(actor)
    with transaction.atomic():
        flag = Flag.objects.select_for_update().filter(key=key).first()
        if flag is None:
            if not create:
                raise UnknownFlag(
                    f'No flag {key!r}; send "create": true to create it.',
                    extra={"key": key},
                )
            if fields["value"] is UNSET:
                raise InvalidFlagInput("value: required to create a flag.")
            new_type, state = _new_state(None, key=key, **fields)
            ts = timezone.now()
            flag = Flag.objects.create(key=key, type=new_type, updated_by=actor, **state)
            row = _record(
                flag, ChangeField.CREATED, None, flag_spec(flag), actor, source, ts, revert_of
            )
            changes = [change_row(row)]
            _finish(changes)
            return SetResult(key, new_type, flag.value, None, True, changes)

        if create and flag.archived and fields["archived"] is UNSET:
            fields = {**fields, "archived": False}  # creating again brings it back
        new_type, state = _new_state(flag, key=key, **fields)
        previous = flag.value
        ts = timezone.now()
        changed = [
            (name, getattr(flag, name), state[name])
            for name in FIELDS
            if canon(getattr(flag, name)) != canon(state[name])
            or (name == "value" and new_type != flag.type)
        ]
        if not changed:
            return SetResult(key, flag.type, flag.value, previous, False, [])
        for name, _, new in changed:
            setattr(flag, name, new)
        flag.type = new_type
        flag.updated_by = actor
        flag.save()
        changes = [
            change_row(_record(flag, name, old, new, actor, source, ts, revert_of))
            for name, old, new in changed
        ]
        _finish(changes)
        return SetResult(key, new_type, flag.value, previous, False, changes)


def _finish(changes: list[dict]) -> None:
    mirror.append_many(STREAM, [{"type": "flag_change", **row} for row in changes])
    _bump_stamp()


def flag_revert(*, change_id: int, actor: str) -> SetResult:
    """Undo one history row: put its field back to `old` (a creation: archive)."""
    row = FlagChange.objects.filter(pk=change_id).first()
    if row is None:
        raise UnknownChange(f"No history row {change_id}.")
    if row.field == ChangeField.CREATED:
        kwargs = {"archived": True}
    elif row.field == ChangeField.VALUE:
        kwargs = {"value": row.old, "retype": True}
    else:
        kwargs = {row.field: row.old}
    try:
        return flag_set(key=row.key, actor=actor, revert_of=row.pk, **kwargs)
    except (TypeMismatch, InvalidFlagInput) as exc:
        raise RevertConflict(
            f"History row {change_id} cannot be restored over the current flag: {exc.detail}"
        ) from None
