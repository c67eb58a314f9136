"""The board: every unit × measure × group at a glance, with what accountability adds.

:func:`board` computes the whole board at a level once (the expensive part: every
series through the Making Data Count rules); :meth:`BoardView.select` filters it for
the page as the reader chooses, without computing anything again.

What the board shows is true:

* each row's value and icons are read from its latest *complete* month (every team
  expected has sent it); a later month not every team has sent is given apart, as
  provisional, and never read by the rules (:func:`qi.series.coverage`);
* a team's series has a new phase at each of its change ideas and at each phase
  recorded from a change (:func:`qi.accountability.with_change_phases`), the same
  phases as the chart a row opens;
* for a reader not allowed small numbers, every value on screen (latest, provisional,
  sparkline) follows the rule of the downloads (:mod:`qi.disclosure`).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from qi import exports
from qi.accountability import (
    board_columns,
    change_starts,
    changes_from,
    holding_gains,
    with_change_phases,
)
from qi.board import chart, matrix
from qi.disclosure import SUPPRESSED, THRESHOLD, hidden
from qi.measures import between_events, point_values
from qi.series import ALL, LEVELS, key_codes, series_numbers, valued
from qi.snapshot import Snapshot

#: What accountability adds to a team's row.
ACCOUNTABILITY_COLUMNS = ("owner", "sponsor", "review_overdue", "actions_overdue", "gains")
#: Months of a row's sparkline.
SPARK_MONTHS = 24
#: Held for a moment only: while a view finds (or makes) the lock of one thing its
#: readers share (:meth:`BoardView._once`), or marks its sentences as being written in
#: the background; never while anything is made.
_DISCLOSING = threading.Lock()
#: What a view has not made yet (:meth:`BoardView._once`).
_NOT_MADE = object()


@dataclass(frozen=True)
class BoardSelection:
    """The rows a reader chose (see :meth:`BoardView.select`).

    Attributes
    ----------
    rows : the matrix rows (:data:`qi.board.MATRIX_COLUMNS`) and
        :data:`ACCOUNTABILITY_COLUMNS`, with ``latest`` and ``provisional`` as the screen
        shows them (text; ``*`` where a small number is hidden), the ``sparkline``
        with hidden points left out, and ``summary``: the row's chart in a sentence
        (:func:`qi.sentences.sentences`, written for the reader).
    download : the same rows as the CSV/Excel file gives them
        (:func:`qi.exports.matrix_data`), suppressed alike, with the ``summary``.
    teams : the teams behind the rows (for the small-numbers permission).
    improving, concerning : rows whose latest point is a special cause of improvement
        or of concern.
    actions_overdue : overdue actions on the teams and measures of the rows shown.
    """

    rows: pd.DataFrame
    download: pd.DataFrame
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
        owner, sponsor, review and actions overdue, the holding-the-gains status
        of the latest change (``gains``) and the phases recorded from changes with their
        reasons, in words (``phases``; :mod:`qi.phasing`).
    owned : each owned team × measure with its review status and overdue actions.
    teams : the registered teams (collaborative, ics, trust, team).
    recent : each series' last :data:`SPARK_MONTHS` complete months (``unit``,
        ``measure``, ``group``, ``period``, counts and ``value``), for the sparklines;
        ``by_event`` marks a rare event's rows (a month with events, its ``value`` the
        exposure between events: a point per event, as its chart draws it).
    starts : at team level, the months each team × measure × group starts a new phase.
    latest_complete : the latest month every team expected has sent, for every measure.
    provisional : each later month with data, and how many teams have sent it.
    sentences : each row's chart in a sentence, before it is written for a reader
        (:func:`qi.sentences.facts`, on the board's own reading of the series); worked
        out a group at a time, when a selection first shows the group (every group at
        once when this attribute is read).
    measures : the catalogue (to write the sentences).
    """

    level: str
    rows: pd.DataFrame
    owned: pd.DataFrame
    teams: pd.DataFrame
    recent: pd.DataFrame
    starts: pd.DataFrame
    latest_complete: pd.Timestamp | None
    provisional: dict
    measures: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: what the sentences' facts are worked out from (:class:`_FactSource`)
    facts_from: _FactSource | None = field(default=None, compare=False, repr=False)
    #: what :meth:`select` derives once per disclosure threshold (the download of every
    #: row and the sparklines) and per group (the sentences), kept so that every reader
    #: of this view shares it
    _disclosed: dict = field(default_factory=dict, compare=False, repr=False)
    #: the lock of each thing of ``_disclosed`` while it is made (:meth:`_once`)
    _making: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def months_note(self) -> str:
        """Which month the values are read from, and which later months are provisional."""
        if self.latest_complete is None:
            return ""
        later = "; ".join(
            f"{m:%B %Y} is provisional ({t} have sent it)" for m, t in self.provisional.items()
        )
        return (
            "Values are read from each series' latest complete month (every team expected "
            f"has sent it): {self.latest_complete:%B %Y}." + (f" {later}." if later else "")
        )

    @property
    def sentences(self) -> pd.DataFrame:
        """Every row's sentence facts (see the class), every group worked out."""
        parts = [self._facts(g) for g in self.groups]
        parts = [p for p in parts if not p.empty]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def _facts(self, group: str) -> pd.DataFrame:
        """The sentence facts of ``group``'s rows (worked out once per view and group)."""
        return self._once(("facts", group), lambda: self._facts_made(group))

    def _facts_made(self, group: str) -> pd.DataFrame:
        source = self.facts_from
        if source is None:
            return pd.DataFrame()
        with source.lock:  # (one group at a time: what they share is made once)
            found = source.facts(group)
            source.done.add(group)
            if source.done.issuperset(self.groups):
                source.release()  # every group done: its series need not be kept
        return found

    def _once(self, key, make):
        """``make()``, once per view and ``key``, shared by every reader of the view.

        A reader of something already made never waits, and a reader of something
        being made waits for that only: not for the sentences of other groups that a
        thread is writing meanwhile (:meth:`select`'s ``others_in_background``), which
        twenty readers arriving together would otherwise queue behind."""
        made = self._disclosed.get(key, _NOT_MADE)
        if made is not _NOT_MADE:
            return made
        with _DISCLOSING:
            lock = self._making.setdefault(key, threading.Lock())
        with lock:
            made = self._disclosed.get(key, _NOT_MADE)
            if made is _NOT_MADE:
                made = self._disclosed[key] = make()
        return made

    @property
    def groups(self) -> list[str]:
        """The groups on the board, ``All`` first."""
        return sorted(self.rows["group"].unique(), key=lambda g: (g != ALL, g))

    @property
    def measure_names(self) -> dict[str, str]:
        """Measure id → name, for the measures on the board."""
        return dict(zip(self.rows["measure"], self.rows["measure_name"], strict=False))

    @property
    def trusts(self) -> list[str]:
        return sorted(self.teams["trust"].unique())

    def phase_starts(self, unit: str, measure: str, group: str) -> list[pd.Timestamp]:
        """The months the row's chart starts a new phase (the board's phases)."""
        s = self.starts
        if s.empty:
            return []
        hit = s[(s["team"] == unit) & (s["measure"] == measure) & (s["group"] == group)]
        return sorted(pd.Timestamp(t) for t in hit["start"].unique())

    def select(
        self,
        *,
        group: str = ALL,
        trusts: Sequence[str] = (),
        measures: Sequence[str] = (),
        at_risk_only: bool = False,
        small_numbers: bool = False,
        others_in_background: bool = False,
    ) -> BoardSelection:
        """The rows of one group, in the chosen trusts (team level) and measures; with
        ``at_risk_only``, only the rows whose latest change is an improvement at risk.
        Unless ``small_numbers`` (a role allowed them, who asked), values from counts
        of 1 to 7, and any that would give one back, are hidden as the files hide them.
        ``others_in_background``: the other groups' sentences are written in a thread
        of their own once this group's are (a server's readers choosing another group
        then find them written; the first page does not wait for them).
        """
        threshold = 0 if small_numbers else THRESHOLD
        shown = self.rows[self.rows["group"] == group]
        if at_risk_only and self.level == "team":
            shown = shown[shown["gains"] == "at risk"]
        if trusts and self.level == "team":
            in_trust = set(self.teams.loc[self.teams["trust"].isin(list(trusts)), "team"])
            shown = shown[shown["unit"].isin(in_trust)]
        if measures:
            shown = shown[shown["measure"].isin(list(measures))]
        # the rule is applied to every group of each line (a hidden group could be
        # worked out from All), then the rows chosen are taken
        every_row, sparklines = self._disclosed_at(threshold)
        summary = self._said_at(threshold, group)
        if others_in_background:
            self._say_every_group_in_background(threshold)
        download = every_row.loc[shown.index].assign(summary=summary.reindex(shown.index))
        shown = shown.assign(
            summary=download["summary"].to_numpy(),
            latest=_shown(shown["value"], download["value"]),
            provisional=_provisional_text(shown, download),
            sparkline=sparklines.reindex(
                pd.MultiIndex.from_frame(shown[["unit", "measure", "group"]])
            ).to_numpy(),
        )
        if self.level == "team":
            teams = shown["unit"].unique()
        else:
            teams = self.teams.loc[self.teams[self.level].isin(shown["unit"]), "team"].unique()
        owned = self.owned[
            self.owned["team"].isin(list(teams)) & self.owned["measure"].isin(shown["measure"])
        ]
        return BoardSelection(
            rows=shown.reset_index(drop=True),
            download=download.reset_index(drop=True),
            teams=tuple(sorted(teams)),
            improving=int((shown["variation"] == "special_cause_improvement").sum()),
            concerning=int((shown["variation"] == "special_cause_concern").sum()),
            actions_overdue=int(owned["actions_overdue"].sum()),
        )

    def _disclosed_at(self, threshold: int) -> tuple[pd.DataFrame, pd.Series]:
        """Every row as the download gives it, and every sparkline, at ``threshold``
        (computed once per view and threshold, whatever the filters: the rule is
        decided on whole lines; readers arriving together wait for the first instead of
        each computing it)."""
        return self._once(
            threshold,
            lambda: (exports.matrix_data(self.rows, threshold=threshold),
                     self._sparklines(threshold)),
        )  # fmt: skip

    def _said_at(self, threshold: int, group: str) -> pd.Series:
        """The sentence of every row of ``group`` at ``threshold``, by row (written once
        per view, threshold and group, on the first selection that shows the group: a
        page shows one group at a time, so the other groups' sentences wait until one
        is chosen)."""
        every_row, _ = self._disclosed_at(threshold)

        def say() -> pd.Series:
            rows = self.rows[self.rows["group"] == group]
            # a latest value the file hides (``*``) is not written in the sentence
            hidden = every_row.loc[rows.index, "value"] == SUPPRESSED
            return pd.Series(self._summary(rows, group, threshold == 0, hidden),
                             index=rows.index)  # fmt: skip

        return self._once((threshold, group), say)

    def _say_every_group_in_background(self, threshold: int) -> None:
        """Write every group's sentences at ``threshold`` in a thread (once per view and
        threshold), a group at a time, so a reader choosing one waits for one at most."""
        with _DISCLOSING:
            if ("every group", threshold) in self._disclosed:
                return
            self._disclosed[("every group", threshold)] = True

        def say() -> None:
            for group in self.groups:
                self._said_at(threshold, group)

        threading.Thread(target=say, name="qi-board-sentences", daemon=True).start()

    def _summary(
        self, rows: pd.DataFrame, group: str, small_numbers: bool, hidden: pd.Series
    ) -> list[str]:
        """Each row of ``group``'s sentence, written for the reader
        (:func:`qi.sentences.render`); ``hidden``: per row, whether the board's file
        hides its latest value."""
        from qi.sentences import lower_first, render

        keys = ["unit", "measure", "group"]
        if rows.empty:
            return []
        facts = self._facts(group)
        said = np.full(len(rows), None, dtype=object)
        if not facts.empty:  # (a group whose every row has nothing to chart has none)
            wanted = pd.MultiIndex.from_frame(rows[keys])
            facts = facts.set_index(keys)
            facts = facts[facts.index.isin(wanted)]
            hid = pd.Series(hidden.to_numpy(dtype=bool), index=wanted)
            hid = hid[~hid.index.duplicated()]
            shown = hid.reindex(facts.index, fill_value=False).to_numpy()
            facts = facts.assign(latest_hidden=shown).reset_index()
            said = render(facts, self.measures, small_numbers=small_numbers).set_index(keys)
            said = said["sentence"].reindex(wanted).to_numpy(dtype=object)
        # a rare event that never happened has no chart: its row's words say so
        return [
            s if isinstance(s, str) else f"At {u}, {lower_first(str(n))}: {t}."
            for s, u, n, t in zip(said, rows["unit"], rows["measure_name"],
                                  rows["variation_text"], strict=True)
        ]  # fmt: skip

    def _sparklines(self, threshold: int) -> pd.Series:
        """Each series' recent points as its chart draws them, by ``unit``, ``measure``
        and ``group``: a point for each of the :data:`SPARK_MONTHS` months up to the
        series' latest, None where a month is hidden or has no value (not yet begun,
        not sent, not complete, no denominator: the chart breaks its line there too),
        so that every row's line spans the same stretch of time; a rare event's, a
        point per month with events (its last :data:`SPARK_MONTHS`), None where
        hidden."""
        keys = ["unit", "measure", "group"]
        recent = self.recent
        codes = series_numbers(recent, keys) if len(recent) else np.zeros(0, dtype=np.int64)
        named = codes >= 0  # (a row with a missing key belongs to no row of the board)
        if not named.any():
            return pd.Series([], index=pd.MultiIndex.from_arrays([[]] * 3, names=keys),
                             dtype=object)  # fmt: skip
        keep = ~hidden(recent, line=["unit", "measure", "period"], threshold=threshold)
        recent, keep, codes = recent[named], np.asarray(keep)[named], codes[named]
        values = recent["value"].to_numpy(dtype=float)
        # each row's distance back from its series' latest point: in months, or for a
        # rare event in months with events
        month = recent["period"].to_numpy().astype("datetime64[M]").astype(np.int64)
        latest = np.full(codes.max() + 1, np.iinfo(np.int64).min)
        np.maximum.at(latest, codes, month)
        back = latest[codes] - month
        by_event = recent["by_event"].to_numpy(dtype=bool)
        if by_event.any():
            events_back = pd.Series(codes).groupby(codes).cumcount(ascending=False)
            back[by_event] = events_back.to_numpy()[by_event]
        drawn = back < SPARK_MONTHS
        slots = np.full((len(latest), SPARK_MONTHS), None, dtype=object)
        shown = drawn & keep & ~np.isnan(values)
        slots[codes[shown], SPARK_MONTHS - 1 - back[shown]] = values[shown]
        # a rare event's from its first event drawn (its points are events, not months)
        first = np.zeros(len(latest), dtype=np.int64)
        if by_event.any():
            event = by_event & drawn
            first[codes[by_event]] = SPARK_MONTHS
            np.minimum.at(first, codes[event], SPARK_MONTHS - 1 - back[event])
        series = np.unique(codes[drawn])
        lists = [slots[c, first[c] :].tolist() for c in series]
        at = pd.Series(np.arange(len(codes))).groupby(codes).first()
        index = pd.MultiIndex.from_frame(recent[keys].iloc[at.loc[series].to_numpy()])
        return pd.Series(lists, index=index, dtype=object)


