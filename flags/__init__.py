"""Feature flags. `from flags import is_enabled, get_value, evaluate` from any Django code.

The three names resolve on first use to the functions in `flags.selectors`
(module `__getattr__`), so importing this package never touches the app
registry or the models, and a call costs no wrapper: evaluation is a hot path.

    flags.is_enabled(key, *, user=None, context=None, default=False) -> bool
    flags.get_value(key, default=None, *, user=None, context=None) -> value
    flags.evaluate(key, context=None, *, default=...) -> (value, variant, reason)
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flags.selectors import evaluate, get_value, is_enabled

__all__ = ["evaluate", "get_value", "is_enabled"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from flags import selectors

        function = getattr(selectors, name)
        globals()[name] = function  # later lookups skip this hook
        return function
    raise AttributeError(f"module 'flags' has no attribute {name!r}")
