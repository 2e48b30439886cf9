"""The scopes a key may hold, and what each one allows.

`write` ⊇ `read` ⊇ `evaluate`; `metrics` and `alertmanager` stand alone, and
`write` (what a `DASHBOARD_KEY` key is) includes them too.
"""

from collections.abc import Iterable

SCOPES = ("evaluate", "read", "write", "metrics", "alertmanager")
# A key's scope -> the scopes it satisfies.
GRANTS: dict[str, frozenset[str]] = {
    "evaluate": frozenset({"evaluate"}),
    "read": frozenset({"read", "evaluate"}),
    "write": frozenset(SCOPES),
    "metrics": frozenset({"metrics"}),
    "alertmanager": frozenset({"alertmanager"}),
}
ALL_SCOPES = frozenset(SCOPES)


def granted(scopes: Iterable[str]) -> frozenset[str]:
    """Return every scope that a key with `scopes` satisfies."""
    result: frozenset[str] = frozenset()
    for scope in scopes:
        result |= GRANTS.get(scope, frozenset())
    return result
