"""Reads over the usage counts: per-day usage of a flag, usage summaries, stale flags.

They read the flushed `FlagUsage` rows, so they lag the evaluations by at most
one flush interval per process (`flags.usage`). A bounded number of queries
whatever the number of flags.
"""

import datetime as dt
import json
from typing import Any

from django.db.models import Max, Min, Sum
from django.utils import timezone

from echopilot.mirror import iso
from flags.engine import Reason
from flags.exceptions import UnknownFlag
from flags.models import Flag, FlagChange, FlagUsage

Span = tuple[dt.datetime, dt.datetime, dt.datetime]  # first hour, last hour, last evaluated


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


# The value of what cannot be pinned down (an ERROR, an ambiguous or unknown variant).
_UNKNOWN = object()


def _variant_values(flag: Flag, variant: str) -> list[Any]:
    """Return every value variant `variant` of `flag` can name (today's configuration).

    Variants are named by rules, the rollout and "default"; a rule name may
    equal the rollout's or "default", so a name can stand for several values.
    """
    values = [rule.get("value") for rule in flag.rules or [] if rule.get("name") == variant]
    if flag.rollout and flag.rollout.get("name", "rollout") == variant:
        values.append(flag.rollout.get("value"))
    if variant == "default":
        values.append(flag.value)
    return values


def _served(flag: Flag, variant: str, reason: str) -> tuple[str, Any]:
    """Return (identity, value) of what evaluations counted as (variant, reason) served.

    Equal values share an identity (canonical JSON), so a rollout serving the
    default's value is the same value. An ERROR served the caller's own default,
    and a name that stands for no value or for several cannot be pinned down:
    each of those is an identity of its own, never a value.
    """
    if reason == Reason.ERROR:
        return "error", _UNKNOWN
    values = _variant_values(flag, variant)
    identities = {json.dumps(v, sort_keys=True) for v in values}
    if len(identities) != 1:
        return f"variant:{variant}", _UNKNOWN
    return identities.pop(), values[0]


def stale_flags(*, unused_days: int, static_days: int) -> list[dict[str, Any]]:
    """Return live flags not evaluated for `unused_days`, or serving one value to every
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
    spans: dict[str, list[tuple[str, str, Span]]] = {}
    for row in (
        FlagUsage.objects.filter(key__in=keys)
        .values("key", "variant", "reason")
        .annotate(first=Min("hour"), last=Max("hour"), last_at=Max("last_at"))
    ):
        spans.setdefault(row["key"], []).append(
            (row["variant"], row["reason"], (row["first"], row["last"], row["last_at"]))
        )
    result = []
    for flag in flags:
        counted = spans.get(flag.key, [])
        last_evaluated = max((span[2] for _, _, span in counted), default=None)
        last_change = changed.get(flag.key) or flag.created_at
        entry = {
            "key": flag.key,
            "last_evaluated": iso(last_evaluated),
            "last_change": iso(last_change),
        }
        if (last_evaluated or flag.created_at) <= unused_cutoff:
            since = last_evaluated or flag.created_at
            result.append({**entry, "reason": "unused", "value": flag.value, "since": iso(since)})
            continue
        static = _static_since(flag, counted, last_change)
        if static is not None and static[1] <= static_cutoff:
            value, since = static
            result.append({**entry, "reason": "static", "value": value, "since": iso(since)})
    return [{k: row[k] for k in _ORDER} for row in result]


_ORDER = ("key", "reason", "last_evaluated", "value", "since", "last_change")


def _static_since(
    flag: Flag, counted: list[tuple[str, str, Span]], last_change: dt.datetime
) -> tuple[Any, dt.datetime] | None:
    """Return (value, since when it alone has been served), or None if no one value has.

    Judged by value, not variant: the variants serving equal values are one.
    The variant -> value map is today's configuration, which holds since the
    last change, and `since` is never before that change.
    """
    served: dict[str, tuple[Any, dt.datetime, dt.datetime]] = {}  # identity -> value, span
    for variant, reason, (first, last, _last_at) in counted:
        identity, value = _served(flag, variant, reason)
        seen = served.get(identity)
        if seen is not None:
            first, last = min(first, seen[1]), max(last, seen[2])
        served[identity] = (value, first, last)
    if not served:
        return None
    latest = max(served, key=lambda identity: served[identity][2])
    value, first, _last = served[latest]
    if value is _UNKNOWN:
        return None
    others = [span[2] for identity, span in served.items() if identity != latest]
    # Served alone since the hour after another value was last counted, its own
    # first count, and the flag's last change, whichever is latest.
    since = max([first, last_change, *(o + dt.timedelta(hours=1) for o in others)])
    return value, since
