"""Flag operations: one function per thing the app does.

The API, the admin, the `flags` command and `load_configs` all call these, so
every change is validated the same way and recorded the same way: one
`FlagChange` row per changed field, mirrored to `feature_flags.ndjson` after
commit, and a new cache stamp so every process reloads within a second.
Failures are `flags.exceptions` errors (re-exported here).
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, TypedDict

from django.db import IntegrityError, transaction
from django.utils import timezone

from echopilot import metrics, mirror
from flags import links, signals, snapshot
from flags.exceptions import (
    InvalidFlagInput,
    RevertConflict,
    TypeMismatch,
    UnknownChange,
    UnknownFlag,
)
from flags.models import ChangeField, ChangeSource, Flag, FlagChange, FlagStamp
from flags.validation import UNSET, canon, new_state, validate_key

__all__ = [
    "FIELDS",
    "STREAM",
    "UNSET",
    "ChangeRow",
    "InvalidFlagInput",
    "RevertConflict",
    "SetResult",
    "TypeMismatch",
    "UnknownChange",
    "UnknownFlag",
    "canon",
    "change_row",
    "flag_revert",
    "flag_set",
    "flag_spec",
    "record_segment_changes",
    "source_of",
    "validate_flag",
    "validate_key",
]

STREAM = "feature_flags"
# Fields a change can touch, in the order their history rows are written.
FIELDS = (
    "value",
    "rules",
    "rollout",
    "prerequisites",
    "enabled",
    "archived",
    "description",
    "announce",
    "announce_channels",
)
# new_state()'s keyword arguments that describe the change.
_CHANGE_ARGS = (
    "value",
    "description",
    "rules",
    "rollout",
    "enabled",
    "archived",
    "prerequisites",
    "announce",
    "announce_channels",
)


class ChangeRow(TypedDict):
    """A history row as the API, the command and the NDJSON mirror show it."""

    id: int
    key: str
    field: str
    old: Any
    new: Any
    actor: str
    source: str
    ts_iso: str
    reverts: int | None


@dataclass
class SetResult:
    key: str
    type: str
    value: Any
    previous: Any
    created: bool
    changes: list[ChangeRow] = field(default_factory=list)

    @property
    def changed(self) -> list[str]:
        return [c["field"] for c in self.changes]


def source_of(actor: str) -> str:
    """Return the interface an actor string belongs to (`api:k_…` -> `api`)."""
    prefix = actor.split(":", 1)[0]
    return prefix if prefix in ChangeSource.values else str(ChangeSource.CLI)


def change_row(change: FlagChange) -> ChangeRow:
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
        "reverts": change.revert_of_id,
    }


def flag_spec(flag: Flag) -> dict[str, Any]:
    """Return everything a flag has, in the extended config form."""
    return {
        "type": flag.type,
        "value": flag.value,
        "description": flag.description,
        "rules": flag.rules or [],
        "rollout": flag.rollout,
        "enabled": flag.enabled,
        "archived": flag.archived,
        "prerequisites": flag.prerequisites or [],
        "announce": flag.announce,
        "announce_channels": flag.announce_channels or [],
    }


def validate_flag(
    *, key: str, flag: Flag | None = None, **fields: Any
) -> tuple[str, dict[str, Any]]:
    """Dry-run `flag_set`'s validation (admin forms, config files); return (type, state).

    `fields` are any of value, type_, retype, description, rules, rollout,
    enabled, archived, prerequisites, announce, announce_channels; `retype`
    defaults to True for an existing flag. With `links`, segments and
    prerequisites are checked against the database too.
    """
    check_links = fields.pop("links", True)
    args: dict[str, Any] = dict.fromkeys(_CHANGE_ARGS, UNSET)
    args.update(type_=None, retype=flag is not None)
    args.update(fields)
    validate_key(key)
    new_type, state = new_state(flag, key=key, **args)
    if check_links:
        links.check(key, flag, state)
    return new_type, state


def _bump_stamp() -> None:
    """Replace the shared stamp in this transaction; publish it after commit."""
    stamp = snapshot.new_stamp()
    if not FlagStamp.objects.filter(pk=1).update(stamp=stamp):
        try:
            with transaction.atomic():
                FlagStamp.objects.create(pk=1, stamp=stamp)
        except IntegrityError:
            FlagStamp.objects.filter(pk=1).update(stamp=stamp)

    def published() -> None:
        snapshot.publish_stamp(stamp)
        snapshot.invalidate()

    transaction.on_commit(published, robust=True)
    # Also now: a read later in this transaction must see the change.
    snapshot.invalidate()


@dataclass(frozen=True)
class _Change:
    """Who makes a change, through which interface, when, and what it reverts."""

    actor: str
    source: str
    ts: dt.datetime
    revert_of: int | None

    def record(
        self, flag: Flag | None, field_name: str, old: Any, new: Any, *, key: str = ""
    ) -> ChangeRow:
        """Write one history row: of `flag`, or with no flag of `key` (a segment's)."""
        row = FlagChange.objects.create(
            flag=flag,
            key=flag.key if flag is not None else key,
            field=field_name,
            old=old,
            new=new,
            actor=self.actor,
            source=self.source,
            ts=self.ts,
            revert_of_id=self.revert_of,
        )
        # After commit, so a receiver (announcements) never reports a rolled-back change.
        transaction.on_commit(lambda: signals.send_changed(row), robust=True)
        return change_row(row)


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
    prerequisites: Any = UNSET,
    announce: Any = UNSET,
    announce_channels: Any = UNSET,
    revert_of: int | None = None,
) -> SetResult:
    """Change (or with `create`, create) a flag; record one history row per changed field.

    A field left UNSET keeps its value. Raises UnknownFlag (no such flag and no
    `create`), TypeMismatch or InvalidFlagInput; nothing is written then.
    """
    validate_key(key)
    fields: dict[str, Any] = {
        "value": value,
        "type_": type,
        "retype": retype,
        "description": description,
        "rules": rules,
        "rollout": rollout,
        "enabled": enabled,
        "archived": archived,
        "prerequisites": prerequisites,
        "announce": announce,
        "announce_channels": announce_channels,
    }
    for attempt in range(3):
        try:
            return _flag_set(key, actor, create, revert_of, fields)
        except IntegrityError:
            # Two creates of one key raced; the loser retries as an update.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _flag_set(
    key: str, actor: str, create: bool, revert_of: int | None, fields: dict[str, Any]
) -> SetResult:
    with transaction.atomic():
        flag = Flag.objects.select_for_update().filter(key=key).first()
        change = _Change(actor, source_of(actor), timezone.now(), revert_of)
        if flag is None:
            if not create:
                raise UnknownFlag(f'No flag {key!r}; send "create": true to create it.', key=key)
            return _create(key, change, fields)
        if create and flag.archived and fields["archived"] is UNSET:
            fields = {**fields, "archived": False}  # creating again brings it back
        return _update(flag, change, fields)


