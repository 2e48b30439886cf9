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


# --- sequential testing (always-valid intervals) -----------------------------------

ALPHA = 0.05


def sequential_alpha(variants: int, alpha: float = ALPHA) -> float:
    """Return the error rate of each comparison: Bonferroni over the non-control variants."""
    return alpha / (variants - 1) if variants > 2 else alpha


def planned_n(planned_users: int, w_control: int, w_variant: int, weight_sum: int) -> float:
    """Return N*: the planned users of the control and one variant together."""
    return planned_users * (w_control + w_variant) / weight_sum


def sequential_half(se: float, n: int, n_star: float, alpha: float = ALPHA) -> float:
    """Return the half-width of the asymptotic confidence sequence (Waudby-Smith et al. 2023).

    As GrowthBook computes it: `rho2` tunes the sequence to be tightest at
    N* users; `se * sqrt(n)` is the per-user standard deviation.
    """
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / n_star
    width = 2 * (n * rho2 + 1) / (n * n * rho2) * math.log(math.sqrt(n * rho2 + 1) / alpha)
    return se * math.sqrt(n) * math.sqrt(width)


def sequential_diff_ci(
    x1: int, n1: int, x0: int, n0: int, n_star: float, alpha: float = ALPHA
) -> list[float] | None:
    """Return the always-valid interval of `x1/n1 - x0/n0` (unpooled Wald `se`)."""
    if n1 <= 0 or n0 <= 0:
        return None
    p1, p0 = x1 / n1, x0 / n0
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    half = sequential_half(se, n1 + n0, n_star, alpha)
    return [p1 - p0 - half, p1 - p0 + half]


def excludes_zero(ci: list[float] | None) -> bool | None:
    """Return whether an interval excludes 0 (None without an interval)."""
    if ci is None:
        return None
    return ci[0] > 0 or ci[1] < 0


# --- value metrics ---------------------------------------------------------------


def user_variance(total: float, squares: float, users: int) -> float | None:
    """Return the sample variance of per-user totals (users without the event count 0)."""
    if users < 2:
        return None
    return max(0.0, (squares - total * total / users) / (users - 1))


def mean_ci(total: float, squares: float, users: int, z: float = Z) -> list[float] | None:
    """Return the normal 95% interval of the mean value per user."""
    var = user_variance(total, squares, users)
    if var is None:
        return None
    mean, half = total / users, z * math.sqrt(var / users)
    return [mean - half, mean + half]


def welch_ci(
    a: tuple[float, float, int], b: tuple[float, float, int], z: float = Z
) -> list[float] | None:
    """Return the Welch (unequal-variance) interval of mean(a) - mean(b), normal quantile.

    Each side is (total, sum of squared user totals, users).
    """
    var_a, var_b = user_variance(*a), user_variance(*b)
    if var_a is None or var_b is None:
        return None
    diff = a[0] / a[2] - b[0] / b[2]
    half = z * math.sqrt(var_a / a[2] + var_b / b[2])
    return [diff - half, diff + half]


# --- power -------------------------------------------------------------------------


def users_per_variant(
    baseline: float, mde: float, alpha: float = ALPHA, power: float = 0.8, variants: int = 2
) -> int:
    """Return the users each variant needs to detect an absolute `mde` (two-sided test).

    N = ceil((z(1-a/2) sqrt(2 pbar(1-pbar)) + z(power) sqrt(p1(1-p1) + p2(1-p2)))^2
    / (p2-p1)^2), with a = alpha / (variants - 1) (Bonferroni).
    """
    p1, p2 = baseline, baseline + mde
    pbar = (p1 + p2) / 2
    a = alpha / (variants - 1)
    normal = NormalDist()
    root = normal.inv_cdf(1 - a / 2) * math.sqrt(2 * pbar * (1 - pbar)) + normal.inv_cdf(
        power
    ) * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(root * root / ((p2 - p1) ** 2))
