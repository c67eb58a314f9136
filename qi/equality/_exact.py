"""Vectorised confidence intervals and exact tests behind :mod:`qi.equality` (private).

Every function takes and returns numpy arrays (broadcast together) and follows
one published definition, written in the same order of operations as the R
package it is checked against, so that the results agree to the last few bits:

- Wilson score limits: PHEindicatormethods ``wilson_lower``/``wilson_upper``
  (``R/utils.R``); Wilson (1927), JASA 22:209.
- Poisson limits: exact chi-square below 10 events, Byar from 10
  (PHEindicatormethods ``phe_rate``, ``byars_lower``/``byars_upper``);
  Breslow & Day (1987), *Statistical Methods in Cancer Research* II, p. 69.
- Mid-p exact rate-ratio limits, median-unbiased estimate and p-value
  (epitools ``rateratio.midp``, ``rate2by2.test``); Rothman, Greenland & Lash,
  *Modern Epidemiology* 3rd ed., ch. 14.
- Mid-p exact test of a 2×2 table (epitools ``ormidp.test``).
- R's ``round(x, digits)`` (R ≥ 4.0) and ``quantile(type = 7)``.

Nothing here warns: divisions by zero and logs of zero give the values R gives
(0, ±Inf or NaN) silently.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qi.equality._lazy import special, stats

FloatArray = NDArray[np.float64]

#: Events below which a Poisson interval is exact (chi-square), as PHEindicatormethods.
BYAR_FROM = 10


def z_two_sided(conf: float) -> float:
    """``qnorm(conf + (1 - conf)/2)``, written as PHEindicatormethods writes it."""
    return float(special.ndtri(conf + (1 - conf) / 2))


def wilson(x: ArrayLike, n: ArrayLike, conf: float) -> tuple[FloatArray, FloatArray]:
    """Wilson score limits of the proportion x/n (not clipped; n = 0 gives NaN)."""
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    z = z_two_sided(conf)
    with np.errstate(divide="ignore", invalid="ignore"):
        root = z * np.sqrt(z**2 + 4 * x * (1 - x / n))
        lower = (2 * x + z**2 - root) / (2 * (n + z**2))
        upper = (2 * x + z**2 + root) / (2 * (n + z**2))
    bad = ~(n > 0)
    lower[bad] = np.nan
    upper[bad] = np.nan
    return lower, upper


def byar_lower(x: FloatArray, z: float) -> FloatArray:
    """Byar's lower limit of a Poisson count (PHEindicatormethods ``byars_lower``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return x * (1 - 1 / (9 * x) - z / (3 * np.sqrt(x))) ** 3


def byar_upper(x: FloatArray, z: float) -> FloatArray:
    """Byar's upper limit of a Poisson count (PHEindicatormethods ``byars_upper``)."""
    x1 = x + 1
    return x1 * (1 - 1 / (9 * x1) + z / (3 * np.sqrt(x1))) ** 3


def poisson_count_limits(x: ArrayLike, conf: float) -> tuple[FloatArray, FloatArray, NDArray]:
    """Limits of a Poisson count: exact (chi-square) below 10 events, Byar from 10.

    Returns ``(lower, upper, is_exact)``. ``x = 0`` gives lower 0 and upper
    ``qchisq(conf + (1 - conf)/2, 2)/2``. Missing counts give NaN.
    """
    x = np.asarray(x, dtype=float)
    z = z_two_sided(conf)
    exact = x < BYAR_FROM
    lower = np.full(x.shape, np.nan)
    upper = np.full(x.shape, np.nan)
    xe = x[exact]
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = stats.chi2.ppf((1 - conf) / 2, 2 * xe) / 2
    lower[exact] = np.where(xe == 0, 0.0, lo)
    upper[exact] = stats.chi2.ppf(conf + (1 - conf) / 2, 2 * xe + 2) / 2
    byar = x >= BYAR_FROM
    lower[byar] = byar_lower(x[byar], z)
    upper[byar] = byar_upper(x[byar], z)
    return lower, upper, exact


def _cdf(k: FloatArray, m: FloatArray, s: FloatArray, q: FloatArray) -> FloatArray:
    """P(A ≤ k) for A ~ Bin(m, s), q = 1 − s given separately (no cancellation)."""
    inside = (k >= 0) & (k < m)
    with np.errstate(invalid="ignore"):
        val = special.betainc(np.where(inside, m - k, 1), np.where(inside, k + 1, 1), q)
    return np.where(k < 0, 0.0, np.where(k >= m, 1.0, val))


def _midp_side(a: FloatArray, m: FloatArray, t: FloatArray) -> FloatArray:
    """P(A < a) + P(A = a)/2 at log odds t, A ~ Bin(m, expit(t)): the mean of two cdfs."""
    s, q = special.expit(t), special.expit(-t)
    return (_cdf(a - 1, m, s, q) + _cdf(a, m, s, q)) / 2


