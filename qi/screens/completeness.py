"""Data completeness: which team has sent which month, what is late, missing or corrected.

:func:`completeness` serves the Data completeness page and the board pack's
completeness page, from the upload history of a :class:`qi.snapshot.Snapshot`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from qi.snapshot import Snapshot
from qi.submissions import STATUSES, status_grid, submission_status


@dataclass(frozen=True)
class CompletenessView:
    """Each team × month's submission (see :func:`completeness`).

    Attributes
    ----------
    status : :func:`qi.submissions.submission_status` (one row per team × period: each
        month, and each financial quarter or year of quarterly or annual measures).
    teams : the teams reported, in order.
    due_day : the day of the month after a period by which it is due.
    first, last : the months reported (the periods, without monthly measures).
    """

    status: pd.DataFrame
    teams: tuple[str, ...]
    due_day: int
    first: pd.Timestamp
    last: pd.Timestamp

    @property
    def totals(self) -> dict[str, int]:
        """Team-months on time, late, missing, not due yet, and corrected."""
        counts = self.status["status"].value_counts()
        out = {s: int(counts.get(s, 0)) for s in (*STATUSES, NOT_EXPECTED)}
        out["corrected"] = int(self.status["corrected"].sum())
        return out

    def grid(self) -> pd.DataFrame:
        """Teams as rows, months as columns (newest first, "Nov 2026"), then the financial
        quarters ("2024/25 Q1") and years ("2024/25") of quarterly and annual measures,
        newest first too; each cell the status in words."""
        grid = status_grid(self.status)
        months = [c for c in grid.columns if len(c) == 7 and c[4] == "-"]  # 2026-11
        quarters = [c for c in grid.columns if " Q" in c]
        years = [c for c in grid.columns if c not in months and c not in quarters]
        grid = grid[months[::-1] + quarters[::-1] + years[::-1]]
        grid.columns = [f"{pd.Timestamp(c):%b %Y}" for c in months[::-1]] + quarters[::-1] + (
            years[::-1]
        )
        return grid

    def grid_styled(self):
        """:meth:`grid` coloured by status (a pandas Styler): the colour repeats what the
        words say, for a facilitator scanning for gaps."""
        return self.grid().style.map(_status_colour)

    def exceptions(self) -> pd.DataFrame:
        """The late, missing and corrected team-months, newest first."""
        s = self.status
        return s[(s["status"] != "on time") | s["corrected"]].sort_values(
            ["period", "team"], ascending=[False, True]
        )

    def by_team(self) -> pd.DataFrame:
        """Per team: months on time, late, missing, not due yet and corrected, and the
        last month's status (``last``)."""
        s = self.status
        teams = list(self.teams)
        counts = (
            s.pivot_table(index="team", columns="status", values="period", aggfunc="count")
            .reindex(index=teams, columns=[*STATUSES, NOT_EXPECTED])
            .fillna(0)
            .astype(int)
        )
        counts["corrected"] = s.groupby("team")["corrected"].sum().reindex(teams).fillna(0)
        counts["last"] = s[s["period"] == self.last].set_index("team")["status"].reindex(teams)
        return counts


#: Cell colours of the grid: background and text, each pair at least 4.5:1 in contrast.
STATUS_COLOURS = {
    "on time": ("#CDEBD2", "#0B3D17"),
    "late": ("#FCE3B0", "#4D3300"),
    "missing": ("#F6C6C2", "#5C0E07"),
    "not due yet": ("#E8EDEE", "#212B32"),
    "not expected": ("#E8EDEE", "#212B32"),
}


def _status_colour(label) -> str:
    status = str(label).split(",")[0]
    if status not in STATUS_COLOURS:
        return ""
    background, text = STATUS_COLOURS[status]
    return f"background-color: {background}; color: {text}"


#: The status of a month a team was not expected to send (a reporting gap).
NOT_EXPECTED = "not expected"


def _not_expected(status: pd.DataFrame, gaps: pd.DataFrame) -> pd.DataFrame:
    """Missing (or not yet due) team-months inside a reporting gap for every measure are
    "not expected", not late."""
    every = gaps[gaps["measure"].isna() | gaps["measure"].eq("")] if len(gaps) else gaps
    if every.empty or status.empty:
        return status
    hit = status.reset_index().merge(every[["team", "start", "end"]], on="team")
    inside = (hit["period"] >= pd.to_datetime(hit["start"])) & (
        hit["end"].isna() | (hit["period"] <= pd.to_datetime(hit["end"]))
    )
    rows = hit.loc[inside & hit["status"].isin(["missing", "not due yet"]), "index"].unique()
    out = status.copy()
    out.loc[rows, "status"] = NOT_EXPECTED
    out.loc[rows, "days_late"] = 0
    return out


def completeness(
    snapshot: Snapshot,
    *,
    teams: Sequence[str] | None = None,
    measures: Sequence[str] | None = None,
    start=None,
    end=None,
    due_day: int = 15,
    today=None,
) -> CompletenessView:
    """Which of ``teams`` (default: every registered team) sent which month of
    ``measures`` (default: all), from ``start`` to ``end`` (default: the first month in
    the data to last month), judged on ``today`` (default: the snapshot's instant)."""
    slices = snapshot.upload_slices
    catalogue = snapshot.measures
    frequencies = (
        dict(zip(catalogue["id"], catalogue["frequency"], strict=True))
        if "frequency" in catalogue
        else None
    )
    if frequencies is not None and measures is not None:
        frequencies = {m: f for m, f in frequencies.items() if m in set(measures)}
    team_list = list(teams) if teams is not None else list(snapshot.teams["team"])
    if teams is not None:
        slices = slices[slices["team"].isin(team_list)]
    if measures is not None:
        slices = slices[slices["measure"].isin(list(measures))]
    today = today or snapshot.as_of.date()
    status = submission_status(
        slices, team_list, start=start, end=end, due_day=due_day, today=today,
        frequencies=frequencies,
    )  # fmt: skip
    status = _not_expected(status, snapshot.not_expected)
    months = status[status["frequency"] == "month"]
    span = months if len(months) else status
    return CompletenessView(
        status=status, teams=tuple(dict.fromkeys(team_list)), due_day=due_day,
        first=span["period"].min(), last=span["period"].max(),
    )  # fmt: skip
