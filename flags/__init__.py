"""Feature flags. `from flags import is_enabled, get_value, evaluate` from any Django code.

These wrappers import the implementation (`flags.selectors`) on first call and
keep it, so importing this package never touches the app registry or the
models, and a call costs one small wrapper: evaluation is a hot path.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flags.engine import Evaluation

_selectors: Any = None
_NO_DEFAULT: Any = object()


def _impl() -> Any:
    """Return flags.selectors, imported on first use."""
    global _selectors
    from flags import selectors

    _selectors = selectors
    return selectors


def is_enabled(
    key: str, *, user: Any = None, context: dict[str, Any] | None = None, default: bool = False
) -> bool:
    """Return True if the boolean flag `key` is on for this user/context."""
    selectors = _selectors or _impl()
    return bool(selectors.is_enabled(key, user=user, context=context, default=default))


def get_value(
    key: str, default: Any = None, *, user: Any = None, context: dict[str, Any] | None = None
) -> Any:
    """Return the value of flag `key` for this user/context, or `default`."""
    return (_selectors or _impl()).get_value(key, default, user=user, context=context)


def evaluate(
    key: str, context: dict[str, Any] | None = None, *, default: Any = _NO_DEFAULT
) -> "Evaluation":
    """Return (value, variant, reason) of flag `key` for `context`.

    Without `default` a failure raises `flags.engine.FlagError`; with it, a
    failure returns (default, "default", "ERROR").
    """
    selectors = _selectors or _impl()
    if default is _NO_DEFAULT:
        result: Evaluation = selectors.evaluate(key, context)
    else:
        result = selectors.evaluate(key, context, default=default)
    return result