def _create(key: str, change: _Change, fields: dict[str, Any]) -> SetResult:
    if fields["value"] is UNSET:
        raise InvalidFlagInput("value: required to create a flag.")
    new_type, state = new_state(None, key=key, **fields)
    links.check(key, None, state)
    flag = Flag.objects.create(key=key, type=new_type, updated_by=change.actor, **state)
    changes = [change.record(flag, ChangeField.CREATED, None, flag_spec(flag))]
    _finish(changes)
    return SetResult(key, new_type, flag.value, None, True, changes)


def _update(flag: Flag, change: _Change, fields: dict[str, Any]) -> SetResult:
    new_type, state = new_state(flag, key=flag.key, **fields)
    previous = flag.value
    changed = [
        (name, getattr(flag, name), state[name])
        for name in FIELDS
        if canon(getattr(flag, name)) != canon(state[name])
        or (name == "value" and new_type != flag.type)
    ]
    if not changed:
        return SetResult(flag.key, flag.type, flag.value, previous, False, [])
    links.check(flag.key, flag, state)
    for name, _, new in changed:
        setattr(flag, name, new)
    flag.type = new_type
    flag.updated_by = change.actor
    flag.save()
    changes = [change.record(flag, name, old, new) for name, old, new in changed]
    _finish(changes)
    return SetResult(flag.key, new_type, flag.value, previous, False, changes)


def _finish(changes: list[ChangeRow], kind: str = "flag_change") -> None:
    """Mirror `changes` (after commit), count a flag's, and replace the shared stamp."""
    mirror.append_many(STREAM, [{"type": kind, **row} for row in changes])
    if kind == "flag_change":
        metrics.flag_changed(changes[0]["source"], len(changes))
    _bump_stamp()


def record_segment_changes(
    key: str, actor: str, rows: list[tuple[str, Any, Any]], revert_of: int | None = None
) -> list[ChangeRow]:
    """Record a segment's (field, old, new) rows under `key` (no flag), as flag changes are.

    Mirrored as `segment_change`; the stamp is replaced so every process
    reloads the flags that use the segment. No rows: nothing is done.
    """
    change = _Change(actor, source_of(actor), timezone.now(), revert_of)
    changes = [change.record(None, name, old, new, key=key) for name, old, new in rows]
    if changes:
        _finish(changes, "segment_change")
    return changes


def flag_revert(*, change_id: int, actor: str) -> SetResult:
    """Undo one history row: put its field back to `old` (a creation: archive).

    Raises UnknownChange, or RevertConflict when the old value no longer fits
    the flag (e.g. old rules after a type change).
    """
    row = FlagChange.objects.filter(pk=change_id).first()
    if row is None:
        raise UnknownChange(f"No history row {change_id}.")
    if row.flag_id is None:  # a segment's row
        from flags import segments

        return segments.segment_revert(row, actor=actor)
    kwargs: dict[str, Any]
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
