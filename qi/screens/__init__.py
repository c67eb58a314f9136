"""What each screen shows, computed from a :class:`qi.snapshot.Snapshot`: one function per
screen, returning plain frames or a small frozen bundle.

The dashboard's pages, the board pack, the data downloads and a notebook all call these,
so a chart, a board row or an equality panel is computed in one place and looks the same
everywhere. No Streamlit here: a page is its widgets, one cached call of a function
below, and what it draws.

========================  ==========================================================
screen                    function
========================  ==========================================================
Board                     :func:`board` → :class:`BoardView` (``.select(...)``)
Team charts               :func:`team_chart` → :class:`TeamChart`
Equality                  :func:`equality_view`; the pack's :func:`equality_month`;
                          the teams' funnel :func:`team_funnel`
Accountability            :func:`accountability` → :class:`AccountabilityView`
Board pack (preview)      :func:`pack_preview`, :func:`narrowed`
Upload (preview)          :func:`upload_preview`, :func:`stored_rows`, :func:`replacement_preview`
Change log                :func:`change_log` → :class:`ChangeLog`
Learning                  :func:`learning_view` → :class:`LearningView`
Data completeness         :func:`completeness` → :class:`CompletenessView`
Workshop (what if?)       :func:`what_if` → :class:`WhatIf`
========================  ==========================================================

Example (a notebook)::

    from qi.snapshot import Snapshot
    from qi.store import Store
    from qi import screens

    snap = Snapshot.from_store(Store.open())
    chart = screens.team_chart(snap, unit="Willow Ward", measure="restraint_per_1000_obd")
    chart.icons          # each group's latest point, variation and assurance
    chart.figure()       # the plotly chart the dashboard draws
"""

from qi.screens.accountability import AccountabilityView, accountability
from qi.screens.board import BoardSelection, BoardView, board
from qi.screens.changes import ChangeLog, change_log
from qi.screens.completeness import CompletenessView, completeness
from qi.screens.learning import LearningView, learning_view
from qi.screens.pack import narrowed, pack_preview
from qi.screens.team import (
    CHANGES,
    SharedReads,
    TeamChart,
    change_groups,
    team_chart,
    with_facts,
)
from qi.screens.upload import replacement_preview, stored_rows, upload_preview
from qi.screens.whatif import WhatIf, what_if

#: The equality screens' names, imported when first used (PEP 562): they need scipy's
#: statistics (about a second to import), which no other screen does, so the Board
#: never waits for them.
_EQUALITY = (
    "EqualityMonth", "EqualityView", "FunnelView", "equality_month", "equality_view",
    "group_gaps", "reference_group", "team_funnel",
)  # fmt: skip


def __getattr__(name: str):
    if name not in _EQUALITY:
        raise AttributeError(f"module 'qi.screens' has no attribute {name!r}")
    from qi.screens import equality

    value = getattr(equality, name)
    globals()[name] = value
    return value


__all__ = [
    "CHANGES", "AccountabilityView", "BoardSelection", "BoardView", "ChangeLog",
    "CompletenessView", "EqualityMonth", "EqualityView", "FunnelView", "LearningView",
    "SharedReads", "TeamChart", "WhatIf",
    "accountability", "board", "change_groups", "change_log", "completeness", "equality_month",
    "equality_view", "group_gaps", "learning_view", "narrowed", "pack_preview", "reference_group",
    "replacement_preview", "stored_rows", "team_chart", "team_funnel", "upload_preview", "what_if",
    "with_facts",
]  # fmt: skip
