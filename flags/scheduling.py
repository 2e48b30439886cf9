"""Scheduled flag changes: validated when scheduled, applied exactly once when due.

`schedule_create` stores the change and a one-off Django-Q2 schedule at `at`
(Django-Q2's scheduler looks every ~30 s, so the task runs within about 30 s
of `at`); the minute sweep `flags.tasks.apply_due` is the safety net. Either
applies a change through `schedule_apply`, which *claims* the row in the
transaction that applies it (`UPDATE … SET state='applied' WHERE id=… AND
state='pending'`): on PostgreSQL a second worker's UPDATE waits for the first
to commit and then matches no row, on SQLite writers are serialised, so two
workers or two nodes never apply one change twice, and a worker killed
mid-way leaves the row pending for the next try.
"""

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from echopilot import mirror
from echopilot.exceptions import ServiceError
from echopilot.parsers import text_problem
from flags import services
from flags.exceptions import (
    FlagArchived,
    InvalidFlagInput,
    ScheduleNotPending,
    UnknownFlag,
    UnknownSchedule,
)
from flags.limits import NOTE_MAX, SCHEDULE_LIST_MAX, SCHEDULE_MAX_AHEAD_DAYS, SCHEDULE_PAST_GRACE
from flags.models import Flag, FlagSchedule, ScheduleState

CHANGE_FIELDS = ("value", "enabled", "rules", "rollout")
TASK = "flags.tasks.apply_schedule"


def schedule_row(s: FlagSchedule) -> dict[str, Any]:
    """Return a scheduled change as the API, the command and the NDJSON mirror show it."""
    return {
        "id": s.pk,
        "key": s.key,
        "at": mirror.now_iso(s.at),
        "change": s.change,
        "note": s.note,
        "state": s.state,
        "created_by": s.created_by,
        "created_at": mirror.now_iso(s.created_at),
        "applied_at": mirror.now_iso(s.applied_at) if s.applied_at else None,
        "error": s.error,
    }


def check_change(flag: Flag, change: Any) -> dict[str, Any]:
    """Return `change` if it may be scheduled for `flag` (the checks of `set`), else raise."""
    if not isinstance(change, dict) or not change:
        raise InvalidFlagInput(f"change: an object with any of {', '.join(CHANGE_FIELDS)}.")
    unknown = sorted(set(change) - set(CHANGE_FIELDS))
    if unknown:
        raise InvalidFlagInput(
            f"change: unknown field(s) {', '.join(unknown)} (use {', '.join(CHANGE_FIELDS)})."
        )
    # The same checks as `set` (no retype): what would be refused now is refused now.
    services.validate_flag(key=flag.key, flag=flag, retype=False, **change)
    return dict(change)


def check_at(at: Any, now: dt.datetime | None = None) -> dt.datetime:
    """Return `at` if a change may be scheduled then; raise InvalidFlagInput saying why not."""
    now = now or timezone.now()
    if not isinstance(at, dt.datetime) or at.tzinfo is None:
        raise InvalidFlagInput("at: an ISO-8601 date-time with a zone (e.g. 2026-12-01T09:00Z).")
    if at < now - dt.timedelta(seconds=SCHEDULE_PAST_GRACE):
        raise InvalidFlagInput(f"at: {at.isoformat()} is in the past.")
    if at > now + dt.timedelta(days=SCHEDULE_MAX_AHEAD_DAYS):
        raise InvalidFlagInput(f"at: at most {SCHEDULE_MAX_AHEAD_DAYS} days ahead.")
    return at


def validate_schedule(
    *,
    key: str,
    flag: Flag | None,
    at: Any,
    change: Any,
    note: Any = "",
    now: dt.datetime | None = None,
) -> tuple[dt.datetime, dict[str, Any]]:
    """Return (at, change) if `change` may be scheduled for `flag` (found by `key`) at `at`.

    Raises the first problem (time, note, no flag, archived, change) as
    InvalidFlagInput, UnknownFlag or FlagArchived; admin forms dry-run it.
    """
    at = check_at(at, now)
    if not isinstance(note, str) or len(note) > NOTE_MAX or text_problem(note):
        raise InvalidFlagInput(f"note: text of at most {NOTE_MAX} characters.")
    if flag is None:
        raise UnknownFlag(f"No flag {key!r}.")
    if flag.archived:
        raise FlagArchived(f"{key} is archived; unarchive it before scheduling a change.")
    return at, check_change(flag, change)


