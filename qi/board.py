"""The board's matrix: every unit × measure × group at a glance.

:func:`matrix` charts every series of a :func:`qi.series.series_frame` with the Making
Data Count rules (through :func:`qi.measures.chart_rows`: one grouped :func:`qi.spc`
call per chart type and improvement direction, not one per series) and returns one row
per series with its latest value, variation and assurance icons, target, and the
recent values for a sparkline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from qi.measures import chart_rows
from qi.series import series_numbers

__all__ = ["MATRIX_COLUMNS", "matrix"]

#: Columns of :func:`matrix`.
MATRIX_COLUMNS = (
    "unit", "level", "measure", "measure_name", "group", "chart", "improvement", "target",
    "period", "value", "numerator", "denominator", "variation", "assurance",
    "variation_icon", "assurance_icon", "variation_text", "assurance_text", "sparkline",
    "provisional_period", "provisional_value", "provisional_numerator",
    "provisional_denominator", "provisional_teams",
)  # fmt: skip


def matrix(series: pd.DataFrame, *, spark_points: int = 24, charted=None) -> pd.DataFrame:
    """One row per unit × measure × group: latest value, MDC variation and assurance.

    ``series`` is :func:`qi.series.series_frame`'s output (with a ``phase`` column when
    the rows have phases). Months with a zero or missing denominator (a ward closed for
    a month) have no value and are left out of the analysis; a measure without a target
    has no assurance. The latest value is the latest *complete* month's; a later month
    not every team has sent yet is given apart, as provisional (``provisional_period``,
    ``provisional_value``, its counts, and ``provisional_teams``: "3 of 8 teams").
    ``charted``: :func:`chart` of ``series``, when the caller has it already.
    """
    keys = ["unit", "measure", "group"]
    charted = charted if charted is not None else chart(series)
    if not charted.results:
        return pd.DataFrame(columns=MATRIX_COLUMNS)
    table = charted.icons
    spark = recent_lists(charted.points, keys, "y", spark_points).rename("sparkline")
    table = table.join(spark, on=keys)
    facts = series.drop_duplicates("measure").set_index("measure")
    table = table.join(facts[["chart", "improvement"]], on="measure")
    if charted.drawn_as:  # rare events are drawn as g charts of the exposure between them
        table.loc[table["measure"].isin(list(charted.drawn_as)), "chart"] = "g"
    table = table.join(_level_and_name(series, facts, keys), on=keys)
    table = table.rename(columns={"x": "period", "y": "value"})
    # the counts of the month the value is read from (the latest complete one): only the
    # rows of the months some series is read from are looked up
    rows = charted.rows
    rows = rows[rows["period"].isin(table["period"].unique())]
    counted = rows.set_index([*keys, "period"])[["numerator", "denominator"]]
    counted = counted[~counted.index.duplicated(keep="last")]
    table = table.join(counted, on=[*keys, "period"])
    table = table.join(_provisional(charted.provisional, table, keys), on=keys)
    table = pd.concat([table, _without_events(series, table, keys)], ignore_index=True)
    return table[list(MATRIX_COLUMNS)].sort_values(keys, ignore_index=True)


def recent_lists(frame: pd.DataFrame, keys: list[str], column: str, n: int) -> pd.Series:
    """Each series' (``keys``) last ``n`` rows' ``column``, in the frame's order, its
    missing and infinite values then left out, as a list of floats: a Series indexed by
    ``keys`` in the order the series first appear (no entry for a series left with no
    value). The same as ``frame.groupby(keys, sort=False).tail(n)``, filtered and
    aggregated to lists, in one sorted pass."""
    codes = series_numbers(frame, keys)
    named = codes >= 0  # a missing key names no series
    index = np.flatnonzero(named)
    order = index[np.argsort(codes[named], kind="stable")]
    code = codes[order]
    end = np.cumsum(np.bincount(code))  # one past each series' last row, in ``order``
    from_end = end[code] - 1 - np.arange(len(order))
    values = frame[column].to_numpy(dtype=float)[order]
    kept = (from_end < n) & np.isfinite(values)
    order, code, values = order[kept], code[kept], values[kept]
    if not len(order):
        return pd.Series([], index=pd.MultiIndex.from_arrays([[]] * len(keys), names=keys),
                         dtype=object, name=column)  # fmt: skip
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    lists = [part.tolist() for part in np.split(values, starts[1:])]
    named_by = pd.MultiIndex.from_frame(frame[keys].iloc[order[starts]])
    return pd.Series(lists, index=named_by, dtype=object, name=column)


def _level_and_name(series: pd.DataFrame, facts: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Each series' ``level`` and ``measure_name`` (its latest month's)."""
    level = series["level"]
    one_level = len(level) and bool((level == level.iloc[0]).all())
    if one_level and bool(
        (series.groupby("measure", observed=True)["measure_name"].nunique(dropna=False) <= 1).all()
    ):  # a frame of one level and one name per measure (series_frame's): nothing to sort
        found = series[keys].drop_duplicates()
        return pd.DataFrame(
            {"level": level.iloc[0],
             "measure_name": found["measure"].map(facts["measure_name"]).to_numpy()},
            index=pd.MultiIndex.from_frame(found),
        )  # fmt: skip
    last = series.sort_values("period").groupby(keys, sort=False).tail(1)
    return last.set_index(keys)[["level", "measure_name"]]


