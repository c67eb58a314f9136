"""The Board pack page's preview: what the pack's summary matrix will hold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pandas as pd

from qi.board import matrix
from qi.series import ALL, month_start
from qi.snapshot import Snapshot


def pack_preview(
    snapshot: Snapshot, *, teams: Sequence[str], measures: Sequence[str], month
) -> pd.DataFrame:
    """The board matrix (group ``All``) of ``teams`` × ``measures`` up to ``month``: one
    row per series, with the matrix's columns and

    ``charted``
        True for a series the pack holds (a chart page and a row of its summary
        matrix); False where there is nothing to chart yet (a rare event that has not
        happened), which the pack leaves out.
    """
    obs = snapshot.observations
    obs = obs[
        (obs["period"] <= month_start(month))
        & obs["team"].isin(list(teams))
        & obs["measure"].isin(list(measures))
    ]
    table = matrix(snapshot.series(obs))
    table = table[table["group"] == ALL].copy()
    # the matrix's sparkline holds the points its chart would draw
    table["charted"] = table["sparkline"].map(len).gt(0)
    return table


def narrowed(snapshot: Snapshot, *, teams=None, measures=None, until=None) -> Snapshot:
    """``snapshot`` with only the observations of ``teams``, ``measures`` and months up to
    ``until`` (each None: all)."""
    obs = snapshot.observations
    if teams is not None:
        obs = obs[obs["team"].isin(list(teams))]
    if measures is not None:
        obs = obs[obs["measure"].isin(list(measures))]
    if until is not None:
        obs = obs[obs["period"] <= month_start(until)]
    return replace(snapshot, observations=obs)
