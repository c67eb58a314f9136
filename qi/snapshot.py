"""What a person may read of a collaborative's store at one instant, as plain frames.

Every screen (:mod:`qi.screens`), the board pack and a notebook start from a
:class:`Snapshot`: the store's tables read once, as one person may read them, "as of"
an instant (by default the moment of reading), so a pack can be rebuilt later from
the same data and a page never mixes two moments.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from qi.measures import Measure
from qi.series import (
    ALL,
    LEVELS,
    NOT_EXPECTED_COLUMNS,
    latest_complete_month,
    rare_measures,
    series_frame,
)

#: Columns of :attr:`Snapshot.phases`.
PHASES = ["id", "team", "measure", "group", "start", "change_idea", "change_idea_id", "cycle",
          "reason", "created_at", "created_by", "withdrawn_at", "withdrawn_by"]  # fmt: skip
#: Columns of :attr:`Snapshot.reviews`.
REVIEWS = ["team", "measure", "reviewed_on", "note", "created_at", "created_by"]
#: Columns of :attr:`Snapshot.change_package`.
PACKAGE = ["tag", "change", "primary_driver", "secondary_driver", "description", "position"]


@dataclass(frozen=True)
class Snapshot:
    """The store's tables as they were at ``as_of``, for the person who read them.

    Attributes
    ----------
    observations : the observations shown (:meth:`qi.store.Store.observations`).
    measures : the catalogue (:meth:`qi.store.Store.measures`).
    teams : collaborative, ics, trust and team of every registered team.
    pdsa, actions, annotations : change ideas and PDSA cycles, decisions and actions,
        notes on points — those recorded by ``as_of``.
    owners : each team × measure's owner, sponsor, review cadence and ``since``.
    reviews : the reviews of owned measures recorded by ``as_of``.
    not_expected : reporting gaps: teams not expected to report a measure for a while
        (:data:`qi.series.NOT_EXPECTED_COLUMNS`).
    upload_slices : every upload's team × measure × month, with ``uploaded_at`` and
        ``rolled_back_at`` as they were at ``as_of`` (later uploads left out, later
        rollbacks not yet made).
    as_of : the instant read (UTC).
    phases : the phases recorded from logged changes and not withdrawn by ``as_of``
        (:meth:`qi.store.Store.recorded_phases`; :mod:`qi.phasing`).
    """

    observations: pd.DataFrame
    measures: pd.DataFrame
    teams: pd.DataFrame
    pdsa: pd.DataFrame
    actions: pd.DataFrame
    annotations: pd.DataFrame
    owners: pd.DataFrame
    upload_slices: pd.DataFrame
    as_of: pd.Timestamp
    reviews: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REVIEWS))
    not_expected: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(NOT_EXPECTED_COLUMNS))
    )
    phases: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(PHASES)))
    #: the collaborative's change package (:meth:`qi.store.Store.change_package`), as it is
    change_package: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PACKAGE))

    @classmethod
    def from_store(
        cls,
        store,
        *,
        as_of=None,
        teams: Iterable[str] | None = None,
        measures: Iterable[str] | None = None,
    ) -> Snapshot:
        """Read ``store`` (a :class:`qi.store.Store`, acting for whoever it is bound to)
        as it was at ``as_of`` (a UTC instant), or as it is now (None), optionally only
        some teams' and measures' observations and change cycles."""
        instant = utc_instant(as_of)
        # without an instant, what is shown now: the store's current rows, unfiltered
        naive = None if as_of is None else instant.tz_localize(None)
        at = None if as_of is None else instant.to_pydatetime()
        teams = None if teams is None else list(teams)
        measures = None if measures is None else list(measures)
        return cls(
            observations=store.observations(as_of=at, teams=teams, measures=measures),
            measures=store.measures(),
            teams=store.teams(),
            pdsa=_recorded_by(store.pdsa(teams=teams, measures=measures), "created_at", naive),
            actions=_recorded_by(store.actions(), "created_at", naive),
            annotations=_recorded_by(store.annotations(), "created_at", naive),
            owners=store.owners(),
            upload_slices=_slices_at(store.upload_slices(), naive),
            as_of=instant,
            reviews=_recorded_by(store.reviews(), "created_at", naive),
            not_expected=_recorded_by(store.not_expected(), "created_at", naive),
            phases=store.recorded_phases(teams=teams, as_of=naive),
            change_package=store.change_package(),
        )

    # ------------------------------------------------------------------ choices
    def measure(self, measure_id: str) -> Measure:
        """The catalogue's measure ``measure_id``."""
        return Measure.from_catalogue(self.measures, measure_id)

    def units(self, level: str = "team") -> list[str]:
        """The teams, trusts, systems or collaboratives with data, sorted."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
        return sorted(self.observations[level].unique())

    def measure_ids(self, level: str | None = None, unit: str | None = None) -> list[str]:
        """Measures with data (at ``unit`` of ``level`` when given), in catalogue order."""
        obs = self.observations
        if level is not None and unit is not None:
            obs = obs[obs[level] == unit]
        present = set(obs["measure"])
        return [m for m in self.measures["id"] if m in present]

    def groups(self, level: str, unit: str, measure: str) -> list[str]:
        """The broad groups with data on ``measure`` at ``unit`` (``All`` aside), sorted."""
        obs = self.observations
        here = obs[(obs[level] == unit) & (obs["measure"] == measure)]
        return sorted(g for g in here["broad_group"].unique() if g != ALL)

    def months(self) -> list[pd.Timestamp]:
        """Every month with data, oldest first."""
        return sorted(pd.Timestamp(p) for p in self.observations["period"].unique())

    @cached_property
    def rare(self) -> frozenset[str]:
        """The measures of rare events (:func:`qi.series.rare_measures`), charted as the
        exposure between events."""
        return frozenset(rare_measures(self.observations))

    def series(self, observations: pd.DataFrame | None = None, **kwargs) -> pd.DataFrame:
        """:func:`qi.series.series_frame` of ``observations`` (default: all of them) with
        this snapshot's catalogue, reporting gaps and rare-event measures."""
        obs = self.observations if observations is None else observations
        return series_frame(
            obs, self.measures, not_expected=self.not_expected, rare=self.rare, **kwargs
        )

    def latest_complete_month(self) -> pd.Timestamp | None:
        """The latest month every team expected has sent, for every measure."""
        return self._latest_complete

    @cached_property
    def _latest_complete(self) -> pd.Timestamp | None:
        # read once per snapshot (a snapshot never changes)
        return latest_complete_month(self.observations, not_expected=self.not_expected)

    def provisional_months(self) -> dict[pd.Timestamp, str]:
        """Months after :meth:`latest_complete_month` with data, each with how many of the
        teams expected (those that had started reporting, less those with a reporting
        gap for every measure) have sent it: ``"1 of 8 teams"``."""
        last = self.latest_complete_month()
        obs = self.observations
        later = sorted(obs.loc[obs["period"] > last, "period"].unique()) if last else []
        if not later:
            return {}
        first = obs.groupby("team")["period"].min()
        gaps = self.not_expected
        if len(gaps):
            gaps = gaps[gaps["measure"].isna() | gaps["measure"].eq("")]
        out = {}
        for month in map(pd.Timestamp, later):
            sent = set(obs.loc[obs["period"] == month, "team"])
            expected = set(first.index[first <= month])
            for g in gaps.itertuples(index=False) if len(gaps) else ():
                if g.start <= month and (pd.isna(g.end) or month <= g.end):
                    expected.discard(g.team)
            out[month] = f"{len(sent)} of {len(expected | sent)} teams"
        return out

    def team_names(self) -> list[str]:
        """Every registered team the reader may see, sorted."""
        return sorted(self.teams["team"])

    def collaborative(self) -> str:
        """The collaborative's name (names, if the data holds several)."""
        return ", ".join(sorted(self.observations["collaborative"].unique()))


