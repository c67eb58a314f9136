"""Recording completeness and pooling: :func:`recording_completeness`, :func:`pool`.

Every disparity figure rests on how completely the ethnic group was recorded, and
intersectional cuts soon leave monthly counts too small to compare; these two
functions measure the first and remedy the second.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from qi._checks import by_list, check_columns, check_conf, check_multiplier, numeric_column
from qi.equality.intervals import proportions

__all__ = ["DEFAULT_UNKNOWN", "pool", "recording_completeness"]

#: Ethnic-group values read as "not recorded" by :func:`recording_completeness`
#: (compared case-insensitively, after stripping spaces; missing and empty values
#: count too). NHS Data Dictionary ethnic category: Z = not stated (asked, and chose
#: not to say: "Refused", "Patient declined"), 99 = not known (not asked, or not able
#: to answer: "NULL", "Not recorded"); WRES's "Unknown" group holds both.
DEFAULT_UNKNOWN = (
    "Not stated",
    "Not known",
    "Unknown",
    "Not recorded",
    "Z",
    "99",
    "Refused",
    "Patient refused",
    "Patient declined",
    "Declined",
    "Declined to state",
    "Prefer not to say",
    "Not given",
    "Not disclosed",
    "NULL",
    "Not asked",
    "Missing",
    "Unknown/null",
)


def _normalised(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().str.casefold()


def recording_completeness(
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
        ``"Unknown"``, ``"Not recorded"``, the NHS codes ``"Z"``, ``"99"``, and the
        usual spellings of a refusal and of a missing value: ``"Refused"``,
        ``"Patient declined"``, ``"NULL"``, …).
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
    fn = "recording_completeness"
    keys = by_list(by)
    check_columns(data, fn, by=keys, group=group, count=count)
    conf = check_conf(conf, fn)
    multiplier = check_multiplier(multiplier, fn)
    if isinstance(unknown, str):
        unknown = [unknown]
    labels = {str(u).strip().casefold() for u in unknown}
    norm = _normalised(data[group])
    is_unknown = (norm.isna() | (norm == "") | norm.isin(labels)).fillna(True).to_numpy(bool)
    weight = (
        numeric_column(data, count, "count", fn).fillna(0).to_numpy(float)
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
    keys = by_list(by)
    check_columns(data, fn, by=keys, group=group, events=events, exposure=exposure, period=period)
    if min_count is not None and period is None:
        raise ValueError("qi.equality.pool: 'min_count' needs 'period' (the months to pool).")
    frame = data[[*keys, *([period] if period else []), group]].copy()
    frame[events] = numeric_column(data, events, "events", fn)
    if exposure is not None:
        frame[exposure] = numeric_column(data, exposure, "exposure", fn)
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
