"""Signals other code may connect to (the coordinator wires announcements here).

`flag_changed` is sent once per flag history row, after the change commits,
with `change=<FlagChange row>`. Receivers decide what to do (e.g. announce it
on `change.flag.announce_channels` when `change.flag.announce` is on); a
receiver that raises is logged and never undoes or breaks the change.
"""

import logging

from django.dispatch import Signal

logger = logging.getLogger("flags.signals")

flag_changed = Signal()


def send_changed(change) -> None:
    """Send `flag_changed` for one committed history row of a flag (not a segment's)."""
    if change.flag_id is None:
        return
    for receiver, result in flag_changed.send_robust(sender=type(change), change=change):
        if isinstance(result, Exception):
            logger.error("flag_changed receiver %r failed: %s", receiver, result)
