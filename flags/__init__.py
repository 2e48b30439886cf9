"""Feature flags. `from flags import is_enabled, get_value, evaluate` from any Django code.

These wrappers import the implementation on first call, so importing this
package never touches the app registry or the models.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flags.engine import Evaluation


def is_enabled(
    key: str, *, user: Any = None, context: dict[str, Any] | None = None, default: bool = False
) -> bool:
    """Return True if the boolean flag `key` is on for this user/context."""
    from flags.selectors import is_enabled as impl

    return impl(key, user=user, context=context, default=default)


def get_value(
    key: str, default: Any = None, *, user: Any = None, context: dict[str, Any] | None = None
) -> Any:
    """Return the value of flag `key` for this user/context, or `default`."""
    from flags.selectors import get_value as impl

    return impl(key, default, user=user, context=context)


def evaluate(key: str, context: dict[str, Any] | None = None, **kwargs: Any) -> "Evaluation":
    """Return (value, variant, reason) of flag `key` for `context`."""
    from flags.selectors import evaluate as impl

    return impl(key, context, **kwargs)
