"""Each group against a reference group: :func:`compare` (one table), :func:`gap` (many).

A rate ratio (epitools ``rateratio`` Wald and mid-p, ``rate2by2.test``) or risk ratio
(epitools ``riskratio.wald``, ``ormidp.test``), with the difference (epiR
``epi.2by2``); :func:`gap` gives the same for every team × measure × month at once,
with a log ratio that :func:`qi.spc` charts directly (``y="log_ratio"``).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

from qi._checks import by_list, check_columns, check_conf, check_multiplier, numeric_column
from qi.equality import _exact
from qi.equality._lazy import ndtri

__all__ = ["COMPARE_COLUMNS", "GAP_COLUMNS", "MEASURES", "compare", "gap"]


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
    "note",
)


def _compare_arrays(
    a: np.ndarray,
    n1: np.ndarray,
    b: np.ndarray,
    n0: np.ndarray,
    measure: str,
    conf: float,
    multiplier: float,
    exact: bool = True,
) -> dict[str, np.ndarray]:
    """Every comparison statistic for arrays of (group, reference) pairs (without
    ``exact``, the mid-p exact ones are NaN)."""
    z_wald = ndtri(0.5 * (1 + conf))  # epitools: qnorm(0.5*(1 + conf.level))
    none = np.full(a.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p0 = a / n1, b / n0
        ratio = p1 / p0
        if measure == "rate":
            se = np.sqrt(1 / a + 1 / b)
            if exact:
                exact_est, exact_lo, exact_hi = _exact.midp_rate_ratio(a, n1, b, n0, conf)
                p_value = _exact.midp_rate_p_value(a, n1, b, n0)
            else:
                exact_est = exact_lo = exact_hi = p_value = none
            diff_se = np.sqrt(a / n1**2 + b / n0**2)
        else:
            se = np.sqrt(1 / a - 1 / n1 + 1 / b - 1 / n0)
            exact_est = exact_lo = exact_hi = none
            p_value = _exact.midp_table_p_value(a, n1, b, n0) if exact else none
            diff_se = np.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
        log_ratio = np.log(ratio)
        ratio_lower = np.exp(log_ratio - z_wald * se)
        ratio_upper = np.exp(log_ratio + z_wald * se)
        diff = (p1 - p0) * multiplier
        half = z_wald * diff_se * multiplier
    # no population, no rate: a group (or reference) with exposure 0 or missing gives
    # no comparison at all (not a ratio of inf with p = 0, the strongest evidence for no
    # data); the note says why
    no_group = ~(n1 > 0)
    no_ref = ~(n0 > 0)
    stats = [p1, p0, ratio, ratio_lower, ratio_upper, exact_est, exact_lo, exact_hi, p_value,
             diff, half]  # fmt: skip
    p1, p0, ratio, ratio_lower, ratio_upper, exact_est, exact_lo, exact_hi, p_value, diff, half = (
        np.where(no_group | no_ref, np.nan, np.asarray(v, dtype=float)) for v in stats
    )
    note = np.full(a.shape, "", dtype=object)
    note[(b == 0) & (a > 0)] = "the reference group has no events: the ratio is infinite"
    note[(a == 0) & (b == 0)] = "no events in either group: no ratio"
    note[no_ref] = "the reference group has no population (exposure 0 or missing): no comparison"
    note[no_group] = "this group has no population (exposure 0 or missing): no comparison"
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
        "note": note,
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
    ev = numeric_column(data, events, "events", fn)
    ex = numeric_column(data, exposure, "exposure", fn)
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
        epitools); a reference with 0 events gives Inf or NaN. A group or reference with
        no population (exposure 0 or missing) has every statistic missing. ``note``
        says, in words, why a comparison is missing or infinite (empty otherwise).

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
    check_columns(data, fn, group=group, events=events, exposure=exposure)
    measure = _check_measure(measure, fn)
    conf = check_conf(conf, fn)
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
    exact: bool = True,
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
    exact : bool
        False leaves out the mid-p exact statistics (``ratio_exact``, its limits and
        ``p_value`` are NaN): most of the time of a large call, for a caller that
        reads only the ratio and its Wald interval (or the difference).

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
    keys = by_list(by)
    if not keys:
        raise ValueError("The 'by' argument of qi.equality.gap must name at least one column.")
    if group in keys:
        raise ValueError(f"The 'by' argument of qi.equality.gap must not include group {group!r}.")
    check_columns(data, fn, by=keys, group=group, events=events, exposure=exposure)
    clash = sorted(set(keys) & {*GAP_COLUMNS, *COMPARE_COLUMNS[1:]})
    if clash:
        raise ValueError(
            f"The 'by' argument of qi.equality.gap names {clash}, which are output columns; "
            "rename them first."
        )
    measure = _check_measure(measure, fn)
    conf = check_conf(conf, fn)
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
        exact,
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
