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
    "measure_name", "chart", "multiplier", "improvement", "target", "teams", "expected",
    "complete", "rare",
)  # fmt: skip
#: A measure is one of rare events when, for most of its teams, most months have none.
RARE_ZERO_SHARE = 0.5
#: Columns of a frame of reporting gaps (:meth:`qi.store.Store.not_expected`): a team not
#: expected to report a measure (all measures when ``measure`` is missing) from ``start``
#: to ``end`` (open when missing), for example a ward closed for refurbishment.
NOT_EXPECTED_COLUMNS = ("team", "measure", "start", "end", "reason")


def series_frame(
    observations: pd.DataFrame,
    measures: pd.DataFrame,
    *,
    level: str = "team",
    add_all: bool = True,
    not_expected: pd.DataFrame | None = None,
    rare: set[str] | frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """Observations summed to ``level`` × measure × group × period.

    Parameters
    ----------
    observations : the frame of :meth:`qi.store.Store.observations`.
    measures : the catalogue (:meth:`qi.store.Store.measures`), with ``id``.
    level : ``"team"``, ``"trust"``, ``"ics"`` or ``"collaborative"``.
    add_all : add an ``All`` group (sum of the groups) where the data has none.
    not_expected : teams not expected to report (:data:`NOT_EXPECTED_COLUMNS`), for
        :func:`coverage`.
    rare : the measures of rare events (:func:`rare_measures`): their rows get ``rare``
        True, and the recipe charts them as the time between events.

    Returns
    -------
    DataFrame with :data:`SERIES_COLUMNS`: ``unit`` (the team, trust, … name),
    ``level``, ``measure``, ``group`` (the measure's group: broad ethnic group or
    ``All``), ``period``, ``numerator``, ``denominator``, the measure's
    ``measure_name``, ``chart``, ``multiplier``, ``improvement`` and ``target``, and
    the month's :func:`coverage`: ``teams`` (how many of the unit's teams sent it),
    ``expected`` (how many were expected to) and ``complete`` (all of them did). A
    month that is not complete is provisional: charts show it, the rules never read it.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    obs = observations
    if add_all:
        # each team × measure × month without an uploaded "All" gets the sum of its
        # groups, before any roll-up, so every level's "All" covers the same teams
        slice_keys = ["team", "measure", "period"]
        is_all = obs["broad_group"].eq(ALL)
        code = key_codes(obs, slice_keys, missing=False)
        if code is not None and (code >= 0).all():  # one integer per slice: faster
            has_all = is_all.groupby(code, sort=False).transform("any")
        else:
            has_all = is_all.groupby([obs[k] for k in slice_keys]).transform("any")
        carry = [c for c in LEVELS if c in obs.columns]
        parts = obs[~has_all & ~is_all]
        total = sum_counts(parts, [*carry, "measure", "period"]).assign(broad_group=ALL)
        obs = pd.concat([obs, total], ignore_index=True)
    keys = [level, "measure", "broad_group", "period"]
    summed = sum_counts(obs, keys)
    summed = summed.rename(columns={level: "unit", "broad_group": "group"})
    # sorted while it holds only its keys and counts (the joins below keep this order):
    # the unique keys leave nothing to tie
    summed = summed.sort_values(["unit", "measure", "group", "period"], ignore_index=True)
    catalogue = measures.set_index("id")[["name", "chart", "multiplier", "improvement", "target"]]
    out = summed.join(catalogue.rename(columns={"name": "measure_name"}), on="measure")
    out.insert(1, "level", level)
    cover = coverage(observations, level=level, not_expected=not_expected)
    if cover.empty:
        out = out.assign(teams=0, expected=0, complete=True)
    else:
        out = out.join(cover, on=["unit", "measure", "period"])
    out["rare"] = out["measure"].isin(set(rare))
    return out


def coverage(
    observations: pd.DataFrame,
    *,
    level: str = "team",
    not_expected: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Which of a unit's teams sent each month of each measure.

    A team is expected to report a measure every month from the first month it sent it,
    unless a reporting gap says it is not (``not_expected``, :data:`NOT_EXPECTED_COLUMNS`:
    a closed ward, a team that stopped). A unit's month is *complete* when every team
    expected sent it; a team that sent it while not expected counts as expected.

    Returns
    -------
    DataFrame indexed by ``unit``, ``measure``, ``period`` (every month in which the unit
    sent anything), with ``teams`` (teams that sent it), ``expected`` and ``complete``.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    keys = ["unit", "measure", "period"]
    sent = observations.drop_duplicates(["team", "measure", "period"])
    sent = pd.DataFrame(
        {"unit": sent[level], "team": sent["team"], "measure": sent["measure"],
         "period": sent["period"]}
    )  # fmt: skip
    if sent.empty:
        return pd.DataFrame(
            {"teams": [], "expected": [], "complete": []},
            index=pd.MultiIndex.from_arrays([[], [], []], names=keys),
        )
    out = sent.groupby(keys, observed=True).size().rename("teams").reset_index()
    # teams expected: those whose first month of the measure is on or before the month
    first = sent.groupby(["unit", "measure", "team"], observed=True)["period"].min()
    started = first.rename("period").reset_index().groupby(["unit", "measure", "period"]).size()
    started = started.groupby(level=["unit", "measure"]).cumsum().rename("expected")
    started = started.reset_index().sort_values("period")
    out = pd.merge_asof(out.sort_values("period"), started, on="period", by=["unit", "measure"])
    if not_expected is not None and len(not_expected):
        out["expected"] -= _excused(sent, first, not_expected, out)
    out["expected"] = np.maximum(out["expected"].fillna(0), out["teams"]).astype(int)
    out["complete"] = out["teams"] >= out["expected"]
    return out.set_index(keys).sort_index()


def _excused(sent, first, not_expected, months) -> np.ndarray:
    """Per row of ``months`` (unit, measure, period): the teams it expects that a
    reporting gap excuses and that did not send the month."""
    gaps = not_expected.copy()
    gaps["start"] = pd.to_datetime(gaps["start"])
    gaps["end"] = pd.to_datetime(gaps["end"])
    started = first.rename("first").reset_index()
    # every started team × measure × month of the units' months, with its gaps
    grid = months[["unit", "measure", "period"]].merge(started, on=["unit", "measure"])
    grid = grid[grid["first"] <= grid["period"]]
    all_measures = gaps["measure"].isna() | gaps["measure"].eq("")
    hit = pd.concat(
        [
            grid.merge(gaps[~all_measures][["team", "measure", "start", "end"]],
                       on=["team", "measure"]),
            grid.merge(gaps[all_measures][["team", "start", "end"]], on="team"),
        ],
        ignore_index=True,
    )  # fmt: skip
    inside = (hit["period"] >= hit["start"]) & (hit["end"].isna() | (hit["period"] <= hit["end"]))
    hit = hit[inside].drop_duplicates(["unit", "measure", "period", "team"])
    did_send = sent.set_index(["team", "measure", "period"]).index
    hit = hit[~hit.set_index(["team", "measure", "period"]).index.isin(did_send)]
    count = hit.groupby(["unit", "measure", "period"]).size()
    index = pd.MultiIndex.from_frame(months[["unit", "measure", "period"]])
    return count.reindex(index).fillna(0).to_numpy(dtype=int)


def rare_measures(observations: pd.DataFrame, *, zero_share: float = RARE_ZERO_SHARE) -> set:
    """The measures of rare events: for most teams that report it, more than
    ``zero_share`` of the months have no event at all (every group summed).

    A run of months without an event is what such a measure usually looks like, so the
    rules would read it as a shift below the centre line: an "improvement" that is only
    rarity. The recipe charts these measures as the exposure between events (a g chart,
    :func:`qi.measures.chart_rows`), as the rules for rare events advise. Decided over
    every team of the data given, so a measure is charted the same way at every level.
    """
    obs = observations[observations["broad_group"] != ALL]
    if obs.empty:
        return set()
    per_month = obs.groupby(["team", "measure", "period"], observed=True)["numerator"].sum()
    zero = (per_month == 0).groupby(level=["team", "measure"], observed=True).mean()
    mostly = (zero > zero_share).groupby(level="measure", observed=True).mean()
    return set(mostly.index[mostly > 0.5])


def latest_complete_month(
    observations: pd.DataFrame, *, not_expected: pd.DataFrame | None = None
) -> pd.Timestamp | None:
    """The latest month that every team expected sent, for every measure sent that month
    (over all of ``observations``: narrow it first to a pack's teams and measures)."""
    if observations.empty:
        return None
    level = "collaborative" if "collaborative" in observations else "team"
    cover = coverage(observations, level=level, not_expected=not_expected)
    by_month = cover["complete"].groupby(level="period").all()
    done = by_month[by_month]
    return None if done.empty else pd.Timestamp(done.index.max())


def key_codes(frame: pd.DataFrame, keys: list[str], *, missing: bool) -> np.ndarray | None:
    """Each row's ``keys`` as one integer (equal keys, equal integers; a missing value a
    value of its own when ``missing``, else -1), or None for a categorical key (whose
    unseen categories a grouping treats apart) or for keys with too many values to
    number in 63 bits."""
    code = np.zeros(len(frame), dtype=np.int64)
    lost = np.zeros(len(frame), dtype=bool)
    span = 1
    for k in keys:
        if isinstance(frame[k].dtype, pd.CategoricalDtype):
            return None
        c, uniques = pd.factorize(frame[k], use_na_sentinel=not missing)
        span *= len(uniques) + 1
        if span >= 2**62:
            return None
        lost |= c < 0
        code = code * (len(uniques) + 1) + c
    return np.where(lost, -1, code)


def series_numbers(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """``frame.groupby(keys, sort=False).ngroup()`` as an array (each row's series
    numbered from 0 in the order the series first appear; a row with a missing key as
    the grouping gives it), through :func:`key_codes` when no key is missing (a
    grouping by text columns is slower)."""
    code = key_codes(frame, keys, missing=False)
    if code is None or (code < 0).any():
        return frame.groupby(keys, sort=False, observed=True).ngroup().to_numpy()
    return pd.factorize(code)[0]


def sum_counts(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Numerators and denominators summed by ``keys`` (a denominator stays missing only
    when every row's is)."""
    code = key_codes(frame, keys, missing=True)
    if code is not None:
        # grouped by one integer instead of the key columns (strings: 4× slower), the
        # same sums in the same order; the keys read from each group's first row
        grouped = frame[["numerator", "denominator"]].groupby(code, sort=False)
        first = pd.Series(np.arange(len(frame))).groupby(code, sort=False).first()
        out = frame[keys].take(first.to_numpy()).reset_index(drop=True)
        out["numerator"] = grouped["numerator"].sum().to_numpy()
        out["denominator"] = grouped["denominator"].sum(min_count=1).to_numpy()
        return out
    grouped = frame.groupby(keys, sort=False, observed=True, dropna=False)
    return pd.DataFrame(
        {
            "numerator": grouped["numerator"].sum(),
            "denominator": grouped["denominator"].sum(min_count=1),
        }
    ).reset_index()


def with_denominator(rows: pd.DataFrame) -> pd.Series:
    """Per row: whether its measure is charted with a denominator: any of the measure's
    rows has one (all rows are one measure when there is no ``measure`` column), and its
    chart type takes one (:attr:`qi.charts.ChartType.takes_n`: not xbar or s)."""
    from qi.charts import CHART_TYPES

    has = rows["denominator"].notna().to_numpy()
    if "measure" not in rows:
        out = pd.Series(bool(has.any()), index=rows.index)
    else:
        # per measure, through its codes (a row without a measure counts as having one)
        code, measures = pd.factorize(rows["measure"])
        named = code >= 0
        any_n = np.bincount(code[named], weights=has[named], minlength=len(measures)) > 0
        out = pd.Series(np.where(named, any_n[code], True), index=rows.index, name="denominator")
    if "chart" in rows:
        # an unknown or missing chart type takes one
        code, charts = pd.factorize(rows["chart"])
        takes = np.array([getattr(CHART_TYPES.get(c), "takes_n", True) for c in charts] + [True])
        out &= takes[code]  # code -1 (missing) reads the last entry
    return out


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
