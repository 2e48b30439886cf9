"""Send one message through the Telegram Bot API, never leaking the bot token.

The token is part of the request URL, and `requests` puts the URL into its
exception texts; so no exception from here carries the library's message:
`send()` returns a `SendResult` whose `error` is text built here, masked again.
"""

import logging
from dataclasses import dataclass

import requests
from django.conf import settings

from echopilot.secrets import redact
from incidents import limits

logger = logging.getLogger("incidents.telegram")

# Telegram refuses messages over 4,096 characters (counted in UTF-16 units).
MAX_MESSAGE = 4096
# A 429 asking to wait up to this long is waited out and retried once.
MAX_INLINE_WAIT = 5.0


@dataclass
class SendResult:
    ok: bool
    error: str = ""
    retry_after: float | None = None
    message_id: int | None = None


def configured() -> bool:
    return bool(settings.TELEGRAM_BOT_TOKEN and settings.TELEGRAM_CHAT_ID)


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fit(text: str, limit: int = MAX_MESSAGE) -> str:
    """Return `text` cut to Telegram's limit, with a note saying it was cut."""
    if _units(text) <= limit:
        return text
    note = "\n… (message cut: {n} more characters, see the admin)"
    budget = limit - _units(note.format(n=len(text)))
    head = text[:budget]
    while _units(head) > budget:  # astral characters count twice: trim the overshoot
        overshoot = _units(head) - budget
        head = head[: len(head) - max(1, overshoot // 2)]
    return head + note.format(n=len(text) - len(head))


def _retry_after(response) -> float | None:
    try:
        body = response.json()
        value = body.get("parameters", {}).get("retry_after")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return max(0.0, float(value))
    except (ValueError, AttributeError):
        pass
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


def _describe(response) -> str:
    try:
        description = str(response.json().get("description", ""))[:120]
    except (ValueError, AttributeError):
        description = ""
    text = f"HTTP {response.status_code}" + (f": {description}" if description else "")
    return redact(text)


def post_once(text: str) -> SendResult:
    """Make one sendMessage request; return what happened, without the URL."""
    token = settings.TELEGRAM_BOT_TOKEN
    url = f"{settings.TELEGRAM_API_BASE.rstrip('/')}/bot{token}/sendMessage"
    try:
        response = requests.post(
            url,
            json={"chat_id": settings.TELEGRAM_CHAT_ID, "text": text},
            timeout=limits.value("TELEGRAM_TIMEOUT"),
        )
    except requests.Timeout:
        return SendResult(False, error="timed out waiting for Telegram")
    except requests.ConnectionError:
        return SendResult(False, error="cannot connect to the Telegram API")
    except requests.RequestException as exc:
        return SendResult(False, error=f"request failed ({type(exc).__name__})")
    if response.status_code == 429:
        wait = _retry_after(response)
        return SendResult(False, error=_describe(response), retry_after=wait)
    if response.status_code != 200:
        return SendResult(False, error=_describe(response))
    try:
        body = response.json()
    except ValueError:
        return SendResult(False, error="HTTP 200 with a body that is not JSON")
    if not isinstance(body, dict) or body.get("ok") is not True:
        return SendResult(False, error=_describe(response))
    result = body.get("result")
    message_id = result.get("message_id") if isinstance(result, dict) else None
    return SendResult(True, message_id=message_id if isinstance(message_id, int) else None)


def send(text: str, *, sleep) -> SendResult:
    """Send `text`; on a 429 asking for at most 5 s, wait and try once more."""
    result = post_once(text)
    if not result.ok and result.retry_after is not None and result.retry_after <= MAX_INLINE_WAIT:
        sleep(result.retry_after)
        result = post_once(text)
    if not result.ok:
        logger.warning("Telegram send failed: %s", result.error)
    return result