def _log_odds_of_cdf(k: FloatArray, m: FloatArray, c: FloatArray) -> FloatArray:
    """Log odds at which P(A ≤ k) = c (0 ≤ k < m), from the inverse regularised beta."""
    s = special.betaincinv(k + 1, m - k, 1 - c)  # P(A ≥ k + 1) = I_s(k + 1, m − k)
    q = special.betaincinv(m - k, k + 1, c)  # P(A ≤ k) = I_q(m − k, k + 1)
    with np.errstate(divide="ignore"):
        return np.log(s) - np.log(q)


def _illinois(
    a: FloatArray, m: FloatArray, c: FloatArray, lo: FloatArray, hi: FloatArray
) -> FloatArray:
    """Root in [lo, hi] of the decreasing g(t) = side(t) − c, by the Illinois method.

    Works on the still-unconverged elements only; an element is done when its
    bracket is narrower than 1e-14 (relative, on the log odds) or g is exactly 0.
    """
    root = (lo + hi) / 2
    glo = _midp_side(a, m, lo) - c
    ghi = _midp_side(a, m, hi) - c
    last = np.zeros(a.shape, dtype=np.int8)  # which end moved last: 1 lo, -1 hi
    idx = np.arange(a.size)
    for step in range(200):
        t = (lo * ghi - hi * glo) / (ghi - glo)
        stuck = ~((t > lo) & (t < hi)) | (step % 8 == 7)  # a bisection now and then
        t = np.where(stuck, (lo + hi) / 2, t)
        g = _midp_side(a, m, t) - c
        up = g > 0  # the root is above t
        ghi = np.where(up & (last == 1), ghi / 2, ghi)
        glo = np.where(~up & (last == -1), glo / 2, glo)
        lo, glo = np.where(up, t, lo), np.where(up, g, glo)
        hi, ghi = np.where(up, hi, t), np.where(up, ghi, g)
        last = np.where(up, 1, -1).astype(np.int8)
        root[idx] = t
        done = (g == 0) | (hi - lo <= 1e-14 * np.maximum(1.0, np.abs(t)))
        if done.all():
            break
        keep = ~done
        idx, a, m, c = idx[keep], a[keep], m[keep], c[keep]
        lo, hi, glo, ghi, last = lo[keep], hi[keep], glo[keep], ghi[keep], last[keep]
    return root


def solve_midp(a: ArrayLike, m: ArrayLike, target: ArrayLike) -> FloatArray:
    """The odds s/(1 − s) at which ``P(A < a) + P(A = a)/2 = target``, A ~ Bin(m, s).

    The left side falls from 1 (0.5 when a = 0) at s = 0 to 0 (0.5 when a = m) at
    s = 1; where the target is outside that range the root is at an end (odds 0
    or Inf), as epitools' ``solve.p`` returns. a = 0 and a = m have closed
    forms; otherwise the root lies between those of P(A ≤ a − 1) and P(A ≤ a)
    (inverse beta functions), and the Illinois method finishes it for all
    elements at once, to about 1e-15 relative on the odds. m = 0 or a missing
    value gives NaN.
    """
    a, m, c = (
        np.array(v, dtype=float)
        for v in np.broadcast_arrays(np.asarray(a), np.asarray(m), np.asarray(target))
    )
    out = np.full(a.shape, np.nan)
    ok = (m > 0) & np.isfinite(a) & np.isfinite(m) & np.isfinite(c) & (a >= 0) & (a <= m)
    at_zero = np.where(a == 0, 0.5, 1.0)  # value of the left side at s = 0
    at_one = np.where(a == m, 0.5, 0.0)  # and at s = 1
    zero = ok & (at_zero <= c)
    inf = ok & ~zero & (at_one >= c)
    out[zero] = 0.0
    out[inf] = np.inf
    rest = ok & ~zero & ~inf
    with np.errstate(divide="ignore", invalid="ignore"):
        # a = 0: (1 − s)^m / 2 = c;  a = m: 1 − s^m / 2 = c
        none = rest & (a == 0)
        q = np.power(2 * c[none], 1 / m[none])
        out[none] = -np.expm1(np.log(2 * c[none]) / m[none]) / q
        every = rest & (a == m)
        s = np.power(2 * (1 - c[every]), 1 / m[every])
        out[every] = s / -np.expm1(np.log(2 * (1 - c[every])) / m[every])
        mid = rest & (a > 0) & (a < m)
        if mid.any():
            aa, mm, cc = a[mid], m[mid], c[mid]
            # a bracket around the normal approximation on the log-odds scale ...
            z = special.ndtri(1 - cc)
            se = np.sqrt(1 / aa + 1 / (mm - aa))
            centre = np.log(aa / (mm - aa)) + z * se
            lo = centre - (0.25 + 1.2 * np.abs(z)) * se
            hi = centre + (0.25 + 1.2 * np.abs(z)) * se
            bad = ~((_midp_side(aa, mm, lo) > cc) & (_midp_side(aa, mm, hi) < cc))
            if bad.any():  # ... or, where that misses, the roots of P(A ≤ a − 1), P(A ≤ a)
                lo_b = _log_odds_of_cdf(aa[bad] - 1, mm[bad], cc[bad])
                hi_b = _log_odds_of_cdf(aa[bad], mm[bad], cc[bad])
                lo[bad] = lo_b - 1e-9 * (1 + np.abs(lo_b))
                hi[bad] = hi_b + 1e-9 * (1 + np.abs(hi_b))
            out[mid] = np.exp(_illinois(aa, mm, cc, lo, hi))
    return out


