"""What Django-Q2 runs for the core."""

from echopilot.schedules import register, scheduled

register("echopilot.mirror_flush", "echopilot.tasks.flush_mirror", minutes=1)
register("echopilot.prune", "echopilot.tasks.prune", cron="20 2 * * *")


@scheduled("echopilot.mirror_flush")
def flush_mirror() -> dict[str, object]:
    """Write whatever waits in the mirror outbox (after a full or read-only log dir)."""
    from echopilot import mirror

    mirror.resume()
    result = mirror.flush()
    return {"ok": not result.error, "written": result.written, "error": result.error}


@scheduled("echopilot.prune")
def prune() -> dict[str, object]:
    """Delete the records past their retention (every kind, in batches)."""
    from echopilot import retention

    outcomes = retention.prune()
    return {
        "ok": not any(o.error for o in outcomes),
        "deleted": {o.kind: o.rows for o in outcomes},
        "errors": {o.kind: o.error for o in outcomes if o.error},
    }
