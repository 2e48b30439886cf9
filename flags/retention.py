"""What flags keep: the history of every existing flag, always; usage counts for a while.

Only history rows of flags that no longer exist (by id and by key) may go,
`RETENTION_DELETED_FLAG_HISTORY_DAYS` after the change. While a history row's
flag is deleted with it (`on_delete=CASCADE`), this kind finds nothing.
"""

from django.db.models import Min

from echopilot.retention import register
from flags.models import Flag, FlagChange, FlagUsage


def _deleted_flag_history(cutoff):
    return (
        FlagChange.objects.filter(ts__lt=cutoff)
        .exclude(flag_id__in=Flag.objects.values("pk"))
        .exclude(key__in=Flag.objects.values("key"))
    )


register(
    "deleted_flag_history",
    setting="RETENTION_DELETED_FLAG_HISTORY_DAYS",
    default_days=365,
    queryset=_deleted_flag_history,
    oldest=lambda: FlagChange.objects.aggregate(m=Min("ts"))["m"],
    description="change history of flags that no longer exist (never of existing flags)",
)


register(
    "flag_usage",
    setting="RETENTION_FLAG_USAGE_DAYS",
    default_days=400,
    queryset=lambda cutoff: FlagUsage.objects.filter(hour__lt=cutoff),
    oldest=lambda: FlagUsage.objects.aggregate(m=Min("hour"))["m"],
    description="hourly evaluation counts of flags (usage, stale flags)",
)
