"""What the incidents services share: the NDJSON stream and the domain errors.

The errors live in `incidents.errors` (a leaf module the selectors import too);
they are re-exported here.
"""

from incidents.errors import (
    IncidentConflict,
    IncidentNotFound,
    NoteInvalid,
    SilenceInvalid,
    SilenceNotFound,
)

__all__ = [
    "STREAM",
    "IncidentConflict",
    "IncidentNotFound",
    "NoteInvalid",
    "SilenceInvalid",
    "SilenceNotFound",
]

# Every scan, change and delivery attempt is mirrored to `<log dir>/incidents.ndjson`.
STREAM = "incidents"
