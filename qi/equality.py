"""``qi.equality``: statistics for equality work, checked number by number against R.

Racial disparity in Mental Health Act detentions, restraint or access to
therapies is measured here the way trusted R packages measure it:

- :func:`proportions` and :func:`rates`: a value with its confidence interval
  per row (Wilson score; exact Poisson below 10 events, Byar from 10), as
  PHEindicatormethods 2.1.0 ``phe_proportion`` and ``phe_rate``;
- :func:`compare`: each group against a reference group, as a rate ratio
  (epitools ``rateratio`` Wald and mid-p, ``rate2by2.test``) or risk ratio
  (epitools ``riskratio.wald``, ``ormidp.test``), with the difference (epiR
  ``epi.2by2``);
- :func:`gap`: the same for every team × measure × month at once, in a tidy
  frame that :func:`qi.spc` charts directly (``y="log_ratio"``);
- :func:`funnel`: funnel plots of teams, Spiegelhalter's with overdispersion
  (FunnelPlotR 0.6.0) or PHE's (PHEindicatormethods);
- :func:`completeness`: the share of records whose ethnic group is not stated;
- :func:`pool`: broad groups from detailed ones, and quarters from months where
  monthly counts are too small;
- :func:`suppress`: small-number suppression for publication, with secondary
  suppression so that no suppressed count can be worked out from the totals.

The formulas, and every surprise in the R packages, are written down in
``shared/reference/equality/METHODS.md``; the functions here follow it.
Every function works on whole arrays at once (no Python loop per group, team
or month) and returns a tidy DataFrame with the columns its docstring lists.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from qi import _intervals
from qi._checks import check_multiplier
from qi._funnel import FunnelResult, funnel
from qi._suppress import SuppressionResult, suppress

__all__ = [
    "DEFAULT_UNKNOWN",
    "FunnelResult",
    "SuppressionResult",
    "compare",
    "completeness",
    "funnel",
    "gap",
    "pool",
    "proportions",
    "rates",
    "suppress",
]

MEASURES = ("rate", "risk")
#: The columns :func:`gap` adds to those of :func:`compare`.
GAP_COLUMNS = ("log_ratio", "log_ratio_lower", "log_ratio_upper")

#: Columns of :func:`compare` and :func:`gap` (after the keys), in output order.
COMPARE_COLUMNS = (
    "group",
    "reference",
    "events",
    "exposure",
    "ref_events",
    "ref_exposure",
    "value",
    "ref_value",
    "ratio",
    "ratio_lower",
    "ratio_upper",
    "ratio_exact",
    "ratio_exact_lower",
    "ratio_exact_upper",
    "p_value",
    "difference",
    "difference_lower",
    "difference_upper",
)

#: Ethnic-group values read as "not recorded" by :func:`completeness` (compared
#: case-insensitively, after stripping spaces; missing and empty values count
#: too). NHS Data Dictionary ethnic category: Z = not stated, 99 = not known.
DEFAULT_UNKNOWN = (
    "Not stated",
    "Not known",
    "Unknown",
    "Not recorded",
    "Z",
    "99",
)


# --------------------------------------------------------------------------------------
# checks shared by every function


def _check_conf(conf: object, fn: str, allow_one: bool = False) -> float:
    ok = isinstance(conf, Real) and not isinstance(conf, bool) and conf > 0
    ok = ok and (conf <= 1 if allow_one else conf < 1)
    if not ok:
        between = "in (0, 1]" if allow_one else "strictly between 0 and 1"
        raise ValueError(
            f"The 'conf' argument of qi.equality.{fn} must be a level {between} "
            f"(0.95, not 95); got {conf!r}."
        )
    return float(conf)


def _as_float(values: Any, name: str, fn: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"qi.equality.{fn}: '{name}' must be numeric ({err}).") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"qi.equality.{fn}: '{name}' must be one-dimensional; got {arr.ndim}-d.")
    return arr


def _check_counts(
    x: np.ndarray, n: np.ndarray, fn: str, xname: str, nname: str, proportion: bool
) -> None:
    if x.shape != n.shape:
        raise ValueError(
            f"qi.equality.{fn}: '{xname}' and '{nname}' must have the same length; "
            f"got {x.size} and {n.size}."
        )
    for arr, name in ((x, xname), (n, nname)):
        bad = np.flatnonzero(arr < 0)
        if bad.size:
            raise ValueError(
                f"qi.equality.{fn}: '{name}' must not be negative; row {bad[0]} is {arr[bad[0]]!r}."
            )
        bad = np.flatnonzero(np.isinf(arr))
        if bad.size:
            raise ValueError(f"qi.equality.{fn}: '{name}' must be finite; row {bad[0]} is not.")
    if proportion:
        bad = np.flatnonzero(x > n)
        if bad.size:
            i = bad[0]
            raise ValueError(
                f"qi.equality.{fn}: '{xname}' must not exceed '{nname}' for a proportion; "
                f"row {i} has {x[i]!r} of {n[i]!r}."
            )


def _columns(data: object, fn: str, **cols: Any) -> list[str]:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(
            f"qi.equality.{fn} needs a pandas DataFrame as data; got {type(data).__name__}."
        )
    names = []
    for arg, col in cols.items():
        if col is None:
            continue
        for c in [col] if isinstance(col, str) or not isinstance(col, Iterable) else col:
            if c not in data.columns:
                raise ValueError(
                    f"The '{arg}' argument of qi.equality.{fn} names column {c!r}, which is not "
                    f"in data (columns: {list(data.columns)})."
                )
            names.append(c)
    return names


def _numeric_column(data: pd.DataFrame, col: str, arg: str, fn: str) -> pd.Series:
    s = data[col]
    if not (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)):
        converted = pd.to_numeric(s, errors="coerce")
        bad = converted.isna() & s.notna()
        if bad.any():
            i = bad.to_numpy().nonzero()[0][0]
            raise ValueError(
                f"qi.equality.{fn}: column {col!r} ('{arg}') must be numeric; "
                f"row {data.index[i]!r} holds {s.iloc[i]!r}."
            )
        s = converted
    s = s.astype(float)
    neg = s < 0
    if neg.any():
        i = neg.to_numpy().nonzero()[0][0]
        raise ValueError(
            f"qi.equality.{fn}: column {col!r} ('{arg}') must not be negative; "
            f"row {data.index[i]!r} holds {s.iloc[i]!r}."
        )
    return s


def _by_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


# --------------------------------------------------------------------------------------
# intervals


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
    conf = _check_conf(conf, "proportions", allow_one=True)
    multiplier = check_multiplier(multiplier, "proportions")
    index = x.index if isinstance(x, pd.Series) else None
    xa, na = _as_float(x, "x", "proportions"), _as_float(n, "n", "proportions")
    _check_counts(xa, na, "proportions", "x", "n", proportion=True)
    if conf == 1:  # PHEindicatormethods: a 100 % interval is (0, 1)
        lower, upper = np.zeros(xa.shape), np.ones(xa.shape)
        lower[~(na > 0)] = upper[~(na > 0)] = np.nan
    else:
        lower, upper = _intervals.wilson(xa, na, conf)
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
    conf = _check_conf(conf, "rates")
    multiplier = check_multiplier(multiplier, "rates")
    index = x.index if isinstance(x, pd.Series) else None
    xa, na = _as_float(x, "x", "rates"), _as_float(n, "n", "rates")
    _check_counts(xa, na, "rates", "x", "n", proportion=False)
    lo, up, exact = _intervals.poisson_count_limits(xa, conf)
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


# --------------------------------------------------------------------------------------
# group against reference


def _compare_arrays(
    a: np.ndarray,
    n1: np.ndarray,
    b: np.ndarray,
    n0: np.ndarray,
    measure: str,
    conf: float,
    multiplier: float,
) -> dict[str, np.ndarray]:
    """Every comparison statistic for arrays of (group, reference) pairs."""
    z_wald = float(special.ndtri(0.5 * (1 + conf)))  # epitools: qnorm(0.5*(1 + conf.level))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p0 = a / n1, b / n0
        ratio = p1 / p0
        if measure == "rate":
            se = np.sqrt(1 / a + 1 / b)
            exact_est, exact_lo, exact_hi = _intervals.midp_rate_ratio(a, n1, b, n0, conf)
            p_value = _intervals.midp_rate_p_value(a, n1, b, n0)
            diff_se = np.sqrt(a / n1**2 + b / n0**2)
        else:
            se = np.sqrt(1 / a - 1 / n1 + 1 / b - 1 / n0)
            exact_est = exact_lo = exact_hi = np.full(a.shape, np.nan)
            p_value = _intervals.midp_table_p_value(a, n1, b, n0)
            diff_se = np.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
        log_ratio = np.log(ratio)
        ratio_lower = np.exp(log_ratio - z_wald * se)
        ratio_upper = np.exp(log_ratio + z_wald * se)
        diff = (p1 - p0) * multiplier
        half = z_wald * diff_se * multiplier
    return {
        "events": a,
        "exposure": n1,
        "ref_events": b,
        "ref_exposure": n0,
        "value": p1 * multiplier,
        "ref_value": p0 * multiplier,
        "ratio": ratio,
        "ratio_lower": ratio_lower,
        "ratio_upper": ratio_upper,
        "ratio_exact": exact_est,
        "ratio_exact_lower": exact_lo,
        "ratio_exact_upper": exact_hi,
        "p_value": p_value,
        "difference": diff,
        "difference_lower": diff - half,
        "difference_upper": diff + half,
    }


def _check_measure(measure: object, fn: str) -> str:
    if measure not in MEASURES:
        raise ValueError(
            f"The 'measure' argument of qi.equality.{fn} must be one of {MEASURES}; "
            f"got {measure!r}."
        )
    return str(measure)


def _summed(
    data: pd.DataFrame,
    keys: list[str],
    events: str,
    exposure: str,
    measure: str,
    fn: str,
) -> pd.DataFrame:
    """Events and exposure summed by keys (first-appearance order), checked."""
    ev = _numeric_column(data, events, "events", fn)
    ex = _numeric_column(data, exposure, "exposure", fn)
    frame = data[keys].copy()
    frame["_e"], frame["_n"] = ev, ex
    out = frame.groupby(keys, sort=False, dropna=False)[["_e", "_n"]].sum(min_count=1)
    out = out.reset_index()
    if measure == "risk":
        bad = out["_e"] > out["_n"]
        if bad.any():
            row = out.loc[bad].iloc[0]
            where = ", ".join(f"{k}={row[k]!r}" for k in keys)
            raise ValueError(
                f"qi.equality.{fn}: with measure='risk', '{events}' ({row['_e']!r}) must not "
                f"exceed '{exposure}' ({row['_n']!r}) at {where}."
            )
    return out


def compare(
    data: pd.DataFrame,
    *,
    group: str,
    events: str,
    exposure: str,
    reference: Hashable,
    measure: str = "rate",
    conf: float = 0.95,
    multiplier: float = 100000,
) -> pd.DataFrame:
    """Each group against a reference group: ratio and difference with their intervals.

    Parameters
    ----------
    data : pandas.DataFrame
        One or more rows per group (rows of a group are summed).
    group : str
        Column of group labels (e.g. ethnic group).
    events : str
        Column of event counts (detentions, restraint incidents) or, with
        ``measure="risk"``, of people with the outcome.
    exposure : str
        Column of person-time (``"rate"``) or of people at risk (``"risk"``).
    reference : hashable
        The group the others are compared with (e.g. ``"White"``).
    measure : {"rate", "risk"}
        Rate ratio and rate difference, or risk ratio and risk difference.
    conf : float
        Confidence level of every interval.
    multiplier : float
        Scale of ``value``, ``ref_value`` and the difference: per 100,000 by
        default; 100 gives percentages (risks) and percentage points.

    Returns
    -------
    pandas.DataFrame
        One row per group other than the reference, in order of first
        appearance: ``group``, ``reference``; ``events``, ``exposure``,
        ``ref_events``, ``ref_exposure`` (summed); ``value``, ``ref_value`` (the
        group's and the reference's rate or risk × multiplier); ``ratio`` (crude
        ratio), ``ratio_lower``, ``ratio_upper`` (Wald on the log scale:
        SE = √(1/a + 1/b) for rates, √(1/a − 1/n₁ + 1/b − 1/n₀) for risks);
        ``ratio_exact`` (median-unbiased estimate), ``ratio_exact_lower``,
        ``ratio_exact_upper`` (mid-p exact limits; rates only, NaN for risks);
        ``p_value`` (two-sided mid-p exact test of ratio 1: conditional binomial
        for rates, conditional hypergeometric for risks); ``difference``,
        ``difference_lower``, ``difference_upper`` (Wald, × multiplier).
        A group with 0 events has ratio 0, Wald lower 0 and Wald upper NaN (as
        epitools); a reference with 0 events gives Inf or NaN.

    Raises
    ------
    ValueError
        For a missing column, a non-numeric or negative count, the reference
        absent from ``group``, events above exposure with ``measure="risk"``, an
        unknown ``measure`` or a ``conf`` outside (0, 1).

    References
    ----------
    epitools 0.5-10.1 ``rateratio.wald``, ``rateratio.midp``, ``rate2by2.test``,
    ``riskratio.wald``, ``ormidp.test``; epiR 2.0.57 ``epi.2by2`` (rate and risk
    difference). Rothman KJ, Greenland S, Lash TL (2008). Modern Epidemiology,
    3rd ed., ch. 14. The mid-p equations are solved to about 1e-14, where
    epitools' ``uniroot`` stops near 1e-4.
    """
    fn = "compare"
    _columns(data, fn, group=group, events=events, exposure=exposure)
    measure = _check_measure(measure, fn)
    conf = _check_conf(conf, fn)
    multiplier = check_multiplier(multiplier, fn)
    sums = _summed(data, [group], events, exposure, measure, fn)
    is_ref = sums[group] == reference
    if not is_ref.any():
        raise ValueError(
            f"The 'reference' argument of qi.equality.compare, {reference!r}, is not a value of "
            f"column {group!r} (values: {sums[group].tolist()})."
        )
    ref = sums.loc[is_ref].iloc[0]
    others = sums.loc[~is_ref].reset_index(drop=True)
    k = len(others)
    stats_ = _compare_arrays(
        others["_e"].to_numpy(float),
        others["_n"].to_numpy(float),
        np.full(k, ref["_e"], dtype=float),
        np.full(k, ref["_n"], dtype=float),
        measure,
        conf,
        multiplier,
    )
    out = pd.DataFrame({"group": others[group].to_numpy(), "reference": [reference] * k})
    for col, values in stats_.items():
        out[col] = values
    return out[list(COMPARE_COLUMNS)]


def gap(
    data: pd.DataFrame,
    *,
    by: str | Sequence[str],
    group: str,
    events: str,
    exposure: str,
    reference: Hashable,
    measure: str = "rate",
    conf: float = 0.95,
    multiplier: float = 100000,
) -> pd.DataFrame:
    """The gap between each group and the reference, for every team × measure × period.

    :func:`compare` for many tables at once, vectorised over all of them: the
    rows of ``data`` are summed by ``by`` × ``group``, each group is matched
    with the reference group of the same ``by`` key, and every statistic is
    computed on the flat arrays.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data: one or more rows per key × group.
    by : str or list of str
        The keys of one comparison table, usually team, measure and period
        (e.g. ``["team", "measure", "month"]``).
    group, events, exposure, reference, measure, conf, multiplier
        As :func:`compare`.

    Returns
    -------
    pandas.DataFrame
        One row per ``by`` key × group other than the reference, sorted by the
        ``by`` columns then group: the ``by`` columns, the group column (under
        its own name, e.g. ``ethnicity``), then the other columns of
        :func:`compare`, then ``log_ratio``, ``log_ratio_lower``,
        ``log_ratio_upper`` (natural logs of the ratio and its Wald limits; NaN
        where not finite, e.g. a group with 0 events, so that a chart leaves the
        point out). Where the reference group has no row for a key, its columns
        and every statistic are NaN.

        Chart it with ``qi.spc(result, y="log_ratio", x="month",
        by=["team", "measure", "group"], chart="i")`` (or ``chart="run"``):
        0 on the log scale is no gap; log ratios are what an I chart should
        average, not ratios.

    Raises
    ------
    ValueError
        As :func:`compare`; also when ``by`` names ``group`` or no column.
    """
    fn = "gap"
    keys = _by_list(by)
    if not keys:
        raise ValueError("The 'by' argument of qi.equality.gap must name at least one column.")
    if group in keys:
        raise ValueError(f"The 'by' argument of qi.equality.gap must not include group {group!r}.")
    _columns(data, fn, by=keys, group=group, events=events, exposure=exposure)
    clash = sorted(set(keys) & {*GAP_COLUMNS, *COMPARE_COLUMNS[1:]})
    if clash:
        raise ValueError(
            f"The 'by' argument of qi.equality.gap names {clash}, which are output columns; "
            "rename them first."
        )
    measure = _check_measure(measure, fn)
    conf = _check_conf(conf, fn)
    multiplier = check_multiplier(multiplier, fn)
    sums = _summed(data, [*keys, group], events, exposure, measure, fn)
    is_ref = (sums[group] == reference).to_numpy()
    if not is_ref.any():
        raise ValueError(
            f"The 'reference' argument of qi.equality.gap, {reference!r}, is not a value of "
            f"column {group!r}."
        )
    ref = sums.loc[is_ref, [*keys, "_e", "_n"]].rename(columns={"_e": "_re", "_n": "_rn"})
    others = sums.loc[~is_ref].merge(ref, on=keys, how="left", sort=False)
    others = others.sort_values([*keys, group], kind="stable").reset_index(drop=True)
    stats_ = _compare_arrays(
        others["_e"].to_numpy(float),
        others["_n"].to_numpy(float),
        others["_re"].to_numpy(float),
        others["_rn"].to_numpy(float),
        measure,
        conf,
        multiplier,
    )
    out = others[keys].copy()
    out[group] = others[group].to_numpy()
    out["reference"] = reference
    for col, values in stats_.items():
        out[col] = values
    with np.errstate(divide="ignore", invalid="ignore"):
        for col, src in zip(GAP_COLUMNS, ("ratio", "ratio_lower", "ratio_upper"), strict=True):
            v = np.log(out[src].to_numpy(float))
            out[col] = np.where(np.isfinite(v), v, np.nan)
    return out


# --------------------------------------------------------------------------------------
# recording completeness and pooling


def _normalised(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().str.casefold()


def completeness(
    data: pd.DataFrame,
    *,
    by: str | Sequence[str],
    group: str,
    count: str | None = None,
    unknown: Iterable[str] = DEFAULT_UNKNOWN,
    conf: float = 0.95,
    multiplier: float = 1,
) -> pd.DataFrame:
    """Share of records whose ethnic group is not stated or not known, per team and month.

    Recording completeness is a measure in its own right: every disparity
    figure rests on it, and a change in it can look like a change in a gap.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per record, or (with ``count``) rows of counts.
    by : str or list of str
        Keys of one measurement, e.g. ``["team", "month"]``.
    group : str
        Column of the recorded ethnic group.
    count : str, optional
        Column of record counts; None counts rows.
    unknown : iterable of str
        Values that mean "not recorded", compared case-insensitively after
        stripping spaces; missing and empty values always count. Default
        :data:`DEFAULT_UNKNOWN` (``"Not stated"``, ``"Not known"``,
        ``"Unknown"``, ``"Not recorded"`` and the NHS codes ``"Z"``, ``"99"``).
    conf : float
        Confidence level of the Wilson interval.
    multiplier : float
        1 for a proportion, 100 for a percentage.

    Returns
    -------
    pandas.DataFrame
        One row per ``by`` key, sorted by it: the ``by`` columns, ``numerator``
        (records not recorded), ``denominator`` (all records), ``value``
        (numerator/denominator × multiplier), ``lower``, ``upper`` (Wilson
        score, as :func:`proportions`).

    Raises
    ------
    ValueError
        For a missing column or a non-numeric or negative ``count``.
    """
    fn = "completeness"
    keys = _by_list(by)
    _columns(data, fn, by=keys, group=group, count=count)
    conf = _check_conf(conf, fn)
    multiplier = check_multiplier(multiplier, fn)
    if isinstance(unknown, str):
        unknown = [unknown]
    labels = {str(u).strip().casefold() for u in unknown}
    norm = _normalised(data[group])
    is_unknown = (norm.isna() | (norm == "") | norm.isin(labels)).fillna(True).to_numpy(bool)
    weight = (
        _numeric_column(data, count, "count", fn).fillna(0).to_numpy(float)
        if count is not None
        else np.ones(len(data))
    )
    frame = data[keys].copy() if keys else pd.DataFrame(index=data.index)
    frame["numerator"] = np.where(is_unknown, weight, 0.0)
    frame["denominator"] = weight
    if keys:
        out = frame.groupby(keys, sort=True, dropna=False)[["numerator", "denominator"]].sum()
        out = out.reset_index()
    else:
        out = frame[["numerator", "denominator"]].sum().to_frame().T
    ci = proportions(out["numerator"], out["denominator"], conf=conf, multiplier=multiplier)
    return pd.concat([out, ci], axis=1)


def pool(
    data: pd.DataFrame,
    *,
    group: str,
    events: str,
    exposure: str | None = None,
    by: str | Sequence[str] | None = None,
    period: str | None = None,
    mapping: Mapping[Hashable, Hashable] | None = None,
    min_count: float | None = None,
) -> pd.DataFrame:
    """Pool detailed groups into broad ones, and months into quarters where counts are small.

    Intersectional cuts (ethnicity × sex × age band, say) soon leave monthly
    counts too small to compare. Two remedies, either or both:

    1. ``mapping`` renames each detailed group to its broad group (e.g. the 19
       NHS ethnic categories to 5; intersections to their broad parts); groups
       not in the mapping keep their name. Rows that now share a group are
       summed.
    2. With ``period`` and ``min_count``, every series (a key of ``by``) in
       which some group has fewer than ``min_count`` events in some period is
       pooled to calendar quarters (three-month blocks starting January, April,
       July, October, which are also NHS financial quarters) for all its groups,
       so that groups and the reference stay comparable period by period.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data: rows of counts by ``by`` × ``period`` × ``group``.
    group : str
        Column of the (detailed) group.
    events : str
        Column of counts that decide pooling; summed.
    exposure : str, optional
        Column of person-time or people; summed.
    by : str or list of str, optional
        Keys of one series other than period and group (e.g. team, measure).
    period : str, optional
        Column of month dates (datetime, or text pandas can parse).
    mapping : mapping, optional
        Detailed group → broad group.
    min_count : number, optional
        Events below which a period is too small (needs ``period``).

    Returns
    -------
    pandas.DataFrame
        Sorted by ``by``, period, group: the ``by`` columns, the period column
        (a quarter's first day where pooled), the group column, ``events`` and
        ``exposure`` columns (summed, under their own names), ``n_rows`` (input
        rows summed into the row), ``pooled`` (True where the row combines two
        or more detailed groups, or two or more months), and, with ``period``,
        ``granularity`` (``"month"`` or ``"quarter"``).

    Raises
    ------
    ValueError
        For a missing column, non-numeric or negative counts, a period that is
        not a date, or ``min_count`` without ``period``.
    """
    fn = "pool"
    keys = _by_list(by)
    _columns(data, fn, by=keys, group=group, events=events, exposure=exposure, period=period)
    if min_count is not None and period is None:
        raise ValueError("qi.equality.pool: 'min_count' needs 'period' (the months to pool).")
    frame = data[[*keys, *([period] if period else []), group]].copy()
    frame[events] = _numeric_column(data, events, "events", fn)
    if exposure is not None:
        frame[exposure] = _numeric_column(data, exposure, "exposure", fn)
    frame["_detailed"] = frame[group]
    if mapping is not None:
        frame[group] = frame[group].map(lambda g: mapping.get(g, g))
    sums = [events, *([exposure] if exposure else [])]
    if period is not None:
        try:
            when = pd.to_datetime(frame[period])
        except (ValueError, TypeError) as err:
            raise ValueError(
                f"qi.equality.pool: column {period!r} ('period') must hold dates ({err})."
            ) from None
        frame[period] = when
        frame["_quarter"] = when.dt.to_period("Q").dt.start_time
        pool_series = np.zeros(len(frame), dtype=bool)
        if min_count is not None:
            cell = frame.groupby([*keys, period, group], dropna=False, sort=False)[events]
            small = cell.transform("sum") < min_count
            if keys:
                pool_series = (
                    small.groupby([frame[k] for k in keys], dropna=False)
                    .transform("any")
                    .to_numpy(bool)
                )
            else:
                pool_series = np.full(len(frame), bool(small.any()))
        frame[period] = frame[period].where(~pool_series, frame["_quarter"])
        frame["granularity"] = np.where(pool_series, "quarter", "month")
        group_keys = [*keys, period, group]
    else:
        group_keys = [*keys, group]
    frame["n_rows"] = 1
    agg: dict[str, str] = dict.fromkeys(sums, "sum")
    agg.update({"n_rows": "sum", "_detailed": "nunique"})
    if period is not None:
        frame["_month"] = when  # the months before pooling
        agg.update({"granularity": "first", "_month": "nunique"})
    out = frame.groupby(group_keys, dropna=False, sort=True).agg(agg).reset_index()
    out["pooled"] = out["_detailed"].to_numpy() > 1
    if period is not None:
        out["pooled"] |= out["_month"].to_numpy() > 1
    cols = [*group_keys, *sums, "n_rows", "pooled", *(["granularity"] if period else [])]
    return out[cols]
