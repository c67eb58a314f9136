"""From stored observations to chartable series.

* :func:`series_frame` turns stored observations into series at a level: detailed
  ethnic categories summed into the measure's groups, an ``All`` group added (the sum
  over groups, when the upload has none), and, for a roll-up, teams summed into their
  trust, integrated care system or collaborative — numerators and denominators summed,
  never rates averaged.
* :func:`valued` keeps the months that have a value: the one rule for a month whose
  denominator is 0 or missing (a ward closed for a month).
* :func:`phases_from` numbers the phases of a series from the months a new phase starts.

Every chart, board row, equality view and export reads its series through these, so a
month, a group or a roll-up means the same thing everywhere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The levels a series can be summed to, from a team to the whole collaborative.
LEVELS = ("team", "trust", "ics", "collaborative")
#: The group that stands for everyone.
ALL = "All"
#: Columns of :func:`series_frame`.
SERIES_COLUMNS = (
    "unit", "level", "measure", "group", "period", "numerator", "denominator",
    "measure_name", "chart", "multiplier", "improvement", "target",
)  # fmt: skip


def series_frame(
    observations: pd.DataFrame,
    measures: pd.DataFrame,
    *,
    level: str = "team",
    add_all: bool = True,
) -> pd.DataFrame:
    """Observations summed to ``level`` × measure × group × period.

    Parameters
    ----------
    observations : the frame of :meth:`qi.store.Store.observations`.
    measures : the catalogue (:meth:`qi.store.Store.measures`), with ``id``.
    level : ``"team"``, ``"trust"``, ``"ics"`` or ``"collaborative"``.
    add_all : add an ``All`` group (sum of the groups) where the data has none.

    Returns
    -------
    DataFrame with :data:`SERIES_COLUMNS`: ``unit`` (the team, trust, … name),
    ``level``, ``measure``, ``group`` (the measure's group: broad ethnic group or
    ``All``), ``period``, ``numerator``, ``denominator``, and the measure's
    ``measure_name``, ``chart``, ``multiplier``, ``improvement`` and ``target``.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    obs = observations
    if add_all:
        # each team × measure × month without an uploaded "All" gets the sum of its
        # groups, before any roll-up, so every level's "All" covers the same teams
        slice_keys = ["team", "measure", "period"]
        is_all = obs["broad_group"].eq(ALL)
        has_all = is_all.groupby([obs[k] for k in slice_keys]).transform("any")
        carry = [c for c in LEVELS if c in obs.columns]
        parts = obs[~has_all & ~is_all]
        total = sum_counts(parts, [*carry, "measure", "period"]).assign(broad_group=ALL)
        obs = pd.concat([obs, total], ignore_index=True)
    keys = [level, "measure", "broad_group", "period"]
    summed = sum_counts(obs, keys)
    summed = summed.rename(columns={level: "unit", "broad_group": "group"})
    catalogue = measures.set_index("id")[["name", "chart", "multiplier", "improvement", "target"]]
    out = summed.join(catalogue.rename(columns={"name": "measure_name"}), on="measure")
    out.insert(1, "level", level)
    return out.sort_values(["unit", "measure", "group", "period"], ignore_index=True)


def sum_counts(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Numerators and denominators summed by ``keys`` (a denominator stays missing only
    when every row's is)."""
    grouped = frame.groupby(keys, sort=False, observed=True, dropna=False)
    return pd.DataFrame(
        {
            "numerator": grouped["numerator"].sum(),
            "denominator": grouped["denominator"].sum(min_count=1),
        }
    ).reset_index()


def with_denominator(rows: pd.DataFrame) -> pd.Series:
    """Per row: whether its measure is charted with a denominator (any of the measure's
    rows has one; all rows are one measure when there is no ``measure`` column)."""
    has = rows["denominator"].notna()
    if "measure" not in rows:
        return pd.Series(bool(has.any()), index=rows.index)
    return has.groupby(rows["measure"], observed=True).transform("any").astype(bool)


def valued(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows whose month has a value.

    A measure charted with a denominator has no value in a month whose denominator is 0
    or missing (a ward closed for a month): such months are left out of the chart and
    its rules (NHSRplotthedots refuses a missing value inside a trend). A measure
    without denominators keeps every row.
    """
    keep = ~with_denominator(rows) | (rows["denominator"] > 0)
    return rows if bool(keep.all()) else rows[keep]


def phases_from(periods: pd.Series, starts) -> pd.Series:
    """Phase number of each period: 1 before the first start, +1 at each start month.

    ``starts`` are the months a new phase begins (e.g. when a change was made), in
    any order; a start before the first period changes nothing.
    """
    edges = np.sort(pd.to_datetime(pd.Series(list(starts), dtype=object)).to_numpy())
    return pd.Series(
        np.searchsorted(edges, periods.to_numpy(), side="right") + 1, index=periods.index
    )


def month_start(value) -> pd.Timestamp:
    """The first day of the month of ``value`` (a date, ``"2026-10"``, a Timestamp)."""
    return pd.Timestamp(value).to_period("M").to_timestamp()
