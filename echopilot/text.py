"""Make externally supplied text safe to show on one line (alerts, admin, chat messages)."""

import datetime as dt
import json
import re

# C0 and C1 control characters, DEL, and the Unicode line/paragraph separators:
# anything that starts a new line or moves the cursor in a chat client or terminal.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def single_line(text: str, *, limit: int | None = None) -> str:
    """Return `text` with every run of control characters (newlines included) as one space.

    Format characters that reorder text (the bidi overrides U+202A-U+202E and
    U+2066-U+2069) are dropped too, so a name cannot display as something it
    is not. `limit` cuts the result to that many characters.
    """
    if not text.isascii():
        text = "".join(ch for ch in text if ch not in _BIDI)
    text = _CONTROL.sub(" ", text).strip()
    return text[:limit] if limit is not None else text


_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def cut_utf8(text: str, max_bytes: int, marker: str = "…") -> str:
    """Return `text` cut to at most `max_bytes` UTF-8 bytes, ending in `marker` if cut."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    room = max(0, max_bytes - len(marker.encode("utf-8")))
    return raw[:room].decode("utf-8", "ignore") + marker


def short_json(value: object, limit: int = 60, *, compact: bool = False) -> str:
    """Return `value` as JSON (keys sorted), cut to `limit` characters with "…".

    `compact` drops the spaces after "," and ":" (one-line summaries).
    """
    separators = (",", ":") if compact else None
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=separators)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def console_date(when: dt.datetime) -> str:
    """Return `when` as the console shows every date: `2026-11-27 03:52 UTC`
    (settings.DATETIME_FORMAT, in UTC whatever the zone `when` carries)."""
    from django.utils.formats import date_format

    return date_format(when.astimezone(dt.UTC), "DATETIME_FORMAT")
