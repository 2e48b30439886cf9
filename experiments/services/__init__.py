"""Operations on experiments: one function per thing the app does.

The API views, admin actions and `manage.py experiments` all call these, so
they cannot disagree. Bad input raises `ApiError` (rendered as the JSON error
format by the API, as a `CommandError` by the command).
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
from experiments.services.traffic import _insert_exposures, assign, log_event, log_events
from experiments.services.validation import (
    BATCH_MAX,
    EVENT_RE,
    KEY_RE,
    STREAM,
    USER_MAX,
    VALUE_MAX,
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
    "BATCH_MAX",
    "EVENT_RE",
    "KEY_RE",
    "STREAM",
    "USER_MAX",
    "VALUE_MAX",
    "ConfigError",
    "Definition",
    "LoadResult",
    "_insert_exposures",
    "assign",
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
]
