"""What the incidents services share: the NDJSON stream and the domain errors."""

from echopilot.exceptions import Conflict, Invalid, NotFound

# Every scan, change and delivery attempt is mirrored to `<log dir>/incidents.ndjson`.
STREAM = "incidents"


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
