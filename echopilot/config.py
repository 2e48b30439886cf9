"""Reading the JSON files in configs/ (ECHOPILOT_CONFIG_DIR) the same way for every app."""

import json
from pathlib import Path

from echopilot.parsers import json_problem


class ConfigError(Exception):
    """A config file that cannot be used; the message names the file and the problem."""


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """Build a JSON object, refusing a repeated key (json's default keeps the last)."""
    data = {}
    for key, value in pairs:
        if key in data:
            raise ConfigError(f"duplicate key {key!r}")
        data[key] = value
    return data


def read_json_config(path: Path) -> object:
    """Return the JSON in `path`; raise ConfigError naming the file and the problem.

    Refuses what `json.loads` would let through silently or crash on: bytes that
    are not UTF-8, repeated keys, nesting past the API's limit, NUL characters.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc})") from None
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid JSON (nested too deeply)") from None
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    problem = json_problem(data)
    if problem:
        raise ConfigError(f"{path}: {problem}")
    return data
