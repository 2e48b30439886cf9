"""Named API keys: scopes, the per-process key registry, and the key operations.

- `scopes`: what each scope allows (`write` ⊇ `read` ⊇ `evaluate`; `metrics`
  and `alertmanager` apart, and included in `write`).
- `services`: create, rotate, revoke and list keys (the command and the admin
  call these); the secret is shown once and only its SHA-256 is stored.
- `registry`: every stored hash in this process's memory, so checking a key
  runs no query; a change is seen by every process within 5 s.

`echopilot.auth` uses them to authenticate requests and check scopes.
"""

from echopilot.access.registry import (
    KeyEntry,
    KeyStoreUnavailable,
    any_active,
    invalidate,
    lookup,
    mark_used,
    reset,
)
from echopilot.access.scopes import ALL_SCOPES, GRANTS, SCOPES, granted
from echopilot.access.services import (
    STREAM,
    IssuedKey,
    apikey_create,
    apikey_list,
    apikey_revoke,
    apikey_rotate,
    key_info,
    parse_expiry,
    parse_grace,
    validate_new_key,
)

__all__ = [
    "ALL_SCOPES",
    "GRANTS",
    "SCOPES",
    "STREAM",
    "IssuedKey",
    "KeyEntry",
    "KeyStoreUnavailable",
    "any_active",
    "apikey_create",
    "apikey_list",
    "apikey_revoke",
    "apikey_rotate",
    "granted",
    "invalidate",
    "key_info",
    "lookup",
    "mark_used",
    "parse_expiry",
    "parse_grace",
    "reset",
    "validate_new_key",
]
