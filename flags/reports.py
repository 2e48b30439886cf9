"""Reads over the usage counts: per-day usage of a flag, usage summaries, stale flags.

They read the flushed `FlagUsage` rows, so they lag the evaluations by at most
one flush interval per process (`flags.usage`). A bounded number of queries
whatever the number of flags.
"""

import datetime as dt
from typing import Any

from django.db.models import Max, Min, Sum
from django.utils import timezone

from echopilot import mirror
from flags.exceptions import UnknownFlag
from flags.models import Flag, FlagChange, FlagUsage


def usage_days(*, key: str, days: int) -> list[dict[str, Any]]:
    """Return `[{"date", "variants": {variant: count}}]` for the last `days` UTC days."""
    if not Flag.objects.filter(key=key).exists():
        raise UnknownFlag(f"No flag {key!r}.")
    today = timezone.now().date()
    first = today - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    per_day: dict[dt.date, dict[str, int]] = {first + dt.timedelta(days=i): {} for i in range(days)}
    rows = (
        FlagUsage.objects.filter(key=key, hour__gte=start)
        .values("hour", "variant")
        .annotate(n=Sum("count"))
    )
    for row in rows:
        variants = per_day.setdefault(row["hour"].astimezone(dt.UTC).date(), {})
        variants[row["variant"]] = variants.get(row["variant"], 0) + int(row["n"])
    return [{"date": day.isoformat(), "variants": per_day[day]} for day in sorted(per_day)]


def usage_summary(keys: list[str], *, days: int = 7) -> dict[str, tuple[Any, int]]:
    """Return key -> (last evaluated, evaluations in the last `days` days) for the admin."""
    since = timezone.now() - dt.timedelta(days=days)
    last = dict(
        FlagUsage.objects.filter(key__in=keys)
        .values("key")
        .annotate(last=Max("last_at"))
        .values_list("key", "last")
    )
    recent = dict(
        FlagUsage.objects.filter(key__in=keys, hour__gte=since)
        .values("key")
        .annotate(n=Sum("count"))
        .values_list("key", "n")
    )
    return {k: (last.get(k), int(recent.get(k) or 0)) for k in keys}


def _iso(when: dt.datetime | None) -> str | None:
    return mirror.now_iso(when) if when else None


def _variant_value(flag: Flag, variant: str) -> Any:
    """Return the value a variant of `flag` serves (the default for unknown ones)."""
    for rule in flag.rules or []:
        if rule.get("name") == variant:
            return rule.get("value")
    if flag.rollout and flag.rollout.get("name", "rollout") == variant:
        return flag.rollout.get("value")
    return flag.value


def stale_flags(*, unused_days: int, static_days: int) -> list[dict[str, Any]]:
    """Return live flags not evaluated for `unused_days`, or serving one variant to every
    evaluation for at least `static_days` (since its last change and first count)."""
    now = timezone.now()
    unused_cutoff = now - dt.timedelta(days=unused_days)
    static_cutoff = now - dt.timedelta(days=static_days)
    flags = list(Flag.objects.filter(archived=False).order_by("key"))
    keys = [f.key for f in flags]
    changed = dict(
        FlagChange.objects.filter(key__in=keys, flag__isnull=False)
        .values("key")
        .annotate(ts=Max("ts"))
        .values_list("key", "ts")
    )
    spans: dict[str, dict[str, tuple[dt.datetime, dt.datetime, dt.datetime]]] = {}
    for row in (
        FlagUsage.objects.filter(key__in=keys)
        .values("key", "variant")
        .annotate(first=Min("hour"), last=Max("hour"), last_at=Max("last_at"))
    ):
        spans.setdefault(row["key"], {})[row["variant"]] = (
            row["first"],
            row["last"],
            row["last_at"],
        )
    result = []
    for flag in flags:
        variants = spans.get(flag.key, {})
        last_evaluated = max((v[2] for v in variants.values()), default=None)
        last_change = changed.get(flag.key) or flag.created_at
        entry = {
            "key": flag.key,
            "last_evaluated": _iso(last_evaluated),
            "last_change": _iso(last_change),
        }
        if (last_evaluated or flag.created_at) <= unused_cutoff:
            since = last_evaluated or flag.created_at
            result.append({**entry, "reason": "unused", "value": flag.value, "since": _iso(since)})
            continue
        static = _static_since(variants, last_change)
        if static is not None and static[1] <= static_cutoff:
            value = _variant_value(flag, static[0])
            result.append({**entry, "reason": "static", "value": value, "since": _iso(static[1])})
    return [{k: row[k] for k in _ORDER} for row in result]


_ORDER = ("key", "reason", "last_evaluated", "value", "since", "last_change")


def _static_since(
    variants: dict[str, tuple[dt.datetime, dt.datetime, dt.datetime]], last_change: dt.datetime
) -> tuple[str, dt.datetime] | None:
    """Return (variant, since when it alone has been served), or None if none has."""
    if not variants:
        return None
    latest = max(variants, key=lambda v: variants[v][1])
    others = [span[1] for v, span in variants.items() if v != latest]
    # Served alone since the hour after another variant was last counted, its own
    # first count, and the flag's last change, whichever is latest.
    since = max([variants[latest][0], last_change, *(o + dt.timedelta(hours=1) for o in others)])
    return latest, since
