"""What Django-Q2 runs for flags: scheduled changes.

Each scheduled change has a one-off Django-Q2 schedule at its time
(`apply_schedule`); the minute sweep (`apply_due`) applies whatever is due and
still pending, should a one-off run be lost. The row-level claim in
`flags.scheduling.schedule_apply` makes each change apply exactly once.
"""

from echopilot.schedules import register, scheduled

register("flags.apply_schedules", "flags.tasks.apply_due", minutes=1)


@scheduled("flags.apply_schedules")
def apply_due() -> dict:
    """Apply every due scheduled change (never two sweeps at once: the lock)."""
    from flags import scheduling

    return {"ok": True, **scheduling.apply_due()}


def apply_schedule(schedule_id: int) -> dict:
    """Apply one scheduled change when due (a no-op if another worker already did)."""
    from flags import scheduling

    state = scheduling.schedule_apply(schedule_id=int(schedule_id))
    return {"ok": True, "id": int(schedule_id), "state": state}
