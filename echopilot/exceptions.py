"""Domain errors: what services raise when an operation cannot be done.

Services know nothing of HTTP. Each interface maps these errors in one place:
the DRF exception handler (`echopilot.errors`) to a status and the JSON error
body, `echopilot.commands.AppCommand` to a `CommandError` with an exit code,
and `echopilot.admin.reported()` to an admin error message.
"""

from typing import Any


class ServiceError(Exception):
    """An operation refused or failed, with a stable machine `code`.

    `detail` is the human text; `extra` adds fields to the API's error body
    (e.g. the `index` of the bad item in a batch). Subclasses set the kind.
    """

    code = "error"
    default_detail = "The operation failed."
    exit_code = 1  # of a management command that fails with this error

    def __init__(self, detail: str | None = None, *, code: str | None = None, **extra: Any) -> None:
        self.detail = str(detail or self.default_detail)
        self.code = code or self.code
        self.extra = extra
        super().__init__(self.detail)


class Invalid(ServiceError):
    """The input breaks a rule (HTTP 400)."""

    code = "invalid"
    default_detail = "Invalid input."
    exit_code = 2


class TooLarge(Invalid):
    """The input is over a size limit (HTTP 413): too many items, too much text."""

    code = "payload_too_large"
    default_detail = "The input is over a size limit."


class NotFound(ServiceError):
    """The thing named does not exist (HTTP 404)."""

    code = "not_found"
    default_detail = "Not found."
    exit_code = 3


class Conflict(ServiceError):
    """The current state does not allow the change (HTTP 409)."""

    code = "conflict"
    default_detail = "The change conflicts with the current state."
    exit_code = 4


class UpstreamFailure(ServiceError):
    """A system the service depends on failed (HTTP 502)."""

    code = "upstream_failed"
    default_detail = "An upstream service failed."
    exit_code = 5


class NotConfigured(ServiceError):
    """The operation needs configuration that is missing (HTTP 503)."""

    code = "not_configured"
    default_detail = "Not configured."
    exit_code = 6