def midp_rate_ratio(
    a: ArrayLike, pt1: ArrayLike, b: ArrayLike, pt0: ArrayLike, conf: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Median-unbiased rate ratio and mid-p exact limits (epitools ``rateratio.midp``).

    Conditional on m = a + b events, A ~ Bin(m, s) and IRR = s/(1 − s)·pt0/pt1.
    Returns ``(estimate, lower, upper)``; the equations are solved tightly, not
    at ``uniroot``'s default tolerance.
    """
    a = np.asarray(a, dtype=float)
    m = a + np.asarray(b, dtype=float)
    scale = np.asarray(pt0, dtype=float) / np.asarray(pt1, dtype=float)
    alpha = 1 - conf
    est = solve_midp(a, m, 0.5) * scale
    lower = solve_midp(a, m, 1 - alpha / 2) * scale
    upper = solve_midp(a, m, alpha / 2) * scale
    return est, lower, upper


def midp_rate_p_value(a: ArrayLike, pt1: ArrayLike, b: ArrayLike, pt0: ArrayLike) -> FloatArray:
    """Two-sided mid-p exact p-value of rate ratio 1 (epitools ``rate2by2.test``)."""
    a = np.asarray(a, dtype=float)
    pt1 = np.asarray(pt1, dtype=float)
    m = a + np.asarray(b, dtype=float)
    s = pt1 / (pt1 + np.asarray(pt0, dtype=float))
    with np.errstate(invalid="ignore"):
        below = stats.binom.cdf(a - 1, m, s)  # pbinom(a − 1, m, s)
        p_lower = stats.binom.pmf(a, m, s) / 2 + below
    return 2 * np.minimum(p_lower, 1 - p_lower)


def midp_table_p_value(a1: ArrayLike, n1: ArrayLike, a0: ArrayLike, n0: ArrayLike) -> FloatArray:
    """Two-sided mid-p exact test of a 2×2 table (epitools ``ormidp.test``, or = 1).

    a1 of n1 in the group, a0 of n0 in the reference; conditional (central
    hypergeometric) distribution of a1 given the margins.
    """
    a1 = np.asarray(a1, dtype=float)
    n1 = np.asarray(n1, dtype=float)
    a0 = np.asarray(a0, dtype=float)
    n0 = np.asarray(n0, dtype=float)
    total, cases = n1 + n0, a1 + a0
    with np.errstate(invalid="ignore"):
        lteq = stats.hypergeom.cdf(a1, total, n1, cases)  # fisher.test(alternative = "l")
        gteq = stats.hypergeom.sf(a1 - 1, total, n1, cases)  # fisher.test(alternative = "g")
    pval1 = 0.5 * (lteq - gteq + 1)
    return 2 * np.minimum(pval1, 1 - pval1)


def r_round(x: ArrayLike, digits: int) -> FloatArray:
    """R's ``round(x, digits)`` (R ≥ 4.0.0), element-wise.

    R picks the nearer of the two candidates ``floor(x·10^d)/10^d`` and
    ``ceiling(x·10^d)/10^d`` measured in double arithmetic, and the one with an
    even last digit on a tie; it is neither Python's ``round`` nor
    ``numpy.round`` (which scale, round half to even and scale back).
    """
    x = np.asarray(x, dtype=float)
    sign = np.sign(x)
    ax = np.abs(x)
    p10 = 10.0**digits
    x10 = p10 * ax
    fl = np.floor(x10)
    xd = fl / p10
    xu = np.ceil(x10) / p10
    du, dd = xu - ax, ax - xd
    up = (du < dd) | ((du == dd) & (np.fmod(fl, 2) == 1))
    return sign * np.where(up, xu, xd)


def r_quantile7(x: ArrayLike, prob: float) -> float:
    """R's ``quantile(x, prob, type = 7)`` with ``na.rm = TRUE``, in R's arithmetic."""
    v = np.sort(np.asarray(x, dtype=float)[~np.isnan(np.asarray(x, dtype=float))])
    n = v.size
    if n == 0:
        return float("nan")
    index = 1 + max(n - 1, 0) * prob
    lo = int(np.floor(index))
    hi = int(np.ceil(index))
    q = v[lo - 1]
    if index > lo and v[hi - 1] != q:
        h = index - lo
        q = (1 - h) * q + h * v[hi - 1]
    return float(q)
