"""Scheduled cost work: the daily report at 01:10 UTC."""

from echopilot.schedules import register, scheduled

register("costs.daily_report", "costs.tasks.daily_report", cron="10 1 * * *")


@scheduled("costs.daily_report")
def daily_report() -> dict:
    """Store the day's cost report and prune old task records (never raises)."""
    from costs import services

    return services.daily_report(actor="schedule")
