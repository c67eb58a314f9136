"""Accountability: is an improvement holding, who owns each measure, what is overdue.

:func:`holding_gains` — for every change idea on a team's measure, whether the data
after the change shows an improvement against the months before it, how long it has
held, and whether the new phase has a special cause of concern ("at risk"):

* the months before the change's start are phase 1 and the months from it phase 2,
  both charted with the measure's chart type and the Making Data Count rules;
* **improved**: after the change, a run of ``shift`` (default 7, MDC's shift) points
  on the better side of phase 1's centre line, or a point beyond phase 1's limits on
  the better side; ``improved_from`` is the first month of that run or point;
* **at risk**: improved, and then either the improvement no longer shows (none of
  the last ``recent_months`` (3) points is beyond phase 1's limit on the better side
  or in a run of ``shift`` on the better side of its centre line — the gain faded),
  or the months from the improvement, charted as a new phase with lines fixed on its
  first ``new_baseline`` (12) points, show a special cause of *concern* (a shift,
  trend or two of three near a limit; a single point beyond a limit only among the
  last ``recent_months`` points). ``concern_from`` is the first month of either;
* **sustained**: improved, not at risk, and held for ``sustain_months`` (default 12)
  months or more; otherwise **holding**; and **no improvement** when no signal came.

Every change is one series of a single grouped :func:`qi.spc` call per chart type.

:func:`review_status` — each owner's review cadence against the last review they
recorded; :func:`overdue_actions` — actions past their due date;
:func:`changes_from` — each change idea and when it started, from the PDSA cycles;
:func:`board_columns` — what the board matrix adds to each series from all of these.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from qi._patterns import run_length_here
from qi.measures import chart_rows
from qi.series import valued

GAINS_COLUMNS = (
    "team", "measure", "group", "change_idea", "start", "improved", "improved_from",
    "months_held", "concern_from", "status",
)  # fmt: skip
DIRECTION = {"increase": 1, "decrease": -1}


def holding_gains(
    series: pd.DataFrame,
    changes: pd.DataFrame,
    *,
    shift: int = 7,
    sustain_months: int = 12,
    recent_months: int = 3,
    new_baseline: int = 12,
) -> pd.DataFrame:
    """The holding-the-gains status of each change (see the module docstring).

    Parameters
    ----------
    series : team-level series, as :func:`qi.series.series_frame` gives them (``unit``,
        ``measure``, ``group``, ``period``, ``numerator``, ``denominator``, ``chart``,
        ``multiplier``, ``improvement``).
    changes : one row per change: ``team``, ``measure``, ``group`` (the group it
        targets; empty or missing means ``All``), ``change_idea``, ``start`` (date).

    Returns
    -------
    DataFrame with :data:`GAINS_COLUMNS`, one row per change.
    """
    ch = changes.copy().reset_index(drop=True)
    ch["group"] = ch["group"].fillna("").replace("", "All")
    ch["start"] = pd.to_datetime(ch["start"]).dt.to_period("M").dt.to_timestamp()
    ch["change_id"] = np.arange(len(ch))
    rows = series.rename(columns={"unit": "team"}).merge(
        ch[["change_id", "team", "measure", "group", "start"]], on=["team", "measure", "group"]
    )
    rows = valued(rows)
    rows["phase"] = np.where(rows["period"] < rows["start"], 1, 2)
    # a change needs months before and after it
    phases = rows.groupby("change_id")["phase"].agg(["min", "max"])
    ok = phases.index[(phases["min"] == 1) & (phases["max"] == 2)]
    rows = rows[rows["change_id"].isin(ok)]

    results = _charted(rows)
    out = ch[["team", "measure", "group", "change_idea", "start"]].copy()
    out["improved"] = False
    out["improved_from"] = pd.NaT
    out["months_held"] = 0
    out["concern_from"] = pd.NaT
    out["status"] = "no improvement"
    if results is None:
        return out[list(GAINS_COLUMNS)]
    pts = results

    before = pts[pts["phase"] == 1].groupby("change_id")[["cl", "lcl", "ucl"]].first()
    pts = pts.join(before.add_prefix("pre_"), on="change_id")
    after = pts[pts["phase"] == 2].reset_index(drop=True)
    d = after["direction"].to_numpy()
    y = after["y"].to_numpy(dtype=float)
    better = d * (y - after["pre_cl"].to_numpy(dtype=float)) > 0
    seg = after["change_id"].to_numpy()
    run = run_length_here(better.astype(float), seg)
    shifted = better & (run >= shift)
    limit = np.where(d > 0, after["pre_ucl"], after["pre_lcl"]).astype(float)
    beyond = d * (y - limit) > 0
    # a shift is dated from the first point of its run
    run_start = after["x"].to_numpy()[np.maximum(np.arange(len(after)) - run + 1, 0)]
    signal_month = pd.Series(
        np.where(shifted, run_start, np.where(beyond, after["x"].to_numpy(), np.datetime64("NaT"))),
        dtype="datetime64[ns]",
    )  # fmt: skip
    improved_from = signal_month.groupby(seg).min()
    # is the improvement still showing? a point shows it when it is beyond the old
    # limit on the better side, or part of a run of `shift` or more on the better side
    # of the old centre line (the whole run counts, as MDC marks every point of a
    # shift); it is lost when none of the last `recent_months` points shows it
    run_id = np.cumsum(np.r_[True, (better[1:] != better[:-1]) | (seg[1:] != seg[:-1])])
    run_size = pd.Series(run_id).map(pd.Series(run_id).value_counts()).to_numpy()
    showing = (better & (run_size >= shift)) | beyond
    from_end = after.groupby("change_id").cumcount(ascending=False).to_numpy()
    recent = from_end < recent_months
    still = pd.Series(showing & recent).groupby(seg).any()
    last_showing = after["x"].where(showing).groupby(seg).max()
    lost_from = (last_showing + pd.offsets.MonthBegin(1)).where(~still)
    # and did the improved process itself turn? chart the months from the improvement
    # as a new phase with lines fixed on its first `new_baseline` points (as MDC
    # rebases) and look for a pattern of concern (shift, trend, two of three near a
    # limit); a single point beyond a limit counts only among the last points
    improved_rows = rows[rows["change_id"].isin(improved_from.dropna().index)].copy()
    turned = pd.Series(dtype="datetime64[ns]")
    if len(improved_rows):
        since = improved_rows["change_id"].map(improved_from)
        improved_rows["phase"] = np.where(improved_rows["period"] < since, 1, 2)
        held_pts = _charted(improved_rows, baseline=new_baseline)
        held_pts = held_pts[held_pts["phase"] == 2]
        concern = held_pts["point_type"].astype(str).eq("special_cause_concern").to_numpy()
        single = held_pts["special_cause"].astype(str).isin(["Above UCL", "Below LCL"]).to_numpy()
        end_pos = held_pts.groupby("change_id").cumcount(ascending=False).to_numpy()
        concern = concern & (~single | (end_pos < recent_months))
        turned = held_pts["x"].where(concern).groupby(held_pts["change_id"]).min()
    concern_from = pd.concat([lost_from.dropna(), turned.dropna()]).groupby(level=0).min()
    last = after.groupby("change_id")["x"].max()

    out.loc[improved_from.index, "improved_from"] = improved_from.to_numpy()
    out["improved"] = out["improved_from"].notna()
    out.loc[concern_from.index, "concern_from"] = concern_from.to_numpy()
    late = out["concern_from"].notna() & out["improved"]
    out.loc[~late, "concern_from"] = pd.NaT
    end = out["concern_from"].where(late, out.index.map(last))
    held = (end.dt.year - out["start"].dt.year) * 12 + (end.dt.month - out["start"].dt.month)
    out["months_held"] = held.where(out["improved"], 0).fillna(0).astype(int)
    out["status"] = np.select(
        [~out["improved"], late, out["months_held"] >= sustain_months],
        ["no improvement", "at risk", "sustained"],
        "holding",
    )
    return out[list(GAINS_COLUMNS)]


def _charted(rows: pd.DataFrame, baseline: int | None = None) -> pd.DataFrame | None:
    """MDC points of every change's series (``change_id``, ``phase``), through the one
    recipe (:func:`qi.measures.chart_rows`), with each change's improvement ``direction``."""
    charted = chart_rows(rows, by=["change_id"], rules="mdc", phase="phase", baseline=baseline)
    if not charted.results:
        return None
    pts = charted.points.copy()
    improvement = charted.rows.groupby("change_id")["improvement"].first()
    pts["direction"] = pts["change_id"].map(improvement.map(DIRECTION)).fillna(0).astype(int)
    return pts.sort_values(["change_id", "x"], ignore_index=True)


