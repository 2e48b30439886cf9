"""The published assignment function: pinned vectors and the split it produces."""

import hashlib
import itertools

import pytest
from scipy import stats

from experiments.assignment import assign_variant, bucket

VECTORS = [
    ("user123", "ECHO2025", ["A", "B"], None, "A"),
    ("test@example.com", "ECHO2025", ["A", "B"], None, "A"),
    ("bob", "ECHO2025", ["A", "B"], None, "B"),
    ("alice", "ONBOARD2025", ["standard", "guided", "quick"], None, "guided"),
    ("bob", "ONBOARD2025", ["standard", "guided", "quick"], None, "standard"),
    ("u6", "ECHO2025", ["A", "B"], [90, 10], "B"),
    ("user123", "ECHO2025", ["A", "B"], [90, 10], "A"),
]


def reference(user, salt, variants, weights=None):
    """The five-line reference from the README, verbatim."""
    weights = weights or [1] * len(variants)
    r = int(hashlib.sha256((user + salt).encode("utf-8")).hexdigest(), 16) % sum(weights)
    return next(v for v, c in zip(variants, itertools.accumulate(weights)) if r < c)  # noqa: B905


@pytest.mark.parametrize(("user", "salt", "variants", "weights", "expected"), VECTORS)
def test_published_vectors(user, salt, variants, weights, expected):
    assert assign_variant(user, salt, variants, weights) == expected
    assert reference(user, salt, variants, weights) == expected


def test_unweighted_is_the_seed_formula_and_all_ones_weights_agree():
    for i in range(2000):
        user = f"user-{i}"
        seed = ["A", "B", "C"][int(hashlib.sha256((user + "S").encode()).hexdigest(), 16) % 3]
        assert assign_variant(user, "S", ["A", "B", "C"]) == seed
        assert assign_variant(user, "S", ["A", "B", "C"], [1, 1, 1]) == seed


def test_bucket_is_the_hexdigest_integer_for_unicode_users():
    for user in ["é", "用户", "a" * 200, "🙂"]:
        digest = int(hashlib.sha256((user + "ECHO2025").encode("utf-8")).hexdigest(), 16)
        assert bucket(user, "ECHO2025", 97) == digest % 97


def test_weighted_boundaries_are_exact_integers():
    # Find users whose bucket mod 100 is exactly 89 and 90: the 90/10 boundary.
    seen = {}
    for i in range(5000):
        r = bucket(f"b{i}", "ECHO2025", 100)
        if r in (89, 90) and r not in seen:
            seen[r] = f"b{i}"
    assert assign_variant(seen[89], "ECHO2025", ["A", "B"], [90, 10]) == "A"
    assert assign_variant(seen[90], "ECHO2025", ["A", "B"], [90, 10]) == "B"


@pytest.mark.parametrize(
    ("variants", "weights"),
    [
        (["A", "B"], None),
        (["s", "g", "q"], None),
        (["A", "B"], [90, 10]),
        (["x", "y", "z"], [5, 3, 2]),
    ],
)
def test_100k_users_split_as_the_weights_say(variants, weights):
    counts = dict.fromkeys(variants, 0)
    for i in range(100_000):
        counts[assign_variant(f"user{i}", "SPLIT-SALT", variants, weights)] += 1
    w = weights or [1] * len(variants)
    expected = [100_000 * x / sum(w) for x in w]
    p = stats.chisquare([counts[v] for v in variants], expected).pvalue
    assert p > 0.001, counts
