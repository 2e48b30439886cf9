"""Reads: evaluation from the cached snapshot, and the change history."""

from typing import Any

from flags import snapshot
from flags.engine import Evaluation, FlagError, FlagNotFound, Reason

_NO_DEFAULT: Any = object()


def served_values() -> tuple[int, Any]:
    """Return (count, {key: value}) of every live flag, from the snapshot."""
    snap = snapshot.current()
    return snap.count, snap.values


def evaluate(key: str, context: dict | None = None, *, default: Any = _NO_DEFAULT) -> Evaluation:
    """Evaluate a flag for `context`: (value, variant, reason).

    Without `default` a failure raises FlagError (FlagNotFound,
    TargetingKeyMissing, InvalidContext); with it, a failure returns
    (default, "default", "ERROR").
    """
    flag = snapshot.current().flags.get(key)
    try:
        if flag is None:
            raise FlagNotFound(key, f"No flag {key!r}.")
        return flag.evaluate(context)
    except FlagError:
        if default is _NO_DEFAULT:
            raise
        return Evaluation(default, "default", Reason.ERROR)


def user_context(user) -> dict:
    """Return an evaluation context for a Django user (no database queries)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return {"anonymous": True}
    context = {"anonymous": False, "is_staff": bool(getattr(user, "is_staff", False))}
    if getattr(user, "pk", None) is not None:
        context["targetingKey"] = str(user.pk)
    for name in ("username", "email"):
        value = getattr(user, name, None)
        if isinstance(value, str) and value:
            context[name] = value
    context["is_superuser"] = bool(getattr(user, "is_superuser", False))
    return context


def get_value(key: str, default: Any = None, *, user=None, context: dict | None = None) -> Any:
    """Return a flag's value for a user/context, or `default` when it cannot be evaluated."""
    if user is not None:
        context = {**user_context(user), **(context or {})}
    return evaluate(key, context, default=default).value


def is_enabled(key: str, *, user=None, context: dict | None = None, default: bool = False) -> bool:
    """Return True if a boolean flag is on for this user/context (False if unknown)."""
    value = get_value(key, default, user=user, context=context)
    return value if isinstance(value, bool) else default


def history(*, key: str | None = None, limit: int = 50) -> list[dict]:
    """Return history rows, newest first; one flag's rows when `key` is given."""
    from flags.models import FlagChange
    from flags.services import change_row

    rows = FlagChange.objects.order_by("-id")
    if key is not None:
        rows = rows.filter(key=key)
    return [change_row(c) for c in rows[:limit]]


def list_flags(*, include_archived: bool):
    """Return every flag (archived ones only with `include_archived`), as a queryset."""
    from flags.models import Flag

    flags = Flag.objects.all()
    return flags if include_archived else flags.filter(archived=False)


def flag_exists(key: str) -> bool:
    from flags.models import Flag

    return Flag.objects.filter(key=key).exists()
