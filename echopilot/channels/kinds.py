"""Slack (incoming webhook), signed webhooks, and e-mail through Django's backend."""

import hashlib
import hmac
import json
import smtplib
import time

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string

from echopilot.channels.base import Channel, Message, SendResult, http_post

SIGNATURE_HEADER = "X-EchoPilot-Signature"
TIMESTAMP_HEADER = "X-EchoPilot-Timestamp"
DELIVERY_HEADER = "X-EchoPilot-Delivery"


class SlackChannel(Channel):
    """A Slack incoming webhook (the URL is the secret)."""

    type = "slack"

    def __init__(self, name: str, *, url: str) -> None:
        super().__init__(name)
        self.url = url

    def describe(self) -> str:
        return "slack incoming webhook"

    def secrets(self) -> tuple[str, ...]:
        return (self.url,)

    def send(self, message: Message, *, timeout: float) -> SendResult:
        body = json.dumps({"text": message.text}).encode()
        headers = {"Content-Type": "application/json"}
        return http_post(self.url, body=body, headers=headers, timeout=timeout, what="Slack")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Return `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class WebhookChannel(Channel):
    """A JSON POST to any URL, signed with the channel's secret."""

    type = "webhook"

    def __init__(self, name: str, *, url: str, secret: str, url_is_secret: bool) -> None:
        super().__init__(name)
        self.url, self.secret, self.url_is_secret = url, secret, url_is_secret

    def describe(self) -> str:
        return "signed webhook" + ("" if self.url_is_secret else f" to {self.url}")

    def secrets(self) -> tuple[str, ...]:
        return (self.secret, self.url) if self.url_is_secret else (self.secret,)

    def send(self, message: Message, *, timeout: float) -> SendResult:
        body = json.dumps(message.data or {"kind": message.kind, "text": message.text}).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(self.secret, timestamp, body),
        }
        if message.delivery_id:
            headers[DELIVERY_HEADER] = message.delivery_id
        return http_post(self.url, body=body, headers=headers, timeout=timeout, what="the webhook")


class EmailChannel(Channel):
    """Mail through Django's e-mail backend (EMAIL_HOST, EMAIL_PORT, ...), text and HTML."""

    type = "email"

    def __init__(self, name: str, *, to: list[str], sender: str) -> None:
        super().__init__(name)
        self.to, self.sender = to, sender

    def describe(self) -> str:
        return "email to " + ", ".join(self.to)

    def secrets(self) -> tuple[str, ...]:
        return (settings.EMAIL_HOST_PASSWORD,)

    def send(self, message: Message, *, timeout: float) -> SendResult:
        html = render_to_string("channels/message.html", {"message": message})
        mail = EmailMultiAlternatives(
            subject=message.title,
            body=message.text,
            from_email=self.sender or settings.DEFAULT_FROM_EMAIL,
            to=self.to,
            connection=get_connection(timeout=timeout),
        )
        mail.attach_alternative(html, "text/html")
        try:
            mail.send()
        except TimeoutError:
            return SendResult(False, error="timed out waiting for the mail server")
        except smtplib.SMTPResponseException as exc:
            return SendResult(False, error=f"SMTP {exc.smtp_code} ({type(exc).__name__})")
        except (smtplib.SMTPException, OSError) as exc:
            return SendResult(False, error=f"mail not sent ({type(exc).__name__})")
        return SendResult(True)
