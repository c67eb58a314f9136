"""The board: every unit × measure × group at a glance, with what accountability adds.

:func:`board` computes the whole board at a level once (the expensive part: every
series through the Making Data Count rules); :meth:`BoardView.select` filters it for
the page as the reader chooses, without computing anything again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from qi.accountability import board_columns
from qi.board import matrix
from qi.series import LEVELS, series_frame
from qi.snapshot import Snapshot

#: What accountability adds to a team's row.
ACCOUNTABILITY_COLUMNS = ("owner", "sponsor", "review_overdue", "actions_overdue", "gains")


@dataclass(frozen=True)
class BoardSelection:
    """The rows a reader chose (see :meth:`BoardView.select`).

    Attributes
    ----------
    rows : the matrix rows (:data:`qi.board.MATRIX_COLUMNS`) and
        :data:`ACCOUNTABILITY_COLUMNS`.
    teams : the teams behind the rows (for the small-numbers permission).
    improving, concerning : rows whose latest point is a special cause of improvement
        or of concern.
    actions_overdue : overdue actions on the board.
    """

    rows: pd.DataFrame
    teams: tuple[str, ...]
    improving: int
    concerning: int
    actions_overdue: int


@dataclass(frozen=True)
class BoardView:
    """Every series of a level (see :func:`board`).

    Attributes
    ----------
    level : ``team``, ``trust``, ``ics`` or ``collaborative``.
    rows : one row per unit × measure × group: the matrix, and at team level the
        owner, sponsor, review and actions overdue, and the holding-the-gains status
        of the latest change (``gains``).
    owned : each owned team × measure with its review status and overdue actions.
    teams : the registered teams (collaborative, ics, trust, team).
    """

    level: str
    rows: pd.DataFrame
    owned: pd.DataFrame
    teams: pd.DataFrame

    @property
    def groups(self) -> list[str]:
        """The groups on the board, ``All`` first."""
        return sorted(self.rows["group"].unique(), key=lambda g: (g != "All", g))

    @property
    def measure_names(self) -> dict[str, str]:
        """Measure id → name, for the measures on the board."""
        return dict(zip(self.rows["measure"], self.rows["measure_name"], strict=False))

    @property
    def trusts(self) -> list[str]:
        return sorted(self.teams["trust"].unique())

    def select(
        self,
        *,
        group: str = "All",
        trusts: Sequence[str] = (),
        measures: Sequence[str] = (),
        at_risk_only: bool = False,
    ) -> BoardSelection:
        """The rows of one group, in the chosen trusts (team level) and measures; with
        ``at_risk_only``, only the rows whose latest change is an improvement at risk."""
        shown = self.rows[self.rows["group"] == group]
        if at_risk_only and self.level == "team":
            shown = shown[shown["gains"] == "at risk"]
        if trusts and self.level == "team":
            in_trust = set(self.teams.loc[self.teams["trust"].isin(list(trusts)), "team"])
            shown = shown[shown["unit"].isin(in_trust)]
        if measures:
            shown = shown[shown["measure"].isin(list(measures))]
        shown = shown.reset_index(drop=True)
        if self.level == "team":
            teams = shown["unit"].unique()
        else:
            teams = self.teams.loc[self.teams[self.level].isin(shown["unit"]), "team"].unique()
        return BoardSelection(
            rows=shown,
            teams=tuple(sorted(teams)),
            improving=int((shown["variation"] == "special_cause_improvement").sum()),
            concerning=int((shown["variation"] == "special_cause_concern").sum()),
            actions_overdue=int(self.owned["actions_overdue"].sum()),
        )


def board(snapshot: Snapshot, *, level: str = "team", today: dt.date | None = None) -> BoardView:
    """Every unit × measure × group of ``level`` with its latest value and Making Data
    Count icons (:func:`qi.board.matrix`); at team level, with owners, reviews, overdue
    actions and holding-the-gains status (:func:`qi.accountability.board_columns`)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    today = today or snapshot.as_of.date()
    team_series = series_frame(snapshot.observations, snapshot.measures)
    level_series = (
        team_series
        if level == "team"
        else series_frame(snapshot.observations, snapshot.measures, level=level)
    )
    rows = matrix(level_series)
    owned, gains = board_columns(
        team_series, snapshot.pdsa, snapshot.owners, snapshot.actions, today=today
    )
    if level == "team":
        rows = rows.merge(
            owned[["team", "measure", "owner", "sponsor", "review_overdue", "actions_overdue"]],
            left_on=["unit", "measure"], right_on=["team", "measure"], how="left",
        ).drop(columns="team")  # fmt: skip
        rows = rows.merge(
            gains, left_on=["unit", "measure", "group"], right_on=["team", "measure", "group"],
            how="left",
        ).drop(columns="team")  # fmt: skip
    else:
        rows = rows.assign(**{col: None for col in ACCOUNTABILITY_COLUMNS})
    return BoardView(level=level, rows=rows, owned=owned, teams=snapshot.teams)
