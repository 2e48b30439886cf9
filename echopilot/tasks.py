"""What Django-Q2 runs for the core."""

from echopilot.schedules import register, scheduled

register("echopilot.mirror_flush", "echopilot.tasks.flush_mirror", minutes=1)
register("echopilot.prune", "echopilot.tasks.prune", cron="20 2 * * *")
register("echopilot.backup", "echopilot.tasks.backup", cron="40 2 * * *")


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


@scheduled("echopilot.backup")
def backup() -> dict[str, object]:
    """Write the daily backup and keep the newest BACKUP_KEEP; a failure is the result."""
    from echopilot import backup
    from echopilot.exceptions import ServiceError
    from echopilot.secrets import redact

    try:
        return backup.create().as_dict()
    except (ServiceError, OSError) as exc:
        detail = exc.detail if isinstance(exc, ServiceError) else str(exc)
        return {"ok": False, "error": redact(f"{type(exc).__name__}: {detail}")[:300]}