def utc_instant(as_of=None) -> pd.Timestamp:
    """``as_of`` as a UTC Timestamp (a naive one is read as UTC); now when None."""
    if as_of is None:
        return pd.Timestamp.now(tz="UTC").floor("s")
    t = pd.Timestamp(as_of)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _naive_utc(values: pd.Series) -> pd.Series:
    when = pd.to_datetime(values)
    return when.dt.tz_convert("UTC").dt.tz_localize(None) if when.dt.tz is not None else when


def _recorded_by(frame: pd.DataFrame, col: str, instant: pd.Timestamp | None) -> pd.DataFrame:
    """Rows recorded by ``instant`` (all of them when it is None; tables without a record
    time are kept whole)."""
    if instant is None or col not in frame or frame.empty:
        return frame
    when = _naive_utc(frame[col])
    return frame[when.isna() | (when <= instant)]


def _slices_at(slices: pd.DataFrame, instant: pd.Timestamp | None) -> pd.DataFrame:
    """Upload slices as they were at ``instant`` (None: now): later uploads left out,
    rollbacks made after it not yet made."""
    if instant is None or slices.empty:
        return slices
    uploaded = _naive_utc(slices["uploaded_at"])
    rolled = _naive_utc(slices["rolled_back_at"])
    kept = (uploaded <= instant).to_numpy()
    return slices[kept].assign(rolled_back_at=rolled.where(rolled <= instant)[kept])
