"""The statistics behind experiment results, with the standard library only.

Every function returns `None` where the quantity is undefined (no users, a
control rate of 0), never NaN. The tests compare each one with scipy and
statsmodels to 1e-6.
"""

import math
from statistics import NormalDist
from typing import TypedDict

# The two-sided 95% critical value, exactly (not 1.96).
Z = NormalDist().inv_cdf(0.975)
# The SRM check fires below this p-value: strict, since it runs on every look.
SRM_P = 0.001


def wilson(converters: int, users: int, z: float = Z) -> list[float] | None:
    """Return the Wilson score interval of `converters / users`."""
    if users <= 0:
        return None
    p = converters / users
    denom = 1 + z * z / users
    center = (p + z * z / (2 * users)) / denom
    half = z * math.sqrt(p * (1 - p) / users + z * z / (4 * users * users)) / denom
    return [center - half, center + half]


def diff_ci(x1: int, n1: int, x0: int, n0: int, z: float = Z) -> list[float] | None:
    """Return the unpooled Wald interval of `x1/n1 - x0/n0`."""
    if n1 <= 0 or n0 <= 0:
        return None
    p1, p0 = x1 / n1, x0 / n0
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    diff = p1 - p0
    return [diff - z * se, diff + z * se]


def relative_ci(x1: int, n1: int, x0: int, n0: int, z: float = Z) -> list[float] | None:
    """Return the delta-method normal interval of `p1/p0 - 1`."""
    if n1 <= 0 or n0 <= 0 or x0 == 0:
        return None
    p1, p0 = x1 / n1, x0 / n0
    var1 = p1 * (1 - p1) / n1
    var0 = p0 * (1 - p0) / n0
    # Var(p1/p0) ~ Var(p1)/p0^2 + p1^2 Var(p0)/p0^4 (first-order Taylor expansion).
    se = math.sqrt(var1 / p0**2 + p1**2 * var0 / p0**4)
    rel = p1 / p0 - 1
    return [rel - z * se, rel + z * se]


def ztest_pooled(x1: int, n1: int, x0: int, n0: int) -> float | None:
    """Return the two-sided p-value of the pooled two-proportion z-test."""
    if n1 <= 0 or n0 <= 0:
        return None
    pooled = (x1 + x0) / (n1 + n0)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    if se == 0:
        return None  # both rates 0 (or both 1): the statistic is 0/0
    zstat = (x1 / n1 - x0 / n0) / se
    return math.erfc(abs(zstat) / math.sqrt(2))


def _gamma_q(a: float, x: float) -> float:
    """Return the regularized upper incomplete gamma function Q(a, x)."""
    if x <= 0:
        return 1.0
    log_prefix = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        # Series for P(a, x); Q = 1 - P.
        term = total = 1.0 / a
        n = a
        for _ in range(100_000):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-16:
                break
        return max(0.0, 1.0 - total * math.exp(log_prefix))
    # Continued fraction for Q(a, x) (modified Lentz).
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 100_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-16:
            break
    return min(1.0, math.exp(log_prefix) * h)


def chi2_sf(stat: float, df: int) -> float:
    """Return P(X > stat) for X chi-square with `df` degrees of freedom."""
    return _gamma_q(df / 2, stat / 2)


class Srm(TypedDict):
    """The sample-ratio-mismatch check: `srm` is true when p < SRM_P."""

    chi2: float | None
    p_value: float | None
    srm: bool


def srm(users: list[int], weights: list[int]) -> Srm:
    """Chi-square goodness of fit of users per variant against the weights."""
    total = sum(users)
    if total <= 0 or len(users) < 2:
        return {"chi2": None, "p_value": None, "srm": False}
    weight_sum = sum(weights)
    chi2 = 0.0
    for observed, weight in zip(users, weights, strict=True):
        expected = total * weight / weight_sum
        chi2 += (observed - expected) ** 2 / expected
    p_value = chi2_sf(chi2, len(users) - 1)
    return {"chi2": chi2, "p_value": p_value, "srm": p_value < SRM_P}


def _lbeta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _beat(ca: int, cb: int, va: int, vb: int) -> float:
    """Return P(V > C), C ~ Beta(ca, cb), V ~ Beta(va, vb), with integer `va`.

    Evan Miller's closed form: the sum over i < va of
    t_i = B(ca+i, cb+vb) / ((vb+i) B(1+i, vb) B(ca, cb)). Consecutive terms
    differ by r_i = (ca+i)(vb+i) / ((ca+cb+vb+i)(1+i)), and r_i > 1 exactly
    for i below one point (the i^2 terms cancel), so the terms rise to a single
    peak and then fall. The sum starts at the peak (one lgamma evaluation, in
    log space) and walks outwards by multiplication until the terms are below
    1e-17 of the total, so even millions of users take milliseconds, with no
    sampling and no approximation beyond float rounding.
    """

    def ratio(i: int) -> float:
        return (ca + i) * (vb + i) / ((ca + cb + vb + i) * (1 + i))

    peak = int((ca * vb - ca - cb - vb) / (cb + 1)) + 1
    peak = min(max(peak, 0), va - 1)
    log_peak = _lbeta(ca + peak, cb + vb) - math.log(vb + peak) - _lbeta(1 + peak, vb)
    log_peak -= _lbeta(ca, cb)
    total = 0.0
    term = 1.0
    for i in range(peak, va):  # the peak and above
        total += term
        term *= ratio(i)
        if term < total * 1e-17:
            break
    term = 1.0
    for i in range(peak - 1, -1, -1):  # below the peak: t_i = t_(i+1) / r_i
        term /= ratio(i)
        total += term
        if term < total * 1e-17:
            break
    return min(1.0, math.exp(log_peak + math.log(total)))


def prob_beat_control(x1: int, n1: int, x0: int, n0: int) -> float | None:
    """Return P(p1 > p0) under Beta(1 + x, 1 + n - x) posteriors, exactly.

    Of the four equivalent forms of the sum (by P(V > C) = 1 - P(C > V) and by
    the symmetry p -> 1 - p) the one with the fewest terms is used.
    """
    if n1 <= 0 or n0 <= 0:
        return None
    a1, b1 = 1 + x1, 1 + n1 - x1
    a0, b0 = 1 + x0, 1 + n0 - x0
    smallest = min(a1, a0, b0, b1)
    if smallest == a1:
        p = _beat(a0, b0, a1, b1)
    elif smallest == a0:
        p = 1.0 - _beat(a1, b1, a0, b0)
    elif smallest == b0:
        p = _beat(b1, a1, b0, a0)
    else:
        p = 1.0 - _beat(b0, a0, b1, a1)
    return min(1.0, max(0.0, p))
