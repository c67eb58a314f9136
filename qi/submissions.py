"""Submissions: which team has submitted which month, what is late, what was corrected.

What the "Data completeness" page and the board pack's completeness table show
(not to be confused with :func:`qi.equality.recording_completeness`, the share of
records whose ethnic group is not stated).

A month's data for a team is *due* by a day of the following month (default the
15th, a common collaborative deadline). For each team × month,
:func:`submission_status` says whether it arrived on time, late, or not at all (and
whether it is overdue yet), and whether it was corrected afterwards (more than one
live version).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

STATUSES = ("on time", "late", "missing", "not due yet")
#: Columns of :func:`submission_status`.
STATUS_COLUMNS = (
    "team", "period", "due", "first_uploaded_at", "status", "days_late", "versions",
    "corrected", "measures",
)  # fmt: skip


def submission_status(
    slices: pd.DataFrame,
    teams: list[str] | pd.Series,
    *,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    due_day: int = 15,
    today: dt.date | None = None,
) -> pd.DataFrame:
    """One row per team × month from ``start`` to ``end``.

    Parameters
    ----------
    slices : :meth:`qi.store.Store.upload_slices` (team, measure, period, upload_id,
        uploaded_at, rolled_back_at).
    teams : every team expected to submit.
    start, end : the months to report (default: the first month in the data to the
        month before ``today``).
    due_day : the day of the following month by which a month's data is due.
    today : for "overdue" and the default ``end`` (default: today, UTC).

    Returns
    -------
    DataFrame with :data:`STATUS_COLUMNS`: ``status`` is one of :data:`STATUSES`;
    ``first_uploaded_at`` is when the month's last measure first arrived;
    ``days_late`` is how many days after ``due`` that was (0 if on time, or, for a
    missing month, days overdue so far); ``versions`` is the most live uploads that
    held any one of its measures; ``corrected`` is True when that is more than one;
    ``measures`` counts the measures submitted.
    """
    today = today or dt.datetime.now(dt.UTC).date()
    live = slices[slices["rolled_back_at"].isna()]
    this_month = pd.Timestamp(today).to_period("M").to_timestamp()
    first = pd.Timestamp(start) if start is not None else live["period"].min()
    last = pd.Timestamp(end) if end is not None else this_month - pd.offsets.MonthBegin(1)
    if pd.isna(first):
        first = last
    months = pd.date_range(first, last, freq="MS")
    grid = pd.MultiIndex.from_product([sorted(set(teams)), months], names=["team", "period"])
    # per measure first: a month sent as one file per measure is not a correction, and
    # it has arrived when its last measure first arrived
    per_measure = live.groupby(["team", "measure", "period"]).agg(
        first_uploaded_at=("uploaded_at", "min"), versions=("upload_id", "nunique")
    )
    per = (
        per_measure.groupby(["team", "period"])
        .agg(
            first_uploaded_at=("first_uploaded_at", "max"),
            versions=("versions", "max"),
            measures=("versions", "size"),
        )
        .reindex(grid)
        .reset_index()
    )
    per["due"] = per["period"] + pd.offsets.MonthBegin(1) + pd.Timedelta(days=due_day - 1)
    end_of_due = per["due"] + pd.Timedelta(days=1)
    arrived = per["first_uploaded_at"].notna()
    on_time = arrived & (per["first_uploaded_at"] < end_of_due)
    overdue = pd.Timestamp(today) >= end_of_due
    per["status"] = "missing"
    per.loc[~arrived & ~overdue, "status"] = "not due yet"
    per.loc[arrived, "status"] = "late"
    per.loc[on_time, "status"] = "on time"
    late_by = (per["first_uploaded_at"].dt.normalize() - per["due"]).dt.days
    missing_by = (pd.Timestamp(today) - per["due"]).dt.days
    per["days_late"] = late_by.where(arrived, missing_by.where(overdue, 0)).clip(lower=0)
    per["days_late"] = per["days_late"].fillna(0).astype(int)
    per["versions"] = per["versions"].fillna(0).astype(int)
    per["measures"] = per["measures"].fillna(0).astype(int)
    per["corrected"] = per["versions"] > 1
    return per[list(STATUS_COLUMNS)]


def status_grid(status: pd.DataFrame) -> pd.DataFrame:
    """Teams as rows, months (``YYYY-MM``) as columns, each cell the status in words
    (with "corrected" added), for a table a facilitator scans."""
    label = status["status"].where(~status["corrected"], status["status"] + ", corrected")
    table = status.assign(month=status["period"].dt.strftime("%Y-%m"), label=label)
    return table.pivot(index="team", columns="month", values="label")
