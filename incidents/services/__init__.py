"""Incident operations: scan, deliver alerts, acknowledge, resolve, silence, receive.

The API views, admin actions, management commands and the scheduled task all
call these functions, so every interface behaves the same. They raise
`echopilot.exceptions` errors (the classes in `common`), which each interface
maps in one place. One module per job:

- `scanning`: the scan (read the signals, open/update/resolve, queue alerts)
- `episodes`: severity, queued alerts, acknowledge and resolve by hand
- `delivery`: sending pending alerts to Telegram, in order, until accepted
- `silences`: muting issue keys, and the limits a silence must keep
- `receiver`: the Prometheus Alertmanager webhook
- `examples`: example signal files for `manage.py incidents signals`
"""

from incidents.services.common import (
    STREAM,
    IncidentConflict,
    IncidentNotFound,
    SilenceInvalid,
    SilenceNotFound,
)
from incidents.services.delivery import DELIVERY_BATCH, deliver_pending
from incidents.services.episodes import acknowledge, resolve, severity_for
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
    "SILENCE_KEY",
    "SILENCE_KEY_MAX",
    "SILENCE_REASON_MAX",
    "STREAM",
    "IncidentConflict",
    "IncidentNotFound",
    "SilenceInvalid",
    "SilenceNotFound",
    "acknowledge",
    "active_silences",
    "create_silence",
    "deliver_pending",
    "expire_silence",
    "receive_alertmanager",
    "resolve",
    "scan",
    "severity_for",
    "silence_until",
    "validate_silence",
    "write_example_signals",
]
