"""The published assignment function: the same user always gets the same variant.

Other services compute it with these five lines (README, "Experiments")::

    import hashlib, itertools

    def assign(user, salt, variants, weights=None):
        weights = weights or [1] * len(variants)
        r = int(hashlib.sha256((user + salt).encode("utf-8")).hexdigest(), 16) % sum(weights)
        return next(v for v, c in zip(variants, itertools.accumulate(weights)) if r < c)

Integer arithmetic only, so there is no float bucket and no rounding edge.
"""

import hashlib
from collections.abc import Sequence

_sha256 = hashlib.sha256
_from_bytes = int.from_bytes


def bucket(user: str, salt: str, total: int) -> int:
    """Return `int(sha256(user + salt).hexdigest(), 16) % total`."""
    # int.from_bytes(digest) is the same integer as int(hexdigest, 16), parsed faster.
    return _from_bytes(_sha256((user + salt).encode("utf-8")).digest(), "big") % total


def assign_variant(
    user: str, salt: str, variants: Sequence[str], weights: Sequence[int] | None = None
) -> str:
    """Return the first variant whose cumulative weight exceeds the user's bucket."""
    if not weights:
        return variants[bucket(user, salt, len(variants))]
    r = bucket(user, salt, sum(weights))
    cumulative = 0
    for variant, weight in zip(variants, weights, strict=True):
        cumulative += weight
        if r < cumulative:
            return variant
    raise AssertionError("unreachable: r < sum(weights)")