def chart(series: pd.DataFrame):
    """The board's reading of ``series``: every unit × measure × group through the one
    recipe with the Making Data Count rules (phased where ``series`` has a ``phase``)."""
    keys = ["unit", "measure", "group"]
    return chart_rows(series, by=keys, rules="mdc", phase="phase" if "phase" in series else None)


def _without_events(series: pd.DataFrame, table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """A row for each rare-event series with no event to chart: its latest month, no
    value and no icons, and words that say so."""
    if "rare" not in series or not series["rare"].any():
        return pd.DataFrame(columns=table.columns)
    rare = series[series["rare"].astype(bool)]
    shown = pd.MultiIndex.from_frame(table[keys])
    latest = rare.sort_values("period").groupby(keys, sort=False).tail(1)
    latest = latest[~pd.MultiIndex.from_frame(latest[keys]).isin(shown)]
    if latest.empty:
        return pd.DataFrame(columns=table.columns)
    first = rare.groupby(keys, sort=False)["period"].min()
    since = first.reindex(pd.MultiIndex.from_frame(latest[keys])).to_numpy()
    return pd.DataFrame(
        {
            **{k: latest[k].to_numpy() for k in keys},
            "level": latest["level"].to_numpy(), "measure_name": latest["measure_name"].to_numpy(),
            "chart": "g", "improvement": latest["improvement"].to_numpy(),
            "target": np.nan, "period": latest["period"].to_numpy(), "value": np.nan,
            "numerator": latest["numerator"].to_numpy(),
            "denominator": latest["denominator"].to_numpy(), "variation": None,
            "assurance": None, "variation_icon": None, "assurance_icon": None,
            "variation_text": [f"No events since {pd.Timestamp(t):%b %Y}: nothing to chart"
                               for t in since],
            "assurance_text": None, "sparkline": [[] for _ in range(len(latest))],
        }
    )  # fmt: skip


def _provisional(rows: pd.DataFrame, table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Each series' latest provisional month after its latest complete one."""
    cols = ["provisional_period", "provisional_value", "provisional_numerator",
            "provisional_denominator", "provisional_teams"]  # fmt: skip
    if rows.empty:
        return pd.DataFrame(columns=cols, index=pd.MultiIndex.from_arrays([[]] * 3, names=keys))
    after = rows.join(table.set_index(keys)["period"].rename("complete_to"), on=keys)
    after = after[after["complete_to"].isna() | (after["period"] > after["complete_to"])]
    latest = after.sort_values("period").groupby(keys, sort=False).tail(1).set_index(keys)
    return pd.DataFrame(
        {
            "provisional_period": latest["period"],
            "provisional_value": latest["value"],
            "provisional_numerator": latest["numerator"],
            "provisional_denominator": latest["denominator"],
            "provisional_teams": [
                f"{int(t)} of {int(e)} teams"
                for t, e in zip(latest["teams"], latest["expected"], strict=True)
            ],
        },
        index=latest.index,
    )
