"""What Django-Q2 runs: the 5-minute incident scan."""

import logging

from echopilot.schedules import register, scheduled
from echopilot.secrets import redact

logger = logging.getLogger("incidents")

register("incidents.scan", "incidents.tasks.scan", minutes=5)


@scheduled("incidents.scan")
def scan() -> dict:
    """Run one scan; never raise (the failure is logged, mirrored and returned).

    Django-Q2 stores the return value, so it is a short summary with no secret.
    """
    from echopilot import mirror
    from incidents import services

    try:
        result = services.scan(actor="schedule")
    except Exception as exc:
        error = redact(f"{type(exc).__name__}: {exc}")[:300]
        logger.exception("Incident scan failed")
        try:
            mirror.write_now(
                services.STREAM, {"type": "scan_failed", "actor": "schedule", "error": error}
            )
        except OSError:
            pass
        return {"ok": False, "error": error}
    return {
        "ok": True,
        "breach": result["breach"],
        "incident_count": result["incident_count"],
        "incident_id": result["incident_id"],
        "alerted": result["alerted"],
        "delivered": result["delivered"],
        "dry_run": result["dry_run"],
        "sources": {name: rep.get("status") for name, rep in result["sources"].items()},
    }
