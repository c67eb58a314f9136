"""The Learning page: the change package as a driver diagram, and for each change the
teams that tested it, for whom, and what followed (:mod:`qi.learning`), with a link to
each chart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import pandas as pd

from qi.learning import OUTCOMES, by_change, driver_diagram, learning_of
from qi.snapshot import Snapshot
from qi.words import Column, table

#: The learning table in words (the page and its download).
LEARNING_WORDS = [
    Column("change", "Change"),
    Column("team", "Team"),
    Column("group", "Group"),
    Column("outcome", "What followed"),
    Column("measure_name", "Measure"),
    Column("cycles", "Cycles", "count"),
    Column("first_start", "First cycle", "month"),
    Column("improved_from", "Improved from", "month"),
    Column("concern_from", "At risk from", "month"),
    Column("months_before", "Months before", "count"),
    Column("months_after", "Months after", "count"),
    Column("tag", "Tag"),
    Column("change_ideas", "Change ideas (as the team named them)"),
    Column("primary_driver", "Primary driver"),
    Column("secondary_driver", "Secondary driver"),
]
#: The roll-up per change in words.
CHANGE_WORDS = [
    Column("change", "Change"),
    Column("teams", "Teams", "count"),
    Column("tested_at", "Tested at"),
    Column("outcomes", "What followed"),
    Column("groups", "Groups"),
    Column("cycles", "Cycles", "count"),
    Column("tag", "Tag"),
    Column("primary_driver", "Primary driver"),
    Column("secondary_driver", "Secondary driver"),
]
#: The page the links open (the Team charts page's address).
CHART_PAGE = "team"


@dataclass(frozen=True)
class LearningView:
    """See :func:`learning_view`.

    Attributes
    ----------
    table : one row per change × team × measure × group tested (:func:`qi.learning.learning`),
        with ``measure_name``; only the tags and outcomes chosen.
    changes : one row per change of the package (:func:`qi.learning.by_change`), untested
        ones too.
    diagram : the package as a driver diagram (:func:`qi.learning.driver_diagram`).
    """

    table: pd.DataFrame
    changes: pd.DataFrame
    diagram: pd.DataFrame

    def chart_query(self, row: int) -> dict[str, str | list[str]]:
        """The Team charts page's query for ``table`` row ``row``: its team, measure and
        group, Making Data Count rules, and the chart's phases (every change's first
        month on that series, as the board's drill-down gives them)."""
        rec = self.table.iloc[row]
        return {
            "level": "team", "unit": rec["team"], "measure": rec["measure"],
            "group": rec["group"], "rules": "mdc", "phase": list(rec["phases"]),
        }  # fmt: skip

    def chart_address(self, row: int) -> str:
        """The chart's address, relative to the dashboard (``team?level=team&unit=…``)."""
        return f"{CHART_PAGE}?{urlencode(self.chart_query(row), doseq=True)}"

    def link_label(self, row: int) -> str:
        """Words for the link to row ``row``'s chart (plain text; the page shows it as typed)."""
        rec = self.table.iloc[row]
        return (
            f"{rec['team']}, {rec['group']}, {rec['measure_name']}: {rec['outcome']} "
            f"(change: {rec['tag']})"
        )

    def words(self) -> pd.DataFrame:
        """The learning table as shown: in words, every cell text."""
        return table(self.table, LEARNING_WORDS)

    def download(self) -> pd.DataFrame:
        """The learning table to download: in words, with each chart's address."""
        out = self.words()
        out["Chart (address in the dashboard)"] = [
            self.chart_address(i) for i in range(len(self.table))
        ]
        return out

    def changes_words(self) -> pd.DataFrame:
        return table(self.changes, CHANGE_WORDS)

    def outcome_counts(self) -> dict[str, int]:
        """How many rows of ``table`` have each outcome (every outcome, 0 when none)."""
        counts = self.table["outcome"].value_counts()
        return {o: int(counts.get(o, 0)) for o in OUTCOMES}


def learning_view(
    snapshot: Snapshot, *, tags: Sequence[str] = (), outcomes: Sequence[str] = ()
) -> LearningView:
    """What the collaborative learned from ``snapshot``: the learning table (only
    ``tags`` and ``outcomes`` when given), the roll-up per change and the driver
    diagram."""
    package = snapshot.change_package
    full = learning_of(snapshot)
    names = dict(zip(snapshot.measures["id"], snapshot.measures["name"], strict=True))
    full = full.assign(measure_name=full["measure"].map(names).fillna(full["measure"]))
    shown = full
    if tags:
        shown = shown[shown["tag"].isin(list(tags))]
    if outcomes:
        shown = shown[shown["outcome"].isin(list(outcomes))]
    return LearningView(
        table=shown.reset_index(drop=True),
        changes=by_change(full, package),
        diagram=driver_diagram(package),
    )
