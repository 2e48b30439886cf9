"""The errors flag operations raise; each interface maps them (see echopilot.exceptions).

The `code`s are part of the API contract (`{"ok": false, "error": code}`).
"""

from echopilot.exceptions import Conflict, Invalid, NotFound


class UnknownFlag(NotFound):
    """No flag has this key (HTTP 404, exit code 3)."""

    code = "unknown_flag"


class UnknownChange(NotFound):
    """No history row has this id (HTTP 404, exit code 3)."""

    code = "unknown_change"


class TypeMismatch(Invalid):
    """A value of another JSON type than the flag's (HTTP 400, exit code 2)."""

    code = "type_mismatch"


class InvalidFlagInput(Invalid):
    """A key, value, rule, rollout or switch that breaks a rule (HTTP 400, exit code 2)."""

    code = "invalid"


class EvaluationFailed(Invalid):
    """A flag that cannot be evaluated for this context (HTTP 400, exit code 2).

    The `code` is the OpenFeature error code in lower case
    (`targeting_key_missing`, `invalid_context`).
    """

    code = "general"


class RevertConflict(Conflict):
    """A history row that no longer fits the current flag (HTTP 409, exit code 4)."""

    code = "revert_conflict"


class FlagRequired(Conflict):
    """Archiving a flag that other live flags list as a prerequisite (HTTP 409, exit 4)."""

    code = "flag_required"


class UnknownSegment(NotFound):
    """No segment has this name (HTTP 404, exit code 3)."""

    code = "unknown_segment"


class SegmentInUse(Conflict):
    """Deleting a segment that rules still use (HTTP 409, exit code 4)."""

    code = "segment_in_use"


class UnknownSchedule(NotFound):
    """No scheduled change has this id (HTTP 404, exit code 3)."""

    code = "unknown_schedule"


class ScheduleNotPending(Conflict):
    """Cancelling a scheduled change that was already applied, cancelled or failed (409)."""

    code = "schedule_not_pending"


class FlagArchived(Conflict):
    """Scheduling a change of an archived flag (HTTP 409, exit code 4)."""

    code = "flag_archived"
