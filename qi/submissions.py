"""Submissions: which team has submitted which month, what is late, what was corrected.

What the "Data completeness" page and the board pack's completeness table show
(not to be confused with :func:`qi.equality.recording_completeness`, the share of
records whose ethnic group is not stated).

A period's data for a team is *due* by a day of the month after the period ends
(default the 15th, a common collaborative deadline): a monthly measure's each month, a
quarterly measure's each financial quarter, an annual one's each financial year (the
measure's ``frequency``). For each team × period, :func:`submission_status` says whether
it arrived on time, late, or not at all (and whether it is overdue yet), and whether it
was corrected afterwards (more than one live version).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pandas as pd

from qi import periods as freq

STATUSES = ("on time", "late", "missing", "not due yet")
#: Columns of :func:`submission_status`.
STATUS_COLUMNS = (
    "team", "period", "due", "first_uploaded_at", "status", "days_late", "versions",
    "corrected", "measures", "frequency",
)  # fmt: skip


def submission_status(
    slices: pd.DataFrame,
    teams: list[str] | pd.Series,
    *,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    due_day: int = 15,
    today: dt.date | None = None,
    frequencies: Mapping[str, str] | pd.Series | None = None,
) -> pd.DataFrame:
    """One row per team × period from ``start`` to ``end``: months for monthly
    measures, and financial quarters and years for quarterly and annual ones.

    Parameters
    ----------
    slices : :meth:`qi.store.Store.upload_slices` (team, measure, period, upload_id,
        uploaded_at, rolled_back_at).
    teams : every team expected to submit.
    start, end : the months to report (default: the first month in the data to the
        month before ``today``).
    due_day : the day of the following month by which a month's data is due.
    today : for "overdue" and the default ``end`` (default: today, UTC).
    frequencies : each measure's frequency (measure id → ``month``, ``quarter`` or
        ``year``; default: every measure monthly). Every team in ``teams`` is expected
        each month when any measure is monthly; a quarterly or annual period is expected
        of the teams that have sent that frequency's data at least once.

    Returns
    -------
    DataFrame with :data:`STATUS_COLUMNS`: ``status`` is one of :data:`STATUSES`;
    ``first_uploaded_at`` is when the month's last measure first arrived;
    ``days_late`` is how many days after ``due`` that was (0 if on time, or, for a
    missing month, days overdue so far); ``versions`` is the most live uploads that
    held any one of its measures; ``corrected`` is True when that is more than one;
    ``measures`` counts the measures submitted; ``frequency`` is the period's.
    """
    today = today or dt.datetime.now(dt.UTC).date()
    live = slices[slices["rolled_back_at"].isna()]
    if frequencies is None:
        of = pd.Series("month", index=live.index, dtype=object)
        present = ["month"]
    else:
        of = live["measure"].map(dict(frequencies)).fillna("month")
        present = [f for f in freq.FREQUENCIES if f in set(dict(frequencies).values())]
        present = present or ["month"]
    parts = []
    for f in present:
        rows = live[of == f]
        expected = sorted(set(teams)) if f == "month" else sorted(set(teams) & set(rows["team"]))
        parts.append(_status(rows, expected, f, start=start, end=end, due_day=due_day, today=today))
    return pd.concat(parts, ignore_index=True)[list(STATUS_COLUMNS)]


def _status(live, teams, frequency, *, start, end, due_day, today) -> pd.DataFrame:
    """:func:`submission_status` for the measures of one frequency."""
    current = freq.start(today, frequency)
    first = freq.start(start, frequency) if start is not None else live["period"].min()
    last = (
        freq.start(end, frequency)
        if end is not None
        else current - pd.DateOffset(months=freq.MONTHS[frequency])
    )
    if pd.isna(first):
        first = last
    months = freq.period_range(first, last, frequency)
    grid = pd.MultiIndex.from_product([list(teams), months], names=["team", "period"])
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
    following = per["period"] + pd.DateOffset(months=freq.MONTHS[frequency])
    per["due"] = following + pd.Timedelta(days=due_day - 1)
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
    per["frequency"] = frequency
    return per


def status_grid(status: pd.DataFrame) -> pd.DataFrame:
    """Teams as rows, periods as columns (months ``YYYY-MM``, then financial quarters
    ``2024/25 Q1`` and years ``2024/25`` if any measure has them), each cell the status
    in words (with "corrected" added), for a table a facilitator scans."""
    label = status["status"].where(~status["corrected"], status["status"] + ", corrected")
    frequency = status["frequency"] if "frequency" in status else pd.Series("month", status.index)
    written = pd.Series("", index=status.index, dtype=object)
    for f in frequency.unique():
        written[frequency == f] = freq.labels(status.loc[frequency == f, "period"], f)
    table = status.assign(month=written, label=label)
    grid = table.pivot(index="team", columns="month", values="label")
    order = (
        table.assign(rank=frequency.map(freq.FREQUENCIES.index))
        .sort_values(["rank", "period"])["month"]
        .drop_duplicates()
    )
    return grid[list(order)]