def _shown(values: pd.Series, disclosed: pd.Series) -> list[str]:
    """A value as the screen shows it: rounded, or ``*`` where the file hides it."""
    return [
        SUPPRESSED if d == SUPPRESSED else format_number(v)
        for v, d in zip(values, disclosed, strict=True)
    ]


def _provisional_text(rows: pd.DataFrame, disclosed: pd.DataFrame) -> list[str]:
    out = []
    for period, value, teams, shown in zip(
        rows["provisional_period"], rows["provisional_value"], rows["provisional_teams"],
        disclosed["provisional_value"], strict=True,
    ):  # fmt: skip
        if pd.isna(period):
            out.append("")
            continue
        number = SUPPRESSED if shown == SUPPRESSED else format_number(value)
        out.append(f"{pd.Timestamp(period):%b %Y}: {number} ({teams})")
    return out


def _phase_words(rows: pd.DataFrame, phases: pd.DataFrame) -> list[str]:
    """Each row's recorded phases in words: "from Apr 2025: after PDSA 2 of …"."""
    if phases.empty:
        return [""] * len(rows)
    said = phases.assign(
        words="from " + pd.to_datetime(phases["start"]).dt.strftime("%b %Y") + ": "
        + phases["reason"].astype(str)
    ).groupby(["team", "measure", "group"])["words"].agg("; ".join)  # fmt: skip
    keys = pd.MultiIndex.from_frame(rows[["unit", "measure", "group"]])
    return said.reindex(keys).fillna("").tolist()