def schedule_create(
    *, key: str, at: dt.datetime, change: Any, actor: str, note: str = ""
) -> dict[str, Any]:
    """Validate and store a change of flag `key` to apply at `at`; return its row."""
    now = timezone.now()
    with transaction.atomic():
        flag = Flag.objects.filter(key=key).first()
        at, change = validate_schedule(key=key, flag=flag, at=at, change=change, note=note, now=now)
        schedule = FlagSchedule.objects.create(
            flag=flag, key=key, at=at, change=change, note=note, created_by=actor
        )
        _enqueue(schedule)
        row = schedule_row(schedule)
        mirror.append(services.STREAM, {"type": "flag_schedule", "actor": actor, **row})
    return row


def _enqueue(schedule: FlagSchedule) -> None:
    """Add a one-off Django-Q2 schedule that applies this change at its time."""
    from django_q.models import Schedule

    Schedule.objects.create(
        name=f"flags.schedule:{schedule.pk}",
        func=TASK,
        args=repr(schedule.pk),
        schedule_type=Schedule.ONCE,
        repeats=-1,
        next_run=schedule.at,
    )


def _dequeue(schedule_id: int) -> None:
    from django_q.models import Schedule

    Schedule.objects.filter(name=f"flags.schedule:{schedule_id}").delete()


def schedule_cancel(*, schedule_id: int, actor: str) -> dict[str, Any]:
    """Cancel a pending change (ScheduleNotPending once applied, failed or cancelled)."""
    with transaction.atomic():
        now = timezone.now()
        pending = FlagSchedule.objects.filter(pk=schedule_id, state=ScheduleState.PENDING)
        if not pending.update(state=ScheduleState.CANCELLED, applied_at=now):
            schedule = FlagSchedule.objects.filter(pk=schedule_id).first()
            if schedule is None:
                raise UnknownSchedule(f"No scheduled change {schedule_id}.")
            raise ScheduleNotPending(f"Scheduled change {schedule_id} is {schedule.state}.")
        _dequeue(schedule_id)
        row = schedule_row(FlagSchedule.objects.get(pk=schedule_id))
        mirror.append(services.STREAM, {"type": "flag_schedule", "actor": actor, **row})
    return row


def schedule_apply(*, schedule_id: int) -> str | None:
    """Apply one due change if still pending (claimed in this transaction); return its state.

    None: not due, or another worker applied, failed or cancelled it. A change
    that no longer validates (or a flag archived since) is marked `failed` with
    the reason, and the flag is not changed.
    """
    with transaction.atomic():
        now = timezone.now()
        claim = FlagSchedule.objects.filter(
            pk=schedule_id, state=ScheduleState.PENDING, at__lte=now
        )
        if not claim.update(state=ScheduleState.APPLIED, applied_at=now):
            return None
        schedule = FlagSchedule.objects.get(pk=schedule_id)
        try:
            with transaction.atomic():
                if Flag.objects.filter(key=schedule.key, archived=True).exists():
                    raise FlagArchived(f"{schedule.key} was archived.")
                services.flag_set(
                    key=schedule.key, actor=f"schedule:{schedule.pk}", **schedule.change
                )
        except ServiceError as exc:
            schedule.state, schedule.error = ScheduleState.FAILED, exc.detail[:2000]
            schedule.save(update_fields=["state", "error"])
        _dequeue(schedule.pk)
        row = schedule_row(schedule)
        mirror.append(services.STREAM, {"type": "flag_schedule", "actor": "schedule", **row})
    return str(schedule.state)


def apply_due() -> dict[str, int]:
    """Apply every pending change whose time has come; return counts per outcome."""
    due = FlagSchedule.objects.filter(state=ScheduleState.PENDING, at__lte=timezone.now())
    outcome = {"applied": 0, "failed": 0, "skipped": 0}
    for schedule_id in list(due.order_by("at", "id").values_list("id", flat=True)[:1000]):
        state = schedule_apply(schedule_id=schedule_id)
        outcome[state or "skipped"] += 1
    return outcome


def schedule_list(
    *, key: str | None = None, state: str | None = None, limit: int = SCHEDULE_LIST_MAX
) -> list[dict[str, Any]]:
    """Return scheduled changes, soonest first (one flag's, one state's)."""
    rows = FlagSchedule.objects.order_by("at", "id")
    if key is not None:
        if not Flag.objects.filter(key=key).exists():
            raise UnknownFlag(f"No flag {key!r}.")
        rows = rows.filter(key=key)
    if state is not None:
        if state not in ScheduleState.values:
            raise InvalidFlagInput(f"state: one of {', '.join(ScheduleState.values)}.")
        rows = rows.filter(state=state)
    return [schedule_row(s) for s in rows[:limit]]
