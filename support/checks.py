"""System checks for the IMAP settings the digest reads.

Values that are not numbers or booleans at all are reported by
`echopilot.checks` (settings.INVALID_SETTINGS); these catch the values that
parse but cannot work.
"""

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from echopilot.limits import Range, range_errors

TIMEOUT = Range("support.E003", 0, 600, "seconds", hint="The default is 20.")
LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}


@register()
def imap_settings(app_configs, **kwargs):
    errors: list[CheckMessage] = []
    port = settings.IMAP_PORT
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        errors.append(
            Error(
                f"IMAP_PORT={port!r} is not a TCP port.",
                hint="Use 1-65535, or 0 for the default (993 with IMAP_SSL, 143 without).",
                id="support.E001",
            )
        )
    if not isinstance(settings.IMAP_SSL, bool):
        errors.append(
            Error(
                f"IMAP_SSL={settings.IMAP_SSL!r} is not a boolean.",
                hint="Use 1/0 or true/false.",
                id="support.E002",
            )
        )
    errors += range_errors({"IMAP_TIMEOUT": TIMEOUT})
    errors += _fits_the_web_timeout()
    mailbox = settings.IMAP_MAILBOX
    if not isinstance(mailbox, str) or not mailbox.strip() or not mailbox.isascii():
        errors.append(
            Error(
                f"IMAP_MAILBOX={mailbox!r} must be a non-empty ASCII mailbox name.",
                hint='Use "INBOX" or a folder name such as "Support".',
                id="support.E004",
            )
        )
    present = [n for n in ("IMAP_HOST", "IMAP_USER", "IMAP_PASS") if getattr(settings, n, "")]
    if present and len(present) < 3:
        missing = sorted({"IMAP_HOST", "IMAP_USER", "IMAP_PASS"} - set(present))
        errors.append(
            Warning(
                f"IMAP is partly configured ({', '.join(missing)} missing): "
                "the support digest runs in dry-run mode with sample data.",
                hint="Set IMAP_HOST, IMAP_USER and IMAP_PASS together.",
                id="support.W001",
            )
        )
    if (
        len(present) == 3
        and settings.IMAP_SSL is False
        and settings.IMAP_HOST.strip().lower() not in LOOPBACK
    ):
        errors.append(
            Warning(
                "IMAP_SSL is off for a remote IMAP_HOST: the password crosses the network "
                "in clear text.",
                hint="Set IMAP_SSL=1 (port 993) unless the server is on this machine.",
                id="support.W002",
            )
        )
    return errors


def _fits_the_web_timeout() -> list[CheckMessage]:
    """The digest runs inside a request: it must end before gunicorn kills the worker."""
    timeout, web = settings.IMAP_TIMEOUT, settings.WEB_TIMEOUT
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (timeout, web))
    if numbers and timeout > web - 5:
        return [
            Error(
                f"IMAP_TIMEOUT={timeout:g} must be at most WEB_TIMEOUT - 5 = {web - 5:g} seconds.",
                hint="A digest asked for over the API would be killed by the web server's "
                "timeout before it could answer 502 imap_timeout. Lower IMAP_TIMEOUT or "
                "raise WEB_TIMEOUT.",
                id="support.E005",
            )
        ]
    return []
