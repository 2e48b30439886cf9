"""Keep configured secrets out of logs, NDJSON lines and error texts."""

import functools
import logging

from django.conf import settings

MASK = "***"


def secret_values() -> tuple[str, ...]:
    """Return every configured secret value, longest first (read at call time)."""
    raw = tuple(getattr(settings, name, "") or "" for name in settings.SECRET_SETTINGS)
    return _secret_values(settings.SECRET_SETTINGS, raw)


@functools.lru_cache(maxsize=8)
def _secret_values(names: tuple[str, ...], raw: tuple[str, ...]) -> tuple[str, ...]:
    # Cached on the raw values, so a changed setting (or override_settings) is seen.
    values: set[str] = set()
    for name, value in zip(names, raw, strict=True):
        parts = value.split(",") if name == "DASHBOARD_KEY" else [value]
        values.update(p.strip() for p in parts if len(p.strip()) >= 4)
    return tuple(sorted(values, key=len, reverse=True))


def redact(text: str) -> str:
    """Return `text` with every configured secret replaced by `***`."""
    if not text:
        return text
    for value in secret_values():
        if value in text:
            text = text.replace(value, MASK)
    return text


class RedactFilter(logging.Filter):
    """Mask secrets in a log record's final message (and drop its arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        cleaned = redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Exception texts (e.g. a requests URL with a bot token) are
            # rendered later by the formatter; render and mask them now.
            formatted = logging.Formatter().formatException(record.exc_info)
            cleaned = f"{cleaned}\n{redact(formatted)}"
            record.exc_info = None
            record.exc_text = None
        record.msg = cleaned
        record.args = ()
        return True
