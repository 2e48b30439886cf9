"""Telegram: `sendMessage` through the Bot API, never leaking the bot token.

The token is part of the request URL, so no error text comes from `requests`.
"""

import requests

from echopilot.channels.base import (
    Channel,
    Message,
    SendResult,
    post_once,
    retry_after_header,
)

# Telegram refuses messages over 4,096 characters (counted in UTF-16 units).
MAX_MESSAGE = 4096


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


def _retry_after(response: requests.Response) -> float | None:
    try:
        value = response.json().get("parameters", {}).get("retry_after")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return max(0.0, float(value))
    except (ValueError, AttributeError):
        pass
    return retry_after_header(response)


def _describe(response: requests.Response) -> str:
    try:
        description = str(response.json().get("description", ""))[:120]
    except (ValueError, AttributeError):
        description = ""
    return f"HTTP {response.status_code}" + (f": {description}" if description else "")


class TelegramChannel(Channel):
    type = "telegram"

    def __init__(self, name: str, *, token: str, chat_id: str, api_base: str) -> None:
        super().__init__(name)
        self.token, self.chat_id, self.api_base = token, chat_id, api_base

    def describe(self) -> str:
        return f"telegram chat {self.chat_id}"

    def secrets(self) -> tuple[str, ...]:
        return (self.token,)

    def send(self, message: Message, *, timeout: float) -> SendResult:
        """Make one sendMessage request; return what happened, without the URL."""
        url = f"{self.api_base.rstrip('/')}/bot{self.token}/sendMessage"
        response = post_once(
            url,
            json={"chat_id": self.chat_id, "text": fit(message.text)},
            timeout=timeout,
            what="Telegram",
            where="the Telegram API",
        )
        if isinstance(response, SendResult):
            return response
        if response.status_code == 429:
            return SendResult(False, error=_describe(response), retry_after=_retry_after(response))
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
        return SendResult(True, external_id=str(message_id) if isinstance(message_id, int) else "")
