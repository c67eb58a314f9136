"""The board's view: every team × measure × group at a glance, and roll-ups.

* :func:`series_frame` turns stored observations into chartable series: detailed
  ethnic categories summed into the measure's groups, an ``All`` group added (the
  sum over groups, when the upload has none), and, for a roll-up, teams summed into
  their trust, integrated care system or collaborative — numerators and
  denominators summed, never rates averaged.
* :func:`matrix` runs every series through :func:`qi.spc` with the Making Data Count
  rules — one call per chart type and improvement direction, not one per series —
  and returns one row per series with its latest value, variation and assurance
  icons, target, and the recent values for a sparkline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from qi import mdc
from qi.spc import spc

LEVELS = ("team", "trust", "ics", "collaborative")
ALL = "All"
#: Columns of :func:`matrix`.
MATRIX_COLUMNS = (
    "unit", "level", "measure", "measure_name", "group", "chart", "improvement", "target",
    "period", "value", "numerator", "denominator", "variation", "assurance",
    "variation_icon", "assurance_icon", "variation_text", "assurance_text", "sparkline",
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
    DataFrame with ``unit`` (the team, trust, … name), ``level``, ``measure``,
    ``group`` (the measure's group: broad ethnic group or ``All``), ``period``,
    ``numerator``, ``denominator``, and the measure's ``chart``, ``multiplier``,
    ``improvement`` and ``target``.
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
        total = _sum_counts(parts, [*carry, "measure", "period"]).assign(broad_group=ALL)
        obs = pd.concat([obs, total], ignore_index=True)
    keys = [level, "measure", "broad_group", "period"]
    summed = _sum_counts(obs, keys)
    summed = summed.rename(columns={level: "unit", "broad_group": "group"})
    catalogue = measures.set_index("id")[["name", "chart", "multiplier", "improvement", "target"]]
    out = summed.join(catalogue.rename(columns={"name": "measure_name"}), on="measure")
    out.insert(1, "level", level)
    return out.sort_values(["unit", "measure", "group", "period"], ignore_index=True)


def _sum_counts(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Numerators and denominators summed by ``keys`` (a denominator stays missing only
    when every row's is)."""
    grouped = frame.groupby(keys, sort=False, observed=True, dropna=False)
    return pd.DataFrame(
        {
            "numerator": grouped["numerator"].sum(),
            "denominator": grouped["denominator"].sum(min_count=1),
        }
    ).reset_index()


def matrix(series: pd.DataFrame, *, spark_points: int = 24) -> pd.DataFrame:
    """One row per unit × measure × group: latest value, MDC variation and assurance.

    ``series`` is :func:`series_frame`'s output. Each (chart type, improvement)
    combination is one vectorised :func:`qi.spc` call over all its series. Months
    with a zero or missing denominator (a ward closed for a month) have no value and
    are left out of the analysis.
    """
    keys = ["unit", "measure", "group"]
    rows = []
    combos = series[["chart", "improvement", "multiplier"]].drop_duplicates()
    for chart, improvement, multiplier in combos.itertuples(index=False):
        part = series[
            (series["chart"] == chart)
            & (series["improvement"] == improvement)
            & (series["multiplier"] == multiplier)
        ]
        needs_n = part["denominator"].notna().any()
        if needs_n:
            # a month without a denominator (a closed ward) has no value: NHSRplotthedots
            # refuses a missing value inside a trend, so such months are left out here
            part = part[part["denominator"] > 0]
        result = spc(
            part, x="period", y="numerator", n="denominator" if needs_n else None, by=keys,
            chart=chart, multiply=float(multiplier), rules="mdc", improvement=improvement,
            target="target",
        )  # fmt: skip
        summary = mdc.summary(result)
        points = result.points
        recent = points.groupby(keys, sort=False, observed=True).tail(spark_points)
        recent = recent[np.isfinite(recent["y"].to_numpy(dtype=float))]
        spark = recent.groupby(keys, sort=False, observed=True)["y"].agg(list).rename("sparkline")
        summary = summary.join(spark, on=keys)
        rows.append(summary.assign(chart=chart, improvement=improvement))
    if not rows:
        return pd.DataFrame(columns=MATRIX_COLUMNS)
    table = pd.concat(rows, ignore_index=True)
    last = (
        series.sort_values("period")
        .groupby(keys, sort=False)
        .tail(1)
        .set_index(keys)[["level", "measure_name", "numerator", "denominator"]]
    )
    table = table.join(last, on=keys).rename(columns={"x": "period", "y": "value"})
    # no target, no assurance (NHSRplotthedots says "inconsistent" for a missing target)
    no_target = table["target"].isna()
    for col in ("assurance", "assurance_icon", "assurance_text"):
        table[col] = table[col].astype(object).where(~no_target, None)
    return table[list(MATRIX_COLUMNS)].sort_values(keys, ignore_index=True)


def phases_from(periods: pd.Series, starts) -> pd.Series:
    """Phase number of each period: 1 before the first start, +1 at each start month.

    ``starts`` are the months a new phase begins (e.g. when a change was made), in
    any order; a start before the first period changes nothing.
    """
    edges = np.sort(pd.to_datetime(pd.Series(list(starts), dtype=object)).to_numpy())
    return pd.Series(
        np.searchsorted(edges, periods.to_numpy(), side="right") + 1, index=periods.index
    )
