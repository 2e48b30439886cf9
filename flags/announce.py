"""Announcements: a flag with `announce` on posts each change to its channels.

Connected to `flags.signals.flag_changed` (sent after commit, once per history
row) in `FlagsConfig.ready()`. One line per change — who changed what, old →
new — sent through the core channels (`echopilot.channels.announce`: best
effort, never raises, bounded by each channel's timeout).
"""

import json
from typing import Any

from echopilot import channels
from echopilot.text import single_line

MAX_SHOWN = 200  # characters of an old/new value in the line


def shown(value: Any) -> str:
    """Return a value as compact JSON, cut to MAX_SHOWN characters."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def line(change: Any) -> str:
    """Return the one-line announcement of a flag history row."""
    text = (
        f"{change.actor} changed {change.key} {change.field}: "
        f"{shown(change.old)} → {shown(change.new)} ({change.source})"
    )
    return single_line(text)


def on_flag_changed(sender: Any, change: Any, **kwargs: Any) -> None:
    """Announce `change` when its flag says so."""
    flag = change.flag
    if flag is None or not flag.announce:
        return
    names = list(flag.announce_channels or channels.configured())  # [] = every channel
    channels.announce(names, line(change))
