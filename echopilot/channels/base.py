"""What every channel shares: the message, the send result, and one HTTP POST.

No error text here comes from an HTTP library: a channel's URL may hold its
secret (a Slack webhook, the Telegram bot token), and `requests` puts URLs into
its exception texts. Errors are built from status codes and exception names.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

logger = logging.getLogger("echopilot.channels")

# A 429 asking to wait up to this long is waited out and retried once.
MAX_INLINE_WAIT = 5.0


@dataclass(frozen=True)
class Message:
    """One notification, in the shapes the channel types need."""

    kind: str  # opened, escalated, repeat, reopened, resolved, announce
    text: str  # plain text: Telegram, Slack, the e-mail's text part
    subject: str = ""  # e-mail subject (default: the first line of text)
    data: dict[str, Any] = field(default_factory=dict)  # the webhook's JSON body
    delivery_id: str = ""  # sent as X-EchoPilot-Delivery so receivers can drop repeats

    @property
    def title(self) -> str:
        return self.subject or self.text.split("\n", 1)[0][:200]


@dataclass
class SendResult:
    ok: bool
    error: str = ""
    retry_after: float | None = None
    external_id: str = ""  # e.g. Telegram's message id


class Channel:
    """A named destination; subclasses implement `send`."""

    type = ""

    def __init__(self, name: str) -> None:
        self.name = name

    def send(self, message: Message, *, timeout: float) -> SendResult:
        raise NotImplementedError

    def describe(self) -> str:
        """Return a safe one-line description (never the secret)."""
        return self.type

    def secrets(self) -> tuple[str, ...]:
        """Return the values that must never be shown (masked in error texts)."""
        return ()

    def masked(self, text: str) -> str:
        for value in self.secrets():
            if value and len(value) >= 4:
                text = text.replace(value, "***")
        return text


def retry_after_header(response: requests.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


def post_once(
    url: str, *, timeout: float, what: str, where: str | None = None, **kwargs: Any
) -> requests.Response | SendResult:
    """POST once without following redirects; return the response, or the failed send.

    The error names `what` was waited for, and `where` (default `what`) could not
    be reached; never the exception's text (it may hold the URL).
    """
    try:
        return requests.post(url, timeout=timeout, allow_redirects=False, **kwargs)
    except requests.Timeout:
        return SendResult(False, error=f"timed out waiting for {what}")
    except requests.ConnectionError:
        return SendResult(False, error=f"cannot connect to {where or what}")
    except requests.RequestException as exc:
        return SendResult(False, error=f"request failed ({type(exc).__name__})")


def http_post(
    url: str, *, body: bytes, headers: dict[str, str], timeout: float, what: str
) -> SendResult:
    """POST once without following redirects; 2xx is accepted, anything else fails."""
    response = post_once(url, data=body, headers=headers, timeout=timeout, what=what)
    if isinstance(response, SendResult):
        return response
    status = response.status_code
    if 200 <= status < 300:
        return SendResult(True)
    if status == 429:
        return SendResult(False, error="HTTP 429", retry_after=retry_after_header(response))
    if 300 <= status < 400:
        return SendResult(False, error=f"HTTP {status}: redirects are not followed")
    return SendResult(False, error=f"HTTP {status}")


def send_with_retry(
    channel: Channel, message: Message, *, timeout: float, sleep: Callable[[float], Any]
) -> SendResult:
    """Send; on a 429 asking for at most 5 s, wait and try once more. Never raises."""
    try:
        result = channel.send(message, timeout=timeout)
        if (
            not result.ok
            and result.retry_after is not None
            and result.retry_after <= MAX_INLINE_WAIT
        ):
            sleep(result.retry_after)
            result = channel.send(message, timeout=timeout)
    except Exception as exc:  # a channel must never break the caller
        result = SendResult(False, error=f"send failed ({type(exc).__name__})")
    result.error = channel.masked(result.error)[:300]
    if not result.ok:
        label = channel.type.capitalize()
        logger.warning("%s send failed (channel %r): %s", label, channel.name, result.error)
    return result
