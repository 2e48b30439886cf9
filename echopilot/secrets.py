"""Keep configured secrets out of logs, NDJSON lines and error texts."""

import logging

from django.conf import settings

MASK = "***"


def secret_values() -> list[str]:
    """Return every configured secret value, longest first (read at call time)."""
    values = []
    for name in settings.SECRET_SETTINGS:
        raw = getattr(settings, name, "") or ""
        parts = raw.split(",") if name == "DASHBOARD_KEY" else [raw]
        values.extend(p.strip() for p in parts if len(p.strip()) >= 4)
    return sorted(set(values), key=len, reverse=True)


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
        except Exception:  # noqa: BLE001 - a bad format string must not hide the log
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
