"""The incidents domain errors: a leaf module, so selectors and services both import it.

`incidents.services` (through `services.common`) re-exports them.
"""

from echopilot.exceptions import Conflict, Invalid, NotFound


class IncidentNotFound(NotFound):
    code = "unknown_incident"
    default_detail = "No such incident."


class IncidentConflict(Conflict):
    code = "conflict"
    default_detail = "The incident cannot change that way."


class SilenceNotFound(NotFound):
    default_detail = "No such silence."


class SilenceInvalid(Invalid):
    """A silence that cannot be created; `field` names the input at fault.

    `field` is for the admin form (an error on that field); it is not added to
    the API's error body.
    """

    def __init__(self, detail: str, *, field: str) -> None:
        super().__init__(detail)
        self.field = field


class NoteInvalid(Invalid):
    default_detail = "The note cannot be written."
