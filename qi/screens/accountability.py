"""Accountability: whether gains hold after each change, owners and reviews, decisions
and actions (the Accountability page)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from qi.accountability import changes_from, holding_gains, overdue_actions, review_status
from qi.snapshot import Snapshot


@dataclass(frozen=True)
class AccountabilityView:
    """See :func:`accountability`.

    Attributes
    ----------
    gains : the holding-the-gains status of every change (:func:`holding_gains`).
    co_designed : the share of change ideas co-designed with people with lived
        experience (None without change ideas).
    reviews : each owned team × measure's last review and whether the next is overdue.
    actions : every decision and action; ``overdue`` those past their due date.
    """

    gains: pd.DataFrame
    co_designed: float | None
    reviews: pd.DataFrame
    actions: pd.DataFrame
    overdue: pd.DataFrame

    def at_risk(self) -> pd.DataFrame:
        """The changes whose improvement is at risk."""
        return self.gains[self.gains["status"] == "at risk"]

    @property
    def open_actions(self) -> pd.DataFrame:
        return self.actions[self.actions["done"].isna()]


def accountability(snapshot: Snapshot, *, today: dt.date | None = None) -> AccountabilityView:
    """Holding the gains, reviews and actions of what ``snapshot`` holds, on ``today``
    (default the snapshot's instant)."""
    today = today or snapshot.as_of.date()
    series = snapshot.series()
    cycles = snapshot.pdsa
    ideas = cycles.drop_duplicates("change_idea_id")
    share = float((ideas["lived_experience"] == "co-designed").mean()) if len(ideas) else None
    return AccountabilityView(
        gains=holding_gains(series, changes_from(cycles)),
        co_designed=share,
        reviews=review_status(snapshot.owners, snapshot.reviews, today=today),
        actions=snapshot.actions,
        overdue=overdue_actions(snapshot.actions, today=today),
    )