def review_status(
    owners: pd.DataFrame, reviews: pd.DataFrame, *, today: dt.date | None = None
) -> pd.DataFrame:
    """Each owned team × measure with its last review and whether the next is overdue.

    A review is what the owner records (:meth:`qi.store.Store.record_review`), never
    inferred from an action. The cadence counts from the last review, or, before the
    first, from when the owner was set (``owners.since``; due at once when unknown):
    ``next_review`` is that date plus ``review_every_months``, and the review is
    ``overdue`` once ``today`` is past it.
    """
    today = pd.Timestamp(today or dt.datetime.now(dt.UTC).date())
    last = reviews.groupby(["team", "measure"])["reviewed_on"].max().rename("last_review")
    out = owners.join(last, on=["team", "measure"])
    out["last_review"] = pd.to_datetime(out["last_review"])
    since = pd.to_datetime(out["since"]) if "since" in out else pd.Series(pd.NaT, out.index)
    base = out["last_review"].fillna(since)
    months = pd.to_numeric(out["review_every_months"]).astype(int)
    nxt = [
        (b + pd.DateOffset(months=int(m))) if pd.notna(b) else pd.NaT
        for b, m in zip(base, months, strict=True)
    ]
    out["next_review"] = pd.to_datetime(pd.Series(nxt, index=out.index, dtype=object))
    out["overdue"] = out["next_review"].isna() | (out["next_review"] < today)
    return out


