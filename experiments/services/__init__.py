"""Operations on experiments: one function per thing the app does.

The API views, admin actions and `manage.py experiments` all call these, so
they cannot disagree. A refusal raises an `echopilot.exceptions` error
(`Invalid`, `NotFound`, `Conflict`) with a stable `code`; each interface
renders it (JSON error body, admin message, command exit code). The limits
they enforce are in `experiments.limits`.
"""

from experiments.services.definitions import (
    LoadResult,
    config_path,
    experiment_create,
    experiment_set_status,
    experiment_update,
    is_locked,
    load_config,
    read_config,
)
from experiments.services.planning import Plan, plan
from experiments.services.recount import Recount, recount
from experiments.services.traffic import (
    Assignment,
    Logged,
    assign,
    check_batch_size,
    log_event,
    log_events,
)
from experiments.services.validation import (
    STREAM,
    ConfigError,
    Definition,
    check_event_name,
    check_salt_free,
    check_user,
    check_value,
    get_experiment,
    parse_definition,
)

__all__ = [
    "STREAM",
    "Assignment",
    "ConfigError",
    "Definition",
    "LoadResult",
    "Logged",
    "assign",
    "check_batch_size",
    "check_event_name",
    "check_salt_free",
    "check_user",
    "check_value",
    "config_path",
    "experiment_create",
    "experiment_set_status",
    "experiment_update",
    "get_experiment",
    "is_locked",
    "load_config",
    "log_event",
    "log_events",
    "parse_definition",
    "read_config",
    "Plan",
    "Recount",
    "plan",
    "recount",
]
