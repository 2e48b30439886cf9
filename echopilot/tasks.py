"""What Django-Q2 runs for the core."""

from echopilot.schedules import register, scheduled

register("echopilot.mirror_flush", "echopilot.tasks.flush_mirror", minutes=1)


@scheduled("echopilot.mirror_flush")
def flush_mirror() -> dict[str, object]:
    """Write whatever waits in the mirror outbox (after a full or read-only log dir)."""
    from echopilot import mirror

    mirror.resume()
    result = mirror.flush()
    return {"ok": not result.error, "written": result.written, "error": result.error}
