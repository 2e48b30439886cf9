"""Segment operations: create or replace, delete, revert; recorded like flag changes.

A segment's history rows are `FlagChange` rows with the key `segment:<name>`
(no flag): `created` (new: the whole segment), `conditions`, `description`,
`deleted` (old: the whole segment). Each change bumps the flag stamp, so every
process serves the flags that use the segment anew within the same second.
"""

from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from echopilot import mirror
from echopilot.parsers import text_problem
from flags import services
from flags.engine import InvalidFlag, normalize_conditions, rule_segments
from flags.exceptions import InvalidFlagInput, RevertConflict, SegmentInUse, UnknownSegment
from flags.limits import DESCRIPTION_MAX, SEGMENT_KEY_PREFIX, SEGMENT_NAME_MAX
from flags.models import KEY_RE, ChangeField, Flag, FlagChange, Segment
from flags.validation import UNSET


@dataclass
class SegmentResult:
    name: str
    conditions: list[dict[str, Any]]
    description: str
    created: bool
    changes: list[services.ChangeRow] = field(default_factory=list)

    @property
    def changed(self) -> list[str]:
        return [c["field"] for c in self.changes]


def validate_name(name: Any) -> str:
    """Return `name` if it can name a segment; raise InvalidFlagInput saying why not."""
    if not isinstance(name, str) or not name or len(name) > SEGMENT_NAME_MAX:
        raise InvalidFlagInput(f"name: a string of 1-{SEGMENT_NAME_MAX} characters.")
    if not KEY_RE.fullmatch(name):
        raise InvalidFlagInput(f"name: {name!r} may only hold letters, digits and . _ : -.")
    return name


def validate_segment(*, name: Any, conditions: Any, description: Any = "") -> dict[str, Any]:
    """Return the segment's canonical fields, or raise InvalidFlagInput (nothing written)."""
    validate_name(name)
    try:
        normalized = normalize_conditions(conditions, "segment")
    except InvalidFlag as exc:
        raise InvalidFlagInput(str(exc)) from None
    if not isinstance(description, str) or len(description) > DESCRIPTION_MAX:
        raise InvalidFlagInput(f"description: a string of at most {DESCRIPTION_MAX} characters.")
    if problem := text_problem(description):
        raise InvalidFlagInput(f"description: {problem}.")
    return {"conditions": normalized, "description": description}


def segment_spec(segment: Segment) -> dict[str, Any]:
    return {"conditions": segment.conditions, "description": segment.description}


Row = tuple[str, Any, Any]  # (field, old, new)


def _record(
    name: str, actor: str, rows: list[Row], revert_of: int | None = None
) -> list[services.ChangeRow]:
    return services.record_segment_changes(SEGMENT_KEY_PREFIX + name, actor, rows, revert_of)


def segment_set(
    *,
    name: str,
    conditions: Any,
    actor: str,
    description: Any = UNSET,
    revert_of: int | None = None,
) -> SegmentResult:
    """Create or replace a segment; record one history row per changed field."""
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _segment_set(name, conditions, description, actor, revert_of)
        except IntegrityError:  # two creates raced; the loser updates
            if attempt:
                raise
    raise AssertionError("unreachable")


def _segment_set(
    name: str, conditions: Any, description: Any, actor: str, revert_of: int | None
) -> SegmentResult:
    segment = Segment.objects.select_for_update().filter(name=name).first()
    if description is UNSET:
        description = segment.description if segment else ""
    spec = validate_segment(name=name, conditions=conditions, description=description)
    if segment is None:
        segment = Segment.objects.create(name=name, updated_by=actor, **spec)
        rows: list[Row] = [(ChangeField.CREATED, None, spec)]
        return SegmentResult(name, **spec, created=True, changes=_record(name, actor, rows))
    rows = [
        (str(f), getattr(segment, f), spec[f])
        for f in ("conditions", "description")
        if services.canon(getattr(segment, f)) != services.canon(spec[f])
    ]
    if rows:
        segment.conditions, segment.description = spec["conditions"], spec["description"]
        segment.updated_by = actor
        segment.save()
    changes = _record(name, actor, rows, revert_of)
    return SegmentResult(name, **spec, created=False, changes=changes)


def _users() -> dict[str, list[str]]:
    """Return segment name -> the flags (archived ones too) whose rules use it, sorted."""
    users: dict[str, set[str]] = {}
    for key, rules in Flag.objects.values_list("key", "rules"):
        # Stored rules are normalized; a hand-edited row may hold anything else.
        named = [
            r for r in rules or [] if isinstance(r, dict) and isinstance(r.get("segment"), str)
        ]
        for name in rule_segments(named):
            users.setdefault(name, set()).add(key)
    return {name: sorted(keys) for name, keys in users.items()}


def used_by(name: str) -> list[str]:
    """Return the flags (archived ones too) whose rules use segment `name`."""
    return _users().get(name, [])


def segment_delete(*, name: str, actor: str, revert_of: int | None = None) -> SegmentResult:
    """Delete a segment no rule uses (else SegmentInUse); record a `deleted` row."""
    with transaction.atomic():
        segment = Segment.objects.select_for_update().filter(name=name).first()
        if segment is None:
            raise UnknownSegment(f"No segment {name!r}.")
        users = used_by(name)
        if users:
            raise SegmentInUse(
                f"Segment {name!r} is used by {', '.join(users)}; change their rules first.",
                used_by=users,
            )
        spec = segment_spec(segment)
        segment.delete()
        changes = _record(name, actor, [(str(ChangeField.DELETED), spec, None)], revert_of)
    return SegmentResult(name, **spec, created=False, changes=changes)


def segment_revert(row: FlagChange, *, actor: str) -> services.SetResult:
    """Undo one segment history row (called by `services.flag_revert`)."""
    name = row.key.removeprefix(SEGMENT_KEY_PREFIX)
    try:
        if row.field == ChangeField.CREATED:
            result = segment_delete(name=name, actor=actor, revert_of=row.pk)
        elif row.field == ChangeField.DELETED:
            old = row.old or {}
            result = segment_set(
                name=name,
                actor=actor,
                revert_of=row.pk,
                conditions=old.get("conditions"),
                description=old.get("description", ""),
            )
        else:
            current = Segment.objects.filter(name=name).first()
            if current is None:
                raise UnknownSegment(f"No segment {name!r}.")
            fields = segment_spec(current) | {row.field: row.old}
            result = segment_set(name=name, actor=actor, revert_of=row.pk, **fields)
    except (InvalidFlagInput, SegmentInUse, UnknownSegment) as exc:
        raise RevertConflict(f"History row {row.pk} cannot be restored: {exc.detail}") from None
    return services.SetResult(row.key, "segment", result.conditions, None, False, result.changes)


def segment_list() -> list[dict[str, Any]]:
    """Return every segment with the flags that use it."""
    users = _users()
    return [
        {
            "name": s.name,
            **segment_spec(s),
            "used_by": users.get(s.name, []),
            "updated_by": s.updated_by,
            "updated_iso": mirror.now_iso(s.updated_at),
        }
        for s in Segment.objects.order_by("name")
    ]