def format_number(value) -> str:
    """A value for a table: one decimal place, thousands separated; blank when missing."""
    if value is None or not np.isfinite(float(value)):
        return ""
    return f"{float(value):,.1f}"


def board(snapshot: Snapshot, *, level: str = "team", today: dt.date | None = None) -> BoardView:
    """Every unit × measure × group of ``level`` with its latest complete value and
    Making Data Count icons (:func:`qi.board.matrix`); at team level, with owners,
    reviews, overdue actions and holding-the-gains status
    (:func:`qi.accountability.board_columns`), and a new phase at each change idea."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    today = today or snapshot.as_of.date()
    if level == "team":
        team_series = snapshot.series()
        level_series = with_change_phases(team_series, snapshot.pdsa, snapshot.phases)
        starts = change_starts(snapshot.pdsa, snapshot.phases)
        cycles = snapshot.pdsa
    else:
        level_series = snapshot.series(level=level)
        starts = pd.DataFrame(columns=["team", "measure", "group", "start"])
        # above team level only the owners' columns are read (no holding the gains):
        # the team series are not summed at all
        team_series, cycles = level_series.iloc[:0], snapshot.pdsa.iloc[:0]
    charted = chart(level_series)
    rows = matrix(level_series, charted=charted)
    # whether each change's gains are held: the board's column and the sentences' words
    held = holding_gains(team_series, changes_from(cycles))
    owned, gains = board_columns(
        team_series,
        cycles,
        snapshot.owners,
        snapshot.actions,
        snapshot.reviews,
        today=today,
        held=held,
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
        rows["phases"] = _phase_words(rows, snapshot.phases)
    else:
        rows = rows.assign(**{col: None for col in ACCOUNTABILITY_COLUMNS}, phases="")
    keys = ["unit", "measure", "group"]
    # the columns the sparklines and the sentences' gaps read (no copy of the others)
    complete = valued(level_series[[*keys, "period", "numerator", "denominator", "multiplier",
                                    "chart", "complete", "rare"]])  # fmt: skip
    complete = complete[complete["complete"]]
    rare = complete["rare"].astype(bool)
    # a rare event's sparkline is the exposure between its events, as its chart
    between = between_events(complete[rare], by=keys).rename(columns={"between": "value"})
    recent = pd.concat(
        [complete[~rare].assign(value=point_values(complete[~rare]).to_numpy(), by_event=False),
         between.assign(by_event=True)],
        ignore_index=True,
    )  # fmt: skip
    recent = _tail(recent, keys, SPARK_MONTHS)
    recent = recent[[*keys, "period", "numerator", "denominator", "value", "by_event"]]
    return BoardView(
        level=level, rows=rows, owned=owned, teams=snapshot.teams, recent=recent,
        starts=starts, latest_complete=snapshot.latest_complete_month(),
        provisional=snapshot.provisional_months(),
        measures=snapshot.measures,
        facts_from=_FactSource(charted, held, complete, snapshot.pdsa,
                               snapshot.measures, team_level=level == "team"),
    )  # fmt: skip


def _tail(frame: pd.DataFrame, keys: list[str], n: int) -> pd.DataFrame:
    """``frame.groupby(keys, sort=False).tail(n)``, counted from each series' end by one
    integer key (a grouping by the key columns, text, is several times slower)."""
    code = key_codes(frame, keys, missing=False)
    if code is None or (code < 0).any():
        return frame.groupby(keys, sort=False).tail(n)
    return frame[pd.Series(code).groupby(code, sort=False).cumcount(ascending=False).to_numpy() < n]


class _FactSource:
    """What a board's sentence facts (:func:`qi.sentences.facts`) are worked out from, a
    group at a time: the board's own reading of its series (so a sentence and its icons
    agree), at team level the holding-the-gains check of each series' latest change, and
    for a group other than ``All`` its gap to White (or the first group) over the
    earliest and latest 12 complete months. What every group shares (the reading, the
    gains, the gaps) is worked out once, by the first group that needs it: the first
    page of a board shows ``All``, which needs no gap (which latest values are hidden is
    the rule of the board's own file, applied when rows are chosen:
    :meth:`BoardView.select`). Not thread-safe alone: :class:`BoardView` calls it
    holding its ``lock``."""

    def __init__(self, charted, held, complete, cycles, measures, *, team_level):
        # held: :func:`qi.accountability.holding_gains` of the team series, as the
        # board's column reads it
        self.charted, self.held, self.complete = charted, held, complete
        self.cycles, self.measures, self.team_level = cycles, measures, team_level
        self._shared: dict = {}
        self.lock = threading.Lock()
        #: the groups whose facts are made (counted under ``lock``)
        self.done: set[str] = set()

    def facts(self, group: str) -> pd.DataFrame:
        from qi.sentences import facts_of

        if self.charted is None or not self.charted.results or self.charted.icons.empty:
            return pd.DataFrame()
        icons, points, rare = self._once("reading", self._reading)
        mine = (icons["group"] == group).to_numpy()
        if not mine.any():
            return pd.DataFrame()
        return facts_of(
            icons[mine], points[(points["group"] == group).to_numpy()], rare[mine],
            self.measures, cycles=self.cycles if self.team_level else None,
            gains=self._once("gains", self._gains),
            gaps=None if group == ALL else self._once("gaps", self._gaps),
        )  # fmt: skip

    def release(self) -> None:
        """Let go of the series (a national board's are hundreds of megabytes); a group
        asked for afterwards gets no facts."""
        self.charted = self.held = self.complete = None
        self._shared.clear()

    def _once(self, name: str, work):
        if name not in self._shared:
            self._shared[name] = work()
        return self._shared[name]

    def _reading(self):
        from qi.sentences import keyed_reading

        return keyed_reading(self.charted)

    def _gains(self) -> pd.DataFrame | None:
        if not self.team_level or not len(self.cycles):
            return None
        return self.held

    def _gaps(self) -> pd.DataFrame | None:
        from qi.screens.equality import reference_group
        from qi.sentences import gap_change

        complete = self.complete
        reference = reference_group([g for g in complete["group"].unique() if g != ALL])
        return gap_change(complete, self.measures, reference=reference) if reference else None
