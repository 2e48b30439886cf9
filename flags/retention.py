"""What flags keep: the history of every existing flag, always; usage counts for a while.

Only history rows of flags that no longer exist (by id and by key) may go,
`RETENTION_DELETED_FLAG_HISTORY_DAYS` after the change. While a history row's
flag is deleted with it (`on_delete=CASCADE`), this kind finds nothing.

Scheduled changes that were cancelled or failed changed nothing and go
`RETENTION_FLAG_SCHEDULE_DAYS` after that. An applied one stays as long as its
flag: the history row it wrote names it as the actor (`schedule:<id>`), and
the schedule is what says who asked for the change. Pending ones never go.
"""

from django.db.models import Q

from echopilot.retention import earliest, first_value, register
from flags.models import Flag, FlagChange, FlagSchedule, FlagUsage, ScheduleState


def _history_of_deleted_flags():
    return FlagChange.objects.exclude(flag_id__in=Flag.objects.values("pk")).exclude(
        key__in=Flag.objects.values("key")
    )


def _deleted_flag_history(cutoff):
    return _history_of_deleted_flags().filter(ts__lt=cutoff)


register(
    "deleted_flag_history",
    setting="RETENTION_DELETED_FLAG_HISTORY_DAYS",
    default_days=365,
    queryset=_deleted_flag_history,
    # The oldest row this kind would consider, not the oldest history row of all.
    oldest=lambda: first_value(_history_of_deleted_flags().order_by("ts"), "ts"),
    description="change history of flags that no longer exist (never of existing flags)",
)


register(
    "flag_usage",
    setting="RETENTION_FLAG_USAGE_DAYS",
    default_days=400,
    queryset=lambda cutoff: FlagUsage.objects.filter(hour__lt=cutoff),
    oldest=earliest(FlagUsage, "hour"),
    description="hourly evaluation counts of flags (usage, stale flags)",
)


def _finished_schedules(cutoff):
    # applied_at is when it was applied, failed or cancelled (`at` for a row without one).
    return FlagSchedule.objects.filter(
        Q(applied_at__lt=cutoff) | Q(applied_at__isnull=True, at__lt=cutoff),
        state__in=[ScheduleState.CANCELLED, ScheduleState.FAILED],
    )


register(
    "flag_schedules",
    setting="RETENTION_FLAG_SCHEDULE_DAYS",
    default_days=365,
    queryset=_finished_schedules,
    oldest=earliest(FlagSchedule, "created_at"),
    description="cancelled and failed scheduled changes (applied ones are the flag's history)",
)
