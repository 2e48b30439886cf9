"""The overview's Flags card: counts, disabled and archived flags, the latest changes."""

from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest
from django.urls import reverse

from echopilot.text import short_json
from flags import reports
from flags.limits import STALE_STATIC_DEFAULT, STALE_UNUSED_DEFAULT
from flags.models import Flag, FlagChange

LISTED = 10  # disabled/archived keys named, and changes shown
VALUE_TEXT_MAX = 40


def _short(value: Any) -> str:
    """Return a value as compact JSON, cut to VALUE_TEXT_MAX characters ("—" for none)."""
    return "—" if value is None else short_json(value, VALUE_TEXT_MAX, compact=True)


def _keys(queryset: Any) -> list[dict[str, Any]]:
    rows = queryset.order_by("key").values_list("id", "key")[:LISTED]
    return [{"key": key, "url": reverse("admin:flags_flag_change", args=[pk])} for pk, key in rows]


def card(request: HttpRequest) -> dict[str, Any]:
    """Return the Flags card (a fixed number of queries, whatever the data size)."""
    counts = Flag.objects.aggregate(
        total=Count("id"),
        live=Count("id", filter=Q(archived=False)),
        disabled=Count("id", filter=Q(enabled=False, archived=False)),
        archived=Count("id", filter=Q(archived=True)),
    )
    changes = FlagChange.objects.order_by("-id").values(
        "id", "flag_id", "key", "field", "old", "new", "actor", "ts"
    )[:LISTED]
    changelist = reverse("admin:flags_flag_changelist")
    return {
        **counts,
        "disabled_flags": _keys(Flag.objects.filter(enabled=False, archived=False)),
        "archived_flags": _keys(Flag.objects.filter(archived=True)),
        "changelist": changelist,
        "disabled_url": f"{changelist}?enabled__exact=0&archived__exact=0",
        "archived_url": f"{changelist}?archived__exact=1",
        "changes": [
            {
                **c,
                "old_text": _short(c["old"]),
                "new_text": _short(c["new"]),
                # A segment's change (`segment:<name>`) belongs to no flag.
                "url": c["flag_id"] and reverse("admin:flags_flag_change", args=[c["flag_id"]]),
            }
            for c in changes
        ],
        "history_url": reverse("admin:flags_flagchange_changelist"),
        "stale_flags": _stale(),
        "stale_days": (STALE_UNUSED_DEFAULT, STALE_STATIC_DEFAULT),
    }


def _stale() -> list[dict[str, Any]]:
    """Return the stale flags (unused 30 days, or one value for 14), at most LISTED."""
    rows = reports.stale_flags(unused_days=STALE_UNUSED_DEFAULT, static_days=STALE_STATIC_DEFAULT)
    ids = dict(
        Flag.objects.filter(key__in=[r["key"] for r in rows[:LISTED]]).values_list("key", "id")
    )
    return [
        {
            "key": r["key"],
            "reason": r["reason"],
            "url": reverse("admin:flags_flag_change", args=[ids[r["key"]]]),
        }
        for r in rows[:LISTED]
        if r["key"] in ids
    ]
