"""Announcements: a flag with `announce` on posts each change to its channels.

Connected to `flags.signals.flag_changed` (sent after commit, once per history
row) in `FlagsConfig.ready()`. One line per change — who changed what, old →
new — sent through the core channels (`echopilot.channels.announce`: best
effort, never raises, bounded by each channel's timeout).
"""

from typing import Any

from echopilot import channels
from echopilot.text import short_json, single_line

MAX_SHOWN = 200  # characters of an old/new value in the line


def line(change: Any) -> str:
    """Return the one-line announcement of a flag history row."""
    text = (
        f"{change.actor} changed {change.key} {change.field}: "
        f"{short_json(change.old, MAX_SHOWN, compact=True)} → "
        f"{short_json(change.new, MAX_SHOWN, compact=True)} ({change.source})"
    )
    return single_line(text)


def on_flag_changed(sender: Any, change: Any, **kwargs: Any) -> None:
    """Announce `change` when its flag says so."""
    flag = change.flag
    if flag is None or not flag.announce:
        return
    conf = channels.load()  # once per change; never raises
    names = list(flag.announce_channels or conf.channels)  # [] = every channel
    channels.announce(names, line(change), conf=conf)