def overdue_actions(actions: pd.DataFrame, *, today: dt.date | None = None) -> pd.DataFrame:
    """Actions not done whose due date has passed, with ``days_overdue``."""
    today = pd.Timestamp(today or dt.datetime.now(dt.UTC).date())
    late = actions[actions["done"].isna() & actions["due"].notna() & (actions["due"] < today)]
    return late.assign(days_overdue=(today - late["due"]).dt.days)


def changes_from(cycles: pd.DataFrame) -> pd.DataFrame:
    """Each change idea (team × measure × group × idea) with ``start``, the start of its
    first PDSA cycle: the ``changes`` :func:`holding_gains` takes."""
    return (
        cycles.groupby(["team", "measure", "group", "change_idea"], dropna=False)["start"]
        .min()
        .reset_index()
    )


def change_starts(cycles: pd.DataFrame, phases: pd.DataFrame | None = None) -> pd.DataFrame:
    """The months a team's series start a new phase: the month each change idea began
    (its first PDSA cycle), per team × measure × group (a change without a group is the
    ``All`` series'), and the start of each phase recorded from a change (``phases``:
    :meth:`qi.store.Store.recorded_phases`, withdrawn ones left out). The board and its
    drill-down phase a series at these months."""
    changes = changes_from(cycles)
    out = changes.assign(
        group=changes["group"].fillna("").replace("", "All"),
        start=pd.to_datetime(changes["start"]).dt.to_period("M").dt.to_timestamp(),
    )
    out = out.dropna(subset=["start"])[["team", "measure", "group", "start"]]
    if phases is not None and len(phases):
        kept = phases[phases["withdrawn_at"].isna()] if "withdrawn_at" in phases else phases
        recorded = kept[["team", "measure", "group", "start"]]
        out = pd.concat([out, recorded.assign(start=pd.to_datetime(recorded["start"]))])
    return out.drop_duplicates().reset_index(drop=True)


def with_change_phases(
    series: pd.DataFrame, cycles: pd.DataFrame, phases: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Team-level ``series`` (:func:`qi.series.series_frame`) with a ``phase`` column:
    1, then +1 at each of :func:`change_starts` of its team × measure × group."""
    starts = change_starts(cycles, phases).rename(columns={"team": "unit"})
    keys = ["unit", "measure", "group"]
    hit = series[[*keys, "period"]].reset_index().merge(starts, on=keys)
    passed = (hit["period"] >= hit["start"]).groupby(hit["index"]).sum()
    phase = passed.reindex(series.index).fillna(0).astype(int) + 1
    return series.assign(phase=phase.to_numpy())


def board_columns(
    series: pd.DataFrame,
    cycles: pd.DataFrame,
    owners: pd.DataFrame,
    actions: pd.DataFrame,
    reviews: pd.DataFrame,
    *,
    today: dt.date | None = None,
    held: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the board matrix adds to each team's series.

    Returns ``(owned, gains)``: ``owned`` one row per owned team × measure with
    ``owner``, ``sponsor``, ``review_every_months``, ``since``, ``last_review``,
    ``next_review``, ``review_overdue`` and ``actions_overdue`` (a count); ``gains``
    one row per team × measure × group with a change idea, ``gains`` being the
    :func:`holding_gains` status of its latest change. ``held``: the
    :func:`holding_gains` of ``series`` and ``cycles`` when already worked out (the
    board's sentences read it too), else worked out here.
    """
    status = review_status(owners, reviews, today=today)
    late = overdue_actions(actions, today=today)
    late_count = late.groupby(["team", "measure"]).size().rename("actions_overdue")
    owned = status.join(late_count, on=["team", "measure"])
    owned["actions_overdue"] = owned["actions_overdue"].fillna(0).astype(int)
    owned = owned.rename(columns={"overdue": "review_overdue"})
    if held is None:
        held = holding_gains(series, changes_from(cycles))
    latest = (
        held.sort_values("start")
        .groupby(["team", "measure", "group"])
        .tail(1)
    )
    gains = latest[["team", "measure", "group", "status"]].rename(columns={"status": "gains"})
    return owned, gains
