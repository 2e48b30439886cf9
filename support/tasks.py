"""What Django-Q2 runs for the support app."""

import logging

from echopilot.schedules import register

logger = logging.getLogger("support")

register("support.digest", "support.tasks.digest", minutes=60)


def digest() -> dict:
    """Run the hourly digest; a failure is recorded and returned, never raised."""
    from support.services import record_crash, run_digest

    try:
        result = run_digest(actor="schedule")
    except Exception as exc:  # noqa: BLE001 - the worker must keep running
        logger.exception("support digest crashed")
        try:
            result = record_crash(actor="schedule", error=exc)
        except Exception:  # noqa: BLE001 - e.g. the database itself is down
            logger.exception("support digest crash could not be recorded")
            return {"ok": False, "digest_id": None, "error": "internal"}
    body = result.to_dict()
    return {k: body[k] for k in ("ok", "digest_id", "count", "new_count", "error") if k in body}
