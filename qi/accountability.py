"""Accountability: is an improvement holding, who owns each measure, what is overdue.

:func:`holding_gains` — for every change idea on a team's measure, whether the data
after the change shows an improvement against the months before it, how long it has
held, and whether the new phase has a special cause of concern ("at risk"):

* the months before the change's start are phase 1 and the months from it phase 2,
  both charted with the measure's chart type and the Making Data Count rules;
* **improved**: after the change, a run of ``shift`` (default 7, MDC's shift) points
  on the better side of phase 1's centre line, or a point beyond phase 1's limits on
  the better side; ``improved_from`` is the first month of that run or point;
* **at risk**: improved, and phase 2 (on its own centre line and limits) then has a
  point of special cause *concern* — the gain is fading or reversing;
* **sustained**: improved, not at risk, and held for ``sustain_months`` (default 12)
  months or more; otherwise **holding**; and **no improvement** when no signal came.

Every change is one series of a single grouped :func:`qi.spc` call per chart type.

:func:`review_status` — each owner's review cadence against the last decision
recorded on that measure; :func:`overdue_actions` — actions past their due date.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from qi._patterns import run_length_here
from qi.spc import spc

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
) -> pd.DataFrame:
    """The holding-the-gains status of each change (see the module docstring).

    Parameters
    ----------
    series : team-level series, as :func:`qi.board.series_frame` gives them (``unit``,
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
    rows = rows[(rows["denominator"].isna()) | (rows["denominator"] > 0)]
    rows["phase"] = np.where(rows["period"] < rows["start"], 1, 2)
    # a change needs months before and after it
    phases = rows.groupby("change_id")["phase"].agg(["min", "max"])
    ok = phases.index[(phases["min"] == 1) & (phases["max"] == 2)]
    rows = rows[rows["change_id"].isin(ok)]

    results = []
    for (chart, improvement, mult), part in rows.groupby(
        ["chart", "improvement", "multiplier"], sort=False
    ):
        needs_n = part["denominator"].notna().any()
        res = spc(
            part, x="period", y="numerator", n="denominator" if needs_n else None,
            by="change_id", phase="phase", chart=chart, multiply=float(mult), rules="mdc",
            improvement=improvement,
        )  # fmt: skip
        pts = res.points.copy()
        pts["direction"] = DIRECTION.get(improvement, 0)
        results.append(pts)
    out = ch[["team", "measure", "group", "change_idea", "start"]].copy()
    out["improved"] = False
    out["improved_from"] = pd.NaT
    out["months_held"] = 0
    out["concern_from"] = pd.NaT
    out["status"] = "no improvement"
    if not results:
        return out[list(GAINS_COLUMNS)]
    pts = pd.concat(results, ignore_index=True).sort_values(["change_id", "x"], ignore_index=True)

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
    concern = after["point_type"].astype(str).eq("special_cause_concern").to_numpy()
    after_concern = after["x"].where(concern)
    concern_from = after_concern.groupby(seg).min()
    last = after.groupby("change_id")["x"].max()

    out.loc[improved_from.index, "improved_from"] = improved_from.to_numpy()
    out["improved"] = out["improved_from"].notna()
    # concern counts only once the improvement has shown
    out.loc[concern_from.index, "concern_from"] = concern_from.to_numpy()
    late = (
        out["concern_from"].notna()
        & out["improved"]
        & (out["concern_from"] >= out["improved_from"])
    )
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


def review_status(
    owners: pd.DataFrame, actions: pd.DataFrame, *, today: dt.date | None = None
) -> pd.DataFrame:
    """Each owned team × measure with its last recorded review and whether the next is overdue.

    A review is any decision or action recorded on the measure (``actions.period``
    is the month reviewed). ``next_review`` is the last one plus the cadence (or, never
    reviewed, due now); ``overdue`` when that is before ``today``'s month.
    """
    today = today or dt.datetime.now(dt.UTC).date()
    last = actions.groupby(["team", "measure"])["period"].max().rename("last_review")
    out = owners.join(last, on=["team", "measure"])
    months = pd.to_numeric(out["review_every_months"]).astype(int)
    nxt = [
        (lr + pd.DateOffset(months=int(m))) if pd.notna(lr) else pd.NaT
        for lr, m in zip(out["last_review"], months, strict=True)
    ]
    out["next_review"] = pd.to_datetime(pd.Series(nxt, index=out.index))
    this_month = pd.Timestamp(today).to_period("M").to_timestamp()
    out["overdue"] = out["next_review"].isna() | (out["next_review"] < this_month)
    return out


def overdue_actions(actions: pd.DataFrame, *, today: dt.date | None = None) -> pd.DataFrame:
    """Actions not done whose due date has passed, with ``days_overdue``."""
    today = pd.Timestamp(today or dt.datetime.now(dt.UTC).date())
    late = actions[actions["done"].isna() & actions["due"].notna() & (actions["due"] < today)]
    return late.assign(days_overdue=(today - late["due"]).dt.days)
