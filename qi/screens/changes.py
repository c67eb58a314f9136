"""The Change log page: change ideas and PDSA cycles, and how people with lived
experience were involved in them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from qi.snapshot import Snapshot
from qi.store.changelog import LIVED_EXPERIENCE


@dataclass(frozen=True)
class ChangeLog:
    """See :func:`change_log`.

    Attributes
    ----------
    cycles : the PDSA cycles of the teams chosen.
    involvement : share of their change ideas by involvement of people with lived
        experience (one entry per :data:`LIVED_EXPERIENCE`), empty without change ideas.
    """

    cycles: pd.DataFrame
    involvement: pd.Series


def change_log(snapshot: Snapshot, *, teams: Sequence[str] = ()) -> ChangeLog:
    """The change ideas and PDSA cycles of ``teams`` (all when empty)."""
    cycles = snapshot.pdsa
    if teams:
        cycles = cycles[cycles["team"].isin(list(teams))]
    ideas = cycles.drop_duplicates("change_idea_id")
    share = (
        ideas["lived_experience"].value_counts(normalize=True).reindex(LIVED_EXPERIENCE).fillna(0)
        if len(ideas)
        else pd.Series(dtype=float)
    )
    return ChangeLog(cycles=cycles, involvement=share)
