"""Values with their confidence intervals, one row per element: :func:`proportions`, :func:`rates`.

As PHEindicatormethods 2.1.0 ``phe_proportion`` (Wilson score) and ``phe_rate``
(exact Poisson below 10 events, Byar from 10), checked against it number by number.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from qi._checks import as_float, check_conf, check_counts, check_multiplier
from qi.equality import _exact

__all__ = ["proportions", "rates"]


def proportions(x: Any, n: Any, conf: float = 0.95, multiplier: float = 1) -> pd.DataFrame:
    """Proportions x/n with Wilson score confidence intervals, one row per element.

    Parameters
    ----------
    x, n : array-like
        Numerators and denominators (same length; 0 ≤ x ≤ n).
    conf : float
        Confidence level in (0, 1] (0.95, 0.998); 1 gives the interval (0, 1),
        as PHEindicatormethods does.
    multiplier : float
        1 for a proportion, 100 for a percentage, 1000 per 1,000.

    Returns
    -------
    pandas.DataFrame
        ``value`` (x/n × multiplier), ``lower``, ``upper`` (Wilson score limits ×
        multiplier, not clipped: x = n can give an upper limit a rounding error
        below 1). A pandas Series keeps its index; otherwise 0..N-1. n = 0 gives
        NaN (PHEindicatormethods stops there); missing x or n gives NaN.

    Raises
    ------
    ValueError
        For a negative or infinite x or n, x > n, lengths that differ, or a
        ``conf`` outside (0, 1).

    References
    ----------
    Wilson EB (1927). Probable inference, the law of succession, and statistical
    inference. JASA 22:209–212. PHEindicatormethods 2.1.0 ``phe_proportion``
    (``R/utils.R`` ``wilson_lower``, ``wilson_upper``), which this matches to
    1e-9 relative.
    """
    conf = check_conf(conf, "proportions", allow_one=True)
    multiplier = check_multiplier(multiplier, "proportions")
    index = x.index if isinstance(x, pd.Series) else None
    xa, na = as_float(x, "x", "proportions"), as_float(n, "n", "proportions")
    check_counts(xa, na, "proportions", "x", "n", proportion=True)
    if conf == 1:  # PHEindicatormethods: a 100 % interval is (0, 1)
        lower, upper = np.zeros(xa.shape), np.ones(xa.shape)
        lower[~(na > 0)] = upper[~(na > 0)] = np.nan
    else:
        lower, upper = _exact.wilson(xa, na, conf)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(na > 0, xa / na * multiplier, np.nan)
    return pd.DataFrame(
        {"value": value, "lower": lower * multiplier, "upper": upper * multiplier}, index=index
    )


def rates(x: Any, n: Any, conf: float = 0.95, multiplier: float = 100000) -> pd.DataFrame:
    """Crude rates x/n with exact (x < 10) or Byar (x ≥ 10) confidence intervals.

    Parameters
    ----------
    x, n : array-like
        Event counts and person-time (bed days, person-years, population);
        person-time need not be whole.
    conf : float
        Confidence level, strictly between 0 and 1.
    multiplier : float
        Rate per ``multiplier`` units of person-time (default per 100,000).

    Returns
    -------
    pandas.DataFrame
        ``value`` (x/n × multiplier), ``lower``, ``upper``, ``method``
        (``"exact"``: chi-square limits ``qchisq((1−conf)/2, 2x)/2`` and
        ``qchisq((1+conf)/2, 2x+2)/2``; ``"byar"``: Byar's approximation). x = 0
        gives lower 0. n = 0 or a missing value gives NaN (method still named
        from x; None where x is missing).

    Raises
    ------
    ValueError
        For a negative or infinite x or n, lengths that differ, or ``conf``
        outside (0, 1).

    References
    ----------
    Breslow NE, Day NE (1987). Statistical Methods in Cancer Research vol. II,
    IARC, p. 69. PHEindicatormethods 2.1.0 ``phe_rate`` (``R/Rates.R``,
    ``R/utils.R`` ``byars_lower``, ``byars_upper``), whose labels ``Exact`` and
    ``Byars`` are here ``"exact"`` and ``"byar"``.
    """
    conf = check_conf(conf, "rates")
    multiplier = check_multiplier(multiplier, "rates")
    index = x.index if isinstance(x, pd.Series) else None
    xa, na = as_float(x, "x", "rates"), as_float(n, "n", "rates")
    check_counts(xa, na, "rates", "x", "n", proportion=False)
    lo, up, exact = _exact.poisson_count_limits(xa, conf)
    with np.errstate(divide="ignore", invalid="ignore"):
        good = na > 0
        value = np.where(good, xa / na * multiplier, np.nan)
        lower = np.where(good, lo / na * multiplier, np.nan)
        upper = np.where(good, up / na * multiplier, np.nan)
    method = np.where(exact, "exact", "byar").astype(object)
    method[np.isnan(xa)] = None
    return pd.DataFrame(
        {"value": value, "lower": lower, "upper": upper, "method": method}, index=index
    )
