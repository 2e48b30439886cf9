"""What Django-Q2 runs for the support app."""

import logging

from echopilot.schedules import register, scheduled

logger = logging.getLogger("support")

register("support.digest", "support.tasks.digest", minutes=60)


@scheduled("support.digest")
def digest() -> dict:
    """Run the hourly digest; a failure is recorded and returned, never raised."""
    from support.services import DigestCrashed, run_digest

    try:
        result = run_digest(actor="schedule")
    except Exception as exc:
        logger.exception("support digest crashed")
        if not isinstance(exc, DigestCrashed):  # not even the crash could be stored
            return {"ok": False, "digest_id": None, "error": "internal"}
        result = exc.result
    body = result.to_dict()
    return {k: body[k] for k in ("ok", "digest_id", "count", "new_count", "error") if k in body}
