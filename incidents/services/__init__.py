"""Incident operations: scan, deliver alerts, acknowledge, resolve, silence, receive.

The API views, admin actions, management commands and the scheduled task all
call these functions, so every interface behaves the same. They raise
`echopilot.exceptions` errors (the classes in `common`), which each interface
maps in one place. One module per job:

- `scanning`: the scan (read the signals, open/update/resolve, queue alerts)
- `episodes`: severity, queued alerts, acknowledge and resolve by hand, notes
- `delivery`: sending pending alerts on every channel, in order, until accepted
- `routing`: routes, escalation tiers and runbooks (configs/incidents.json)
- `flapping`: reopening an incident whose issues return soon after recovering
- `events`: timeline entries (escalations, silences, reopenings, state changes)
- `silences`: muting issue keys, and the limits a silence must keep
- `receiver`: the Prometheus Alertmanager webhook
- `examples`: example signal files for `manage.py incidents signals`
"""

from incidents.services.common import (
    STREAM,
    IncidentConflict,
    IncidentNotFound,
    NoteInvalid,
    SilenceInvalid,
    SilenceNotFound,
)
from incidents.services.delivery import DELIVERY_BATCH, deliver_pending
from incidents.services.episodes import (
    NOTE_MAX,
    acknowledge,
    add_note,
    resolve,
    severity_for,
    validate_note,
)
from incidents.services.examples import write_example_signals
from incidents.services.receiver import receive_alertmanager
from incidents.services.scanning import scan
from incidents.services.silences import (
    MAX_SILENCE,
    MAX_SILENCE_DAYS,
    MAX_SILENCE_MINUTES,
    SILENCE_KEY,
    SILENCE_KEY_MAX,
    SILENCE_REASON_MAX,
    active_silences,
    create_silence,
    expire_silence,
    silence_until,
    validate_silence,
)

__all__ = [
    "DELIVERY_BATCH",
    "MAX_SILENCE",
    "MAX_SILENCE_DAYS",
    "MAX_SILENCE_MINUTES",
    "NOTE_MAX",
    "SILENCE_KEY",
    "SILENCE_KEY_MAX",
    "SILENCE_REASON_MAX",
    "STREAM",
    "IncidentConflict",
    "IncidentNotFound",
    "NoteInvalid",
    "SilenceInvalid",
    "SilenceNotFound",
    "acknowledge",
    "add_note",
    "active_silences",
    "create_silence",
    "deliver_pending",
    "expire_silence",
    "receive_alertmanager",
    "resolve",
    "scan",
    "severity_for",
    "silence_until",
    "validate_note",
    "validate_silence",
    "write_example_signals",
]
