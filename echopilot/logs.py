"""LOG_FORMAT=json: every log record as one JSON object on one line.

Keys: `ts` (UTC, ISO-8601 with milliseconds and `Z`), `level`, `logger`,
`message`, and `exc` for a traceback; a request line (`echopilot.request`,
from `echopilot.metrics.RequestMetrics`) adds `method`, `route`, `path`,
`status`, `duration_ms` and `key_name` (the key's name, never the key).
Secrets are masked as in every other output. gunicorn's own lines use this
formatter too (gunicorn.conf.py), before Django is set up.
"""

import datetime as dt
import json
import logging
import os

from django.conf import settings

# Extra fields a record may carry that the JSON line shows.
FIELDS = ("method", "route", "path", "status", "duration_ms", "key_name")
# Read from the environment when Django's settings are not set up (gunicorn's master).
SECRET_NAMES = ("DASHBOARD_KEY", "IMAP_PASS", "TELEGRAM_BOT_TOKEN", "SECRET_KEY")


def redact(text: str) -> str:
    """Mask configured secrets, from the settings or (before Django starts) the environment."""
    if settings.configured:
        from echopilot.secrets import redact as redact_settings

        return redact_settings(text)
    for name in SECRET_NAMES:
        for value in (os.environ.get(name) or "").split(","):
            value = value.strip()
            if len(value) >= 4 and value in text:
                text = text.replace(value, "***")
    return text


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object (no newline inside: tracebacks are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        ts = dt.datetime.fromtimestamp(record.created, dt.UTC)
        line: dict[str, object] = {
            "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in FIELDS:
            if name in record.__dict__:
                value = record.__dict__[name]
                line[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exc"] = redact(record.exc_text)
        return json.dumps(line, ensure_ascii=False, default=str)
