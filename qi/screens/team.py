"""The team chart: one measure's run or control chart at a unit, one panel or line per
group, with the team's change cycles, notes and actions on it.

The Team charts page, the board pack's chart pages and the chart's data download all
come from :func:`team_chart`, so they always show the same chart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from qi.measures import Charted, Measure, chart_measure, chart_rows
from qi.series import ALL, month_start, valued
from qi.snapshot import Snapshot
from qi.spc import SPCResult

#: ``starts="changes"``: a new phase from the month each of the team's change ideas began.
CHANGES = "changes"


@dataclass(frozen=True)
class TeamChart:
    """One measure's chart at one unit (see :func:`team_chart`).

    Attributes
    ----------
    measure : the catalogue's measure.
    level, unit : where (``"team"`` and a team's name, ``"trust"`` and a trust's, …).
    groups : the groups charted, ``All`` first.
    available : every group with data at the unit, ``All`` first.
    months : every month with data at the unit, oldest first.
    starts : the months a new phase starts.
    series : the unit's series of this measure, every group (the counts behind it).
    charted : the rows charted and the :func:`qi.spc` result.
    cycles, notes, actions : the team's change ideas and PDSA cycles, notes on points,
        decisions and actions on this measure (empty above team level).
    uploads : the upload ids that supplied the data.
    teams : the teams whose data the chart shows.
    phases : the phases recorded from changes on this team's measure (every group),
        with their reasons (:meth:`qi.store.Store.recorded_phases`); empty above team level.
    offers : the new phases the data offers after the team's logged changes, every group
        (:func:`qi.phasing.offers`, with the chart's rule set); empty above team level.
    facts : each group's chart in a sentence, before it is written for a reader
        (:func:`qi.sentences.facts`; :meth:`summary` writes it).
    """

    measure: Measure
    level: str
    unit: str
    groups: tuple[str, ...]
    available: tuple[str, ...]
    months: tuple[pd.Timestamp, ...]
    starts: tuple[pd.Timestamp, ...]
    series: pd.DataFrame
    charted: Charted
    cycles: pd.DataFrame
    notes: pd.DataFrame
    actions: pd.DataFrame
    uploads: tuple[int, ...]
    teams: tuple[str, ...]
    facts: pd.DataFrame = field(default_factory=pd.DataFrame)
    phases: pd.DataFrame = field(default_factory=pd.DataFrame)
    offers: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: :meth:`data` by threshold, and under ``"hidden"`` which of its cells it hides
    #: (:func:`qi.exports.chart_hidden`), each computed once (the figure, the facts
    #: above a pack's chart and the download all read them)
    _files: dict = field(default_factory=dict, compare=False, repr=False)
    #: :meth:`summary` by ``small_numbers``, written once (the figure, the download and
    #: a pack's page each ask for it)
    _said: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def empty(self) -> bool:
        return not self.charted.results

    @property
    def result(self) -> SPCResult:
        """The :func:`qi.spc` result of the chart (its rule set's reading)."""
        return self.charted.result

    @property
    def icons(self) -> pd.DataFrame:
        """Each group's latest point with its Making Data Count variation and assurance."""
        return self.charted.icons

    @property
    def title(self) -> str:
        return f"{self.measure.name} — {self.unit}"

    @property
    def drawn_as(self) -> str | None:
        """Why the chart is drawn otherwise than its measure's chart type (rare events:
        the exposure between events), or None."""
        return self.charted.drawn_as.get(self.measure.id)

    @property
    def decimals(self) -> int:
        """Decimal places the chart's values need in a table."""
        from qi.words import decimals_for

        return decimals_for(self.measure.unit, self.result.points["y"] if self.charted.results
                            else None)  # fmt: skip

    @property
    def y_title(self) -> str:
        m = self.measure
        if self.drawn_as:
            return f"{m.denominator_definition or 'months'} between events"
        return m.unit

    @property
    def suggested_starts(self) -> list[pd.Timestamp]:
        """The months the team's PDSA cycles start (to offer as phase starts)."""
        if self.cycles.empty:
            return []
        return sorted({month_start(s) for s in self.cycles["start"].dropna()})

    def summary(self, *, small_numbers: bool = False) -> pd.DataFrame:
        """Each group's chart in a sentence (:func:`qi.sentences.sentences`): what the
        rules found, the change it came after, the latest value and the gap to the
        reference group; a value the data download hides is not written unless
        ``small_numbers``."""
        from qi.sentences import render

        key = bool(small_numbers)
        if key not in self._said:
            self._said[key] = render(self.facts, self._catalogue, small_numbers=key)
        return self._said[key].copy()

    def sentence(self, *, small_numbers: bool = False) -> str:
        """:meth:`summary`'s sentences as one paragraph, ``All`` first."""
        from qi.sentences import as_text

        return as_text(self.summary(small_numbers=small_numbers))

    @property
    def _catalogue(self) -> pd.DataFrame:
        m = self.measure
        return pd.DataFrame(
            [{"id": m.id, "name": m.name, "unit": m.unit, "improvement": m.improvement,
              "target": m.target, "frequency": m.frequency}]
        )  # fmt: skip

    def latest(self, group: str = ALL) -> pd.Series | None:
        """The latest point of ``group`` with its icons, or None without one."""
        rows = self.icons[self.icons["group"] == group]
        return None if rows.empty else rows.iloc[0]

    def figure(
        self,
        *,
        facet: bool = True,
        height: int | None = None,
        small_numbers: bool = False,
        width: int | None = None,
    ):
        """The plotly chart (:func:`qi.figures.spc_figure`). Unless ``small_numbers`` (a
        role allowed them, who asked), a point whose counts the data download hides is
        left out of the line, and the limits where its denominator is hidden: the chart
        shows no more than the file (the lines and signals are still computed on the
        true counts). ``width``: the width it will be drawn at, when known (the pack's).
        A g or t chart (rare events) has a point per event, not per month: no gaps."""
        from qi.figures import spc_figure

        shown = self.shown_points(small_numbers=small_numbers)
        notes = self._notes_and_phases(shown)
        fig = spc_figure(
            shown, group="group", title=self.title,
            y_title=self.y_title, improvement=self.measure.improvement,
            cycles=self.cycles if len(self.cycles) else None,
            annotations=notes if len(notes) else None,
            actions=self.actions if len(self.actions) else None, facet=facet, height=height,
            rules=self.result.rules, frequency=self.measure.frequency,
            provisional=self._shown_provisional(small_numbers),
            width=width, gaps=self.result.chart not in ("g", "t"),
        )  # fmt: skip
        # the text alternative opens with the chart in a sentence per group (All first)
        said = self.summary(small_numbers=small_numbers)
        said = said[said["group"].isin(self.groups)]
        sentences = [s for g in self.groups for s in said.loc[said["group"] == g, "sentence"]]
        if sentences:
            meta = dict(fig.layout.meta)
            meta["sentences"] = sentences
            meta["description"] = " ".join([*sentences, meta["description"]])
            fig.layout.meta = meta
        return fig

    def _notes_and_phases(self, shown: pd.DataFrame) -> pd.DataFrame:
        """The notes on points, and a note at the start of each recorded phase the chart
        draws, saying why it starts there (on the phase's first point the reader is
        shown: a hidden small number carries no note)."""
        drawn = self.drawn_phases
        if drawn.empty or shown.empty:
            return self.notes
        seen = shown.loc[shown["y"].notna(), ["group", "x"]]
        at = drawn.merge(seen, on="group")
        at = at[at["x"] >= at["start"]].sort_values("x").drop_duplicates(["group", "start"])
        if at.empty:
            return self.notes
        drawn = at
        marks = pd.DataFrame({
            "period": drawn["x"], "group": drawn["group"],
            "text": "New phase recorded from " + drawn["start"].dt.strftime("%B %Y") + ": "
            + drawn["reason"].astype(str),
        })  # fmt: skip
        return pd.concat([self.notes, marks], ignore_index=True)

    @property
    def drawn_phases(self) -> pd.DataFrame:
        """The recorded phases this chart starts a new phase at (its groups and starts)."""
        p = self.phases
        if p.empty:
            return p
        return p[p["group"].isin(self.groups) & p["start"].isin(self.starts)]

    def _shown_provisional(self, small_numbers: bool) -> pd.DataFrame:
        from qi.disclosure import THRESHOLD, hidden

        rows = self.charted.provisional
        if small_numbers or rows.empty:
            return rows
        keep = ~hidden(rows, line=["unit", "measure", "period"], threshold=THRESHOLD)
        return rows[keep]

    def hidden_points(self, *, small_numbers: bool = False) -> int:
        """How many points the chart leaves out for the reader (small numbers)."""
        shown = self.shown_points(small_numbers=small_numbers)["y"]
        return int((shown.isna() & self.result.points["y"].notna()).sum())

    def readable_groups(self, *, small_numbers: bool = False) -> tuple[str, ...]:
        """The groups worth drawing by default: those with at least half their points
        (and at least two) shown to this reader. A group whose counts are mostly small
        numbers would be an empty panel of lines; it stays one click away. ``All``
        when no group qualifies."""
        if not self.charted.results:
            return self.groups
        points = self.shown_points(small_numbers=small_numbers)
        if points.empty:
            return self.groups
        counts = points.groupby("group", sort=False)["y"].agg(["count", "size"])
        enough = counts[(counts["count"] >= 2) & (counts["count"] * 2 >= counts["size"])]
        chosen = tuple(g for g in self.groups if g in enough.index)
        return chosen or tuple(g for g in self.groups if g == ALL) or self.groups

    def shown_points(self, *, small_numbers: bool = False) -> pd.DataFrame:
        """The chart's points as a reader sees them: values and limits the download hides
        are missing (all shown with ``small_numbers``)."""
        from qi import exports

        points = self.result.points
        if small_numbers or points.empty:
            return points
        if "hidden" not in self._files:
            # which cells the file hides, without writing the file (a pack draws forty
            # charts and downloads none)
            self._files["hidden"] = exports.chart_hidden(**self._file_inputs(),
                                                         threshold=exports.THRESHOLD)  # fmt: skip
        hidden = self._files["hidden"]
        shown = points.copy()
        shown.loc[hidden["value"].to_numpy(), "y"] = float("nan")
        for col in ("lcl", "ucl", "lcl_95", "ucl_95"):
            shown.loc[hidden["limits"].to_numpy(), col] = float("nan")
        return shown

    def data(self, *, threshold: int | None = None) -> pd.DataFrame:
        """The data behind the chart as a file shows it (:func:`qi.exports.chart_data`):
        each point with its signal, each group's variation and assurance, small numbers
        suppressed (``threshold=0`` shows them)."""
        from qi import exports

        threshold = exports.THRESHOLD if threshold is None else threshold
        if threshold not in self._files:
            self._files[threshold] = self._data(threshold)
        return self._files[threshold].copy()

    def _data(self, threshold: int) -> pd.DataFrame:
        from qi import exports

        m = self.measure
        table = exports.chart_data(
            **self._file_inputs(),
            improvement=m.improvement,
            summary=self.icons.assign(unit=self.unit, measure=m.id),
            threshold=threshold,
            rules=self.result.rules,
        )
        said = self.summary(small_numbers=threshold == 0).set_index("group")["sentence"]
        # (object first: a chart read without its facts has no sentences to map)
        return table.assign(summary=table["group"].map(said).astype(object).fillna(""))

    def _file_inputs(self) -> dict:
        """What the file's rows and its small numbers are made from."""
        return {
            "points": self.result.points.assign(unit=self.unit, measure=self.measure.id),
            "series": self.charted.rows.assign(unit=self.unit),
            "context": valued(self.series).assign(unit=self.unit),
        }


class SharedReads:
    """What many charts of one snapshot at one level, up to one month, read in common (a
    board pack's forty charts): every unit's series, summed once, and each reference
    group's gaps over them, worked out once per reference group.

    Each chart takes its unit and measure's slice: :func:`team_chart` given these gives
    the chart it computes alone (tested), in a fraction of the time when it is one of
    many. For one chart, or a few of a large store, compute nothing in advance.
    """

    def __init__(self, snapshot: Snapshot, *, level: str = "team", until=None):
        self.snapshot, self.level = snapshot, level
        self.last = None if until is None else month_start(until)
        obs = snapshot.observations
        if self.last is not None:
            obs = obs[obs["period"] <= self.last]
        # a team without a trust (or system) is in no trust's chart
        obs = obs[obs[level].notna()]
        self._series = snapshot.series(obs, level=level)
        self._where = self._series.groupby(["unit", "measure"], sort=False).indices
        self._gaps: dict[str, dict] = {}

    def series(self, unit: str, measure: str) -> pd.DataFrame:
        """The unit's series of ``measure`` (every group), as :meth:`Snapshot.series`
        gives it for the unit's observations alone."""
        at = self._where.get((unit, measure))
        if at is None:
            return self._series.iloc[:0].reset_index(drop=True)
        return self._series.take(at).reset_index(drop=True)

    def gaps(self, reference: str, unit: str, measure: str) -> pd.DataFrame:
        """:func:`qi.sentences.gap_change` of the unit's complete series of ``measure``
        against ``reference``, from one call over every unit and measure (a line whose
        windows hold no row of ``reference`` has none)."""
        from qi.sentences import gap_change

        if reference not in self._gaps:
            # each unit × measure is compared on its own months alone (tested)
            complete = _complete(self._series)
            gaps = gap_change(complete, self.snapshot.measures, reference=reference)
            self._gaps[reference] = gaps.groupby(["unit", "measure"], sort=False).indices, gaps
        where, gaps = self._gaps[reference]
        at = where.get((unit, measure))
        return gaps.iloc[:0] if at is None else gaps.take(at).reset_index(drop=True)


def _complete(series: pd.DataFrame) -> pd.DataFrame:
    """The months of ``series`` with a value that every team expected has sent."""
    complete = valued(series)
    return complete[complete["complete"].astype(bool)] if "complete" in complete else complete


def team_chart(
    snapshot: Snapshot,
    *,
    unit: str,
    measure: str,
    level: str = "team",
    groups: Sequence[str] | None = None,
    rules: str = "mdc",
    starts: Iterable | str = (),
    until=None,
    recorded: bool = False,
    shared: SharedReads | None = None,
    facts: bool = True,
) -> TeamChart:
    """One measure's chart at one unit.

    Parameters
    ----------
    snapshot : what the reader may see (:class:`qi.snapshot.Snapshot`).
    unit, level : a team (``level="team"``) or a trust, system or collaborative.
    measure : the measure's id.
    groups : the groups to chart (those with data are kept, ``All`` first); None: every
        group with data.
    rules : a key of :data:`qi.RULE_SETS`.
    starts : months that start a new phase, or ``"changes"``: the month each of the
        team's change ideas began (its first PDSA cycle), within the data.
    until : the last month shown (a board pack's month); None: all.
    recorded : also a new phase at each phase recorded from a change (each group at its
        own; :mod:`qi.phasing`), at team level.
    shared : reads in common with other charts of ``snapshot`` at ``level`` up to
        ``until`` (:class:`SharedReads`), when many are drawn at once.
    facts : work out the sentences' facts; False leaves them for :func:`with_facts` to
        work out for many charts at once.
    """
    info = snapshot.measure(measure)
    obs = snapshot.observations
    obs = obs[(obs[level] == unit) & (obs["measure"] == measure)]
    last = None if until is None else month_start(until)
    if last is not None:
        obs = obs[obs["period"] <= last]
    if shared is not None:
        if shared.snapshot is not snapshot or (shared.level, shared.last) != (level, last):
            raise ValueError("shared reads are of another snapshot, level or month")
        series = shared.series(unit, measure)
    else:
        series = snapshot.series(obs, level=level)
    available = tuple(sorted(series["group"].unique(), key=lambda g: (g != ALL, g)))
    months = tuple(sorted(pd.Timestamp(p) for p in series["period"].unique()))
    if groups is None:
        shown = available
    else:
        wanted = list(groups)
        order = [ALL, *(g for g in dict.fromkeys(wanted) if g != ALL)]
        shown = tuple(g for g in order if g in available and (g != ALL or ALL in wanted))
    cycles, notes, actions = _team_records(snapshot, level, unit, measure, last)
    rows = series[series["group"].isin(shown)]
    if isinstance(starts, str):
        if starts != CHANGES:
            raise ValueError(f"starts must be months or {CHANGES!r}; got {starts!r}")
        # a phase from each change idea's first cycle, within the months charted
        first = cycles.groupby("change_idea")["start"].min().dropna() if len(cycles) else []
        charted_months = valued(rows)["period"]
        starts = [
            s
            for s in sorted({month_start(s) for s in first})
            if len(charted_months)
            and charted_months.min() < s <= (last if last is not None else charted_months.max())
        ]
    starts = tuple(sorted(month_start(s) for s in starts))
    phases = _recorded(snapshot, level, unit, measure, last)
    if recorded and len(phases):
        # each group's own recorded phases, beside the months chosen for every group
        data = rows.assign(**info.columns())
        mine = phases[phases["group"].isin(shown)]
        every = pd.DataFrame({"start": list(starts)}).merge(pd.DataFrame({"group": shown}),
                                                            how="cross")  # fmt: skip
        both = pd.concat([every, mine[["group", "start"]]]).drop_duplicates()
        hit = data[["group", "period"]].reset_index().merge(both, on="group")
        passed = (hit["period"] >= hit["start"]).groupby(hit["index"]).sum()
        data["phase"] = passed.reindex(data.index).fillna(0).astype(int).to_numpy() + 1
        charted = chart_rows(data, by=["group"], rules=rules, phase="phase")
        starts = tuple(sorted(set(starts) | set(mine["start"])))
    else:
        charted = chart_measure(info, rows, by="group", rules=rules, starts=starts)
    offered = pd.DataFrame()
    if level == "team" and len(cycles) and until is None:
        from qi import phasing

        team_series = series.assign(unit=unit)
        offered = phasing.offers(team_series, cycles, rules=rules, phases=phases)
    said = (
        _sentence_facts(snapshot, charted, series, cycles, unit=unit, measure=measure,
                        level=level, shared=shared)
        if facts
        else pd.DataFrame()
    )  # fmt: skip
    return TeamChart(
        measure=info, level=level, unit=unit, groups=shown, available=available, months=months,
        starts=starts, series=series, charted=charted, cycles=cycles, notes=notes,
        actions=actions, uploads=tuple(sorted(int(u) for u in obs["upload_id"].unique())),
        teams=tuple(sorted(obs["team"].unique())), phases=phases, offers=offered,
        facts=said,
    )  # fmt: skip


def _sentence_facts(snapshot, charted, series, cycles, *, unit, measure, level, shared=None):
    """The facts of each group's sentence (:func:`qi.sentences.facts`): the chart's own
    reading, the holding-the-gains check of the team's changes (team level), the gap to
    the reference group and, for the disclosure rule, every group's counts."""
    from qi.sentences import facts_of, uniform

    reading = _fact_inputs(snapshot, charted, series, cycles, unit=unit, measure=measure,
                           level=level, shared=shared)  # fmt: skip
    if reading is None:
        return pd.DataFrame()
    return uniform(facts_of(**reading, measures=snapshot.measures))


def _fact_inputs(snapshot, charted, series, cycles, *, unit, measure, level, shared=None):
    """What :func:`qi.sentences.facts_of` reads for one chart (None: nothing charted)."""
    from qi.accountability import changes_from, holding_gains
    from qi.screens.equality import reference_group
    from qi.sentences import gap_change, keyed_reading

    if not charted.results:
        return None
    complete = _complete(series)
    gains = None
    if level == "team" and len(cycles):
        gains = holding_gains(series, changes_from(cycles))
    groups = [g for g in complete["group"].unique() if g != ALL]
    reference = reference_group(groups)
    if reference is None:
        gaps = None
    elif shared is not None:
        gaps = shared.gaps(reference, unit, measure)
    else:
        gaps = gap_change(complete, snapshot.measures, reference=reference)
    icons, points, rare = keyed_reading(charted, unit=unit, measure=measure)
    return dict(icons=icons, points=points, rare=rare, cycles=cycles, gains=gains, gaps=gaps,
                context=complete)  # fmt: skip


def with_facts(
    charts: Sequence[TeamChart], snapshot: Snapshot, shared: SharedReads | None = None
) -> list[TeamChart]:
    """``charts`` (drawn by :func:`team_chart` with ``facts=False``) with their sentences'
    facts, worked out in one pass over all of them: each chart gets the facts it would
    have worked out alone (tested), in a fraction of the time when they are many (a
    board pack's forty). One chart per unit and measure: their series are told apart
    by those."""
    import dataclasses

    from qi.sentences import facts_of, uniform

    lines = [(c.unit, c.measure.id) for c in charts]
    if len(set(lines)) < len(lines):
        raise ValueError("with_facts needs one chart per unit and measure")

    readings = [
        _fact_inputs(snapshot, c.charted, c.series, c.cycles, unit=c.unit,
                     measure=c.measure.id, level=c.level, shared=shared)
        for c in charts
    ]  # fmt: skip
    given = [r for r in readings if r is not None]
    if not given:
        return [dataclasses.replace(c, facts=pd.DataFrame(), _files={}, _said={}) for c in charts]

    def joined(name: str):
        frames = [r[name] for r in given if r[name] is not None and len(r[name])]
        return pd.concat(frames, ignore_index=True) if frames else None

    every = facts_of(
        joined("icons"), joined("points"), np.concatenate([r["rare"] for r in given]),
        snapshot.measures, cycles=joined("cycles"), gains=joined("gains"),
        gaps=joined("gaps"), context=joined("context"),
    )  # fmt: skip
    out, at = [], 0
    for chart, reading in zip(charts, readings, strict=True):
        if reading is None:
            mine = pd.DataFrame()
        else:
            mine = uniform(every.iloc[at : at + len(reading["icons"])].reset_index(drop=True))
            at += len(reading["icons"])
        out.append(dataclasses.replace(chart, facts=mine, _files={}, _said={}))
    return out


def _team_records(snapshot: Snapshot, level: str, unit: str, measure: str, last):
    """The team's cycles, notes and actions on ``measure`` (none above team level), up to
    the month ``last`` when given."""
    cycles, notes, actions = snapshot.pdsa, snapshot.annotations, snapshot.actions
    if level != "team":
        return cycles.iloc[:0], notes.iloc[:0], actions.iloc[:0]
    cycles = cycles[(cycles["team"] == unit) & (cycles["measure"] == measure)]
    notes = notes[(notes["team"] == unit) & (notes["measure"] == measure)]
    actions = actions[(actions["team"] == unit) & (actions["measure"] == measure)]
    if last is not None:
        month_end = last + pd.offsets.MonthEnd(0)
        cycles = cycles[cycles["start"].isna() | (cycles["start"] <= month_end)]
        notes = notes[pd.to_datetime(notes["period"]) <= last]
        actions = actions[pd.to_datetime(actions["period"]) <= last]
    return cycles, notes, actions


def _recorded(snapshot: Snapshot, level: str, unit: str, measure: str, last) -> pd.DataFrame:
    """The phases recorded on the team's measure (none above team level), starting by the
    month ``last`` when given."""
    phases = snapshot.phases
    if level != "team" or phases.empty:
        return phases.iloc[:0]
    phases = phases[(phases["team"] == unit) & (phases["measure"] == measure)]
    if last is not None:
        phases = phases[pd.to_datetime(phases["start"]) <= last]
    return phases.assign(start=pd.to_datetime(phases["start"]))


def change_groups(snapshot: Snapshot, team: str, measure: str, *, until=None) -> list[str]:
    """The groups the team's change ideas on ``measure`` aim at (a board pack charts these
    beside ``All``), counting the cycles begun by the month ``until`` when given."""
    last = None if until is None else month_start(until)
    cycles, _, _ = _team_records(snapshot, "team", team, measure, last)
    return sorted(cycles["group"].dropna().unique())
