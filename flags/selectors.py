"""Reads: evaluation from the cached snapshot, and the change history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from echopilot.exceptions import Invalid, ServiceError
from flags import snapshot, usage
from flags.compiled import CompiledFlag
from flags.engine import Evaluation, FlagError, FlagNotFound, Reason
from flags.exceptions import EvaluationFailed, UnknownFlag
from flags.limits import HISTORY_DEFAULT, HISTORY_MAX, HISTORY_MIN, SEGMENT_KEY_PREFIX

if TYPE_CHECKING:  # the models load only when a read needs them (see flags/__init__.py)
    from django.db.models import QuerySet

    from flags.models import Flag
    from flags.services import ChangeRow

_NO_DEFAULT: Any = object()
# An evaluation of a key that names no live flag (counted, never written).
_UNKNOWN = usage.cell((usage.OTHER, "default", Reason.ERROR))


def _live(key: str) -> CompiledFlag:
    """Return live flag `key` from the snapshot (no query); raise FlagNotFound."""
    flag = snapshot.current().flags.get(key)
    if flag is None:
        usage.count(_UNKNOWN)
        raise FlagNotFound(key, f"No flag {key!r}.")
    return flag


def served_values() -> tuple[int, dict[str, Any]]:
    """Return (count, {key: value}) of every live flag, from the snapshot (each counted)."""
    snap = snapshot.current()
    usage.count_many(snap.served)
    return snap.count, snap.values


def evaluate(
    key: str, context: dict[str, Any] | None = None, *, default: Any = _NO_DEFAULT
) -> Evaluation:
    """Evaluate a flag for `context`: (value, variant, reason).

    Without `default` a failure raises FlagError (FlagNotFound,
    TargetingKeyMissing, InvalidContext); with it, a failure returns
    (default, "default", "ERROR").
    """
    # Inline, not _live() or snapshot.current(): the in-process hot path (bench_flags).
    state = _state
    snap = state.snapshot
    if snap is None or snapshot.clock() - state.checked_at >= _CHECK_INTERVAL:
        snap = snapshot.current()
    flag = snap.get(key)
    try:
        if flag is None:
            usage.count(_UNKNOWN)
            raise FlagNotFound(key, f"No flag {key!r}.")
        return flag.evaluate(context)
    except FlagError:
        if default is _NO_DEFAULT:
            raise
        return Evaluation(default, "default", Reason.ERROR)


_state = snapshot._state
_CHECK_INTERVAL = snapshot.CHECK_INTERVAL


def evaluation_error(exc: FlagError, detail: str | None = None) -> ServiceError:
    """Return the domain error an evaluation failure is reported as (API, command).

    A missing flag is UnknownFlag (404); any other failure is EvaluationFailed
    (400) whose code is the OpenFeature code in lower case.
    """
    if isinstance(exc, FlagNotFound):
        return UnknownFlag(detail or exc.detail)
    return EvaluationFailed(detail or exc.detail, code=exc.code.lower())


def evaluate_all(context: dict[str, Any]) -> list[tuple[str, str, Evaluation | FlagError]]:
    """Evaluate every live flag for one context: (key, type, evaluation or its failure)."""
    results: list[tuple[str, str, Evaluation | FlagError]] = []
    for key, flag in snapshot.current().flags.items():
        try:
            results.append((key, flag.type, flag.evaluate(context)))
        except FlagError as exc:
            results.append((key, flag.type, exc))
    return results


def evaluate_typed(key: str, context: dict[str, Any]) -> tuple[str, Evaluation]:
    """Return (flag type, evaluation) of flag `key` for `context`; raise FlagError."""
    flag = _live(key)
    return flag.type, flag.evaluate(context)


def user_context(user: Any) -> dict[str, Any]:
    """Return an evaluation context for a Django user (no database queries)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return {"anonymous": True}
    context: dict[str, Any] = {
        "anonymous": False,
        "is_staff": bool(getattr(user, "is_staff", False)),
    }
    if getattr(user, "pk", None) is not None:
        context["targetingKey"] = str(user.pk)
    for name in ("username", "email"):
        value = getattr(user, name, None)
        if isinstance(value, str) and value:
            context[name] = value
    context["is_superuser"] = bool(getattr(user, "is_superuser", False))
    return context


def get_value(
    key: str, default: Any = None, *, user: Any = None, context: dict[str, Any] | None = None
) -> Any:
    """Return a flag's value for a user/context, or `default` when it cannot be evaluated."""
    if user is not None:
        context = {**user_context(user), **(context or {})}
    return evaluate(key, context, default=default).value


def is_enabled(
    key: str, *, user: Any = None, context: dict[str, Any] | None = None, default: bool = False
) -> bool:
    """Return True if a boolean flag is on for this user/context (False if unknown)."""
    value = get_value(key, default, user=user, context=context)
    return value if isinstance(value, bool) else default


def history(*, key: str | None = None, limit: int = HISTORY_DEFAULT) -> list[ChangeRow]:
    """Return history rows, newest first; one flag's rows when `key` is given.

    Raises Invalid for a `limit` outside HISTORY_MIN-HISTORY_MAX and
    UnknownFlag for a `key` that names no flag (archived flags have history).
    """
    from flags.models import FlagChange
    from flags.services import change_row

    if not HISTORY_MIN <= limit <= HISTORY_MAX:
        raise Invalid(f"limit: must be {HISTORY_MIN}-{HISTORY_MAX}.")
    rows = FlagChange.objects.order_by("-id")
    if key is not None:
        # A segment's rows (`segment:<name>`) outlive it: any recorded key is known.
        known = flag_exists(key) or (
            key.startswith(SEGMENT_KEY_PREFIX) and FlagChange.objects.filter(key=key).exists()
        )
        if not known:
            raise UnknownFlag(f"No flag {key!r}.")
        rows = rows.filter(key=key)
    return [change_row(c) for c in rows[:limit]]


def list_flags(*, include_archived: bool) -> QuerySet[Flag]:
    """Return every flag (archived ones only with `include_archived`), as a queryset."""
    from flags.models import Flag

    flags = Flag.objects.all()
    return flags if include_archived else flags.filter(archived=False)


def flag_exists(key: str) -> bool:
    """Return True if a flag (live or archived) has this key."""
    from flags.models import Flag

    return Flag.objects.filter(key=key).exists()
