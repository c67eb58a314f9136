"""The board pack: a PDF of what the board takes away, built from the store.

:func:`build_pack` turns the data shown at an instant into a PDF, in this order:

1. **Cover**: the title, collaborative and month reported, and what changed: each
   series whose latest point is special cause variation (concern first, then
   improvement, then neither), and the months still provisional.
2. **Summary matrix** (:data:`MATRIX_ROWS` rows a page): each team × measure's latest
   value, target, and Making Data Count variation and assurance icons with their
   meaning in words beside them.
3. **One page per chart** (team × measure, grouped by measure): the same plotly
   chart the dashboard's team page draws (the ``All`` series and the groups the
   team's change ideas aim at, as small multiples, with change cycles, notes and
   actions), drawn as vector graphics; the latest value and icons; the change ideas
   and PDSA cycles; and a provenance line: the uploads that supplied the data, the
   instant it was read, rule set, phases, months and groups.
4. **Equality**, one page per measure (:data:`EQUALITY_ROWS` teams a page): each
   group's rate or proportion as a ratio to the reference group's in the month
   reported, with its 95 % interval, and a funnel plot of the teams over the last 12
   months.
5. **Data completeness** (:data:`COMPLETENESS_ROWS` teams a page): months on time,
   late, missing and corrected over the last 12 months.
6. **Commentary**, as typed (plain text: markup is shown, never run).
7. **Appendix: how this pack was made**: when the data was read and the pack made,
   teams, measures, rules and phases, and the ``qi report`` command that rebuilds it.

All text that people typed (team names, change ideas, learning, commentary) is
escaped before it goes into the HTML. Charts are rendered by plotly's static export
(kaleido, through :mod:`qi.images`) while the next chart is being built; the HTML
is printed to PDF by the same browser (Chromium's own printing, which also tags the PDF
for screen readers and makes its outline from the headings).

Reproducing a pack: the data is read "as of" an instant (by default the moment the
pack is made), and the appendix prints the command with that instant, so the same pack
can be rebuilt after later uploads or rollbacks.

Progress: :func:`build_pack` and :func:`pack_document` take ``progress``, a callable
given the share of the work done (0 to 1) and what is being done, after each chart is
built and after each is rendered (the dashboard draws a progress bar with it).
"""

from __future__ import annotations

import base64
import math
import shlex
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from html import escape

import numpy as np
import pandas as pd

from qi import images, mdc, screens
from qi.disclosure import SUPPRESSED
from qi.figures import chart_key, description, funnel_figure
from qi.rules import RULE_SETS
from qi.series import ALL, latest_complete_month, month_start
from qi.snapshot import Snapshot, utc_instant

#: Summary-matrix rows on one page.
MATRIX_ROWS = 10
#: Teams in the gap table of one equality page.
EQUALITY_ROWS = 10
#: Groups in one gap table: a cell, "1.23 (0.98–1.45)", needs about a sixth of the
#: page's width beside the Team column's third. More groups are shown in several
#: tables, one under the other, each with the Team column, and a page holds
#: :data:`EQUALITY_ROWS` teams' rows in all.
GAP_GROUPS = 5
#: Teams in the completeness table of one page.
COMPLETENESS_ROWS = 20
#: Lines a funnel plot's key may take beside the plot, under the first gap table (a
#: team's name takes a line a :data:`BESIDE_CHARS` characters), and lines the first gap
#: table may take (a name a line a :data:`TEAM_CHARS`) with the plot under it; else the
#: plot has a page of its own, its key below it in columns of :data:`KEY_FIRST_LINES`
#: lines, and of :data:`KEY_LINES` on each page after it.
KEY_BESIDE, BESIDE_CHARS, TEAM_CHARS = 17, 30, 55
KEY_FIRST_LINES, KEY_LINES = 12, 30
#: The key's columns on a page: as many as the longest team name lets stay on one line
#: (the most characters a line of 4, 3 or 2 columns holds, then 1 column).
KEY_COLUMNS = ((32, 4), (45, 3), (75, 2))
#: Teams of the appendix's uploads table on its first page at most (and only while
#: the page holds them, with the list of teams, the measures and the rebuild command:
#: see :func:`_appendix_fits`); more, and the table has pages of its own, each holding
#: this many rows of one line (:data:`UPLOAD_ROW_MM` each; a line more of a row,
#: :data:`TEXT_LINE_MM`).
UPLOADS_INLINE, UPLOADS_ROWS = 10, 25
#: The appendix's first page (mm): what it holds besides the uploads, the teams, the
#: measures and the command; a line of the uploads table; a line of text and of code,
#: and the characters of each (A4 landscape, 8.5 pt text and 7.5 pt code; text wraps
#: at spaces, code anywhere).
APPENDIX_MM, APPENDIX_FIXED_MM, UPLOAD_ROW_MM = 165, 68.4, 5.2
TEXT_LINE_MM, CODE_LINE_MM, TEXT_CHARS, LINE_CHARS = 3.6, 3.3, 115, 140
#: The uploads table's columns (per cent of the width) and the characters a line of
#: its Team and "Latest upload, by" columns holds: both wrap, the others stay short.
UPLOAD_WIDTHS = (36, 9, 12, 33, 10)
UPLOAD_NAME_CHARS, UPLOAD_LATEST_CHARS = 45, 46
#: How the uploads table writes when an upload was made (before ", by").
UPLOADED_AT = "%d %b %Y %H:%M"
#: Characters of the rebuild command on one page (a pack of many teams names them all;
#: 7,731 printed on one page, 7,951 on two).
COMMAND_CHARS = 7_500
#: Ways of choosing a chart's phases.
PHASES = ("none", "changes", "recorded")
#: Months of the funnel plot and the completeness note.
RECENT_MONTHS = 12
#: Width of a rendered chart in CSS pixels: the page's width is about 1,030 CSS pixels,
#: so a chart drawn a little narrower is printed a little larger (its labels legible).
CHART_WIDTH = 960
#: Items of the cover's "what changed" list (the rest: "and n more").
CHANGES_SHOWN = 12
#: Height of the cover's page (mm, between the margins), what its title, lines of text
#: and footnote take, and one item of its "what changed" list: the grid of icons is on
#: the cover only where it fits (the cover is one page).
COVER_MM, COVER_USED_MM, COVER_ITEM_MM = 180, 80, 8.6
#: Height (mm) of the cover grid's heading and head row, and of one of its rows.
GRID_HEAD_MM, GRID_ROW_MM = 24, 8.2
#: Measures (columns) the cover's grid holds at most.
GRID_MEASURES = 8
#: Share of a pack's build taken by writing the PDF once the charts are rendered
#: (0.09 to 0.13 measured on the sample: benchmarks/bench_report.py prints it).
PDF_SHARE = 0.12

#: ``progress(done, what)``: the share of the work done (0 to 1) and what is being done.
Progress = Callable[[float, str], None]


#: What a pack is built from: the store's tables as they were at an instant (the name the
#: pack has always used for :class:`qi.snapshot.Snapshot`).
PackData = Snapshot


@dataclass
class Section:
    """One part of the pack and how many pages it takes."""

    title: str
    pages: int
    html: str = field(repr=False, default="")


#: The pack's page loads nothing: its images are inline (``data:``) and its style is its
#: own. Whatever a bug in escaping let into the HTML (an ``<iframe>`` of a local file, a
#: remote image), the browser that prints it fetches nothing.
_POLICY = (
    '<meta http-equiv="Content-Security-Policy" '
    "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
)


@dataclass
class PackDocument:
    """The pack before it is printed: its sections (with their page counts) and HTML."""

    title: str
    sections: list[Section]
    charts: int
    period: pd.Timestamp
    as_of: pd.Timestamp
    css: str = field(repr=False, default="")

    @property
    def pages(self) -> int:
        return sum(s.pages for s in self.sections)

    @property
    def html(self) -> str:
        body = "".join(s.html for s in self.sections)
        return (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8">{_POLICY}'
            f"<title>{escape(self.title)}</title><style>{self.css}</style></head>"
            f"<body>{body}</body></html>"
        )

    def pdf(self) -> bytes:
        """The pack printed by the browser that drew its charts (:func:`qi.images.print_pdf`)."""
        return images.print_pdf(self.html)


def format_value(value: float | str | None) -> str:
    """A value as the pack prints it: one decimal place, thousands separated; a hidden
    small number (``*``) as it is."""
    if isinstance(value, str):
        return value
    if value is None or not np.isfinite(value):
        return "–"
    return f"{value:,.1f}"


def build_pack(source, *, progress: Progress | None = None, **options) -> bytes:
    """The board pack as PDF bytes. ``source`` is a :class:`qi.store.Store` or a
    :class:`PackData`; the options are those of :func:`pack_document`. ``progress`` is
    called as the work goes on (see the module's docstring); writing the PDF, the last
    step, is :data:`PDF_SHARE` of it."""
    inner = None if progress is None else (lambda done, what: progress(done * (1 - PDF_SHARE),
                                                                       what))  # fmt: skip
    doc = pack_document(source, progress=inner, **options)
    if progress is not None:
        progress(1 - PDF_SHARE, f"Writing the PDF ({doc.pages} pages)")
    pdf = doc.pdf()
    if progress is not None:
        progress(1.0, f"Done: {doc.pages} pages, {doc.charts} chart{'s' * (doc.charts != 1)}")
    return pdf


class _Steps:
    """Counts the work done for a ``progress`` callable (which may be None)."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress, self.done, self.total = progress, 0, 1

    def step(self, what: str, units: int = 1) -> None:
        self.done += units
        if self.progress is not None:
            self.progress(min(self.done / max(self.total, 1), 1.0), what)


def pack_document(
    source,
    *,
    teams: Sequence[str] | None = None,
    measures: Sequence[str] | None = None,
    period: str | pd.Timestamp | None = None,
    as_of=None,
    rules: str = "mdc",
    phases: str = "none",
    groups: Sequence[str] | None = None,
    reference: str = "White",
    commentary: str = "",
    title: str = "Board pack",
    progress: Progress | None = None,
    made_by: str | None = None,
) -> PackDocument:
    """Everything of the pack but the printing (see the module's docstring).

    Parameters
    ----------
    source : a :class:`qi.store.Store`, or :class:`PackData` already read.
    teams, measures : names of teams and measure ids (default: all with data).
    period : the month reported (``"2026-10"``); data after it is left out. Default:
        the latest complete month (every team expected has sent it, for every measure).
    as_of : read the store as it was at this UTC instant (default: now). Ignored when
        ``source`` is :class:`PackData`.
    rules : the rule set of the charts (:data:`qi.RULE_SETS`); the matrix and icons
        always use Making Data Count.
    phases : ``"none"`` (one phase), ``"changes"`` (a new phase from the month each
        of the team's change ideas for the measure started) or ``"recorded"`` (a new
        phase at each phase recorded from a change, :mod:`qi.phasing`). Whichever is
        chosen, each chart page lists the phases recorded on it and their reasons.
    groups : groups charted besides ``All`` (default: the groups the team's change
        ideas aim at).
    reference : the reference group of the equality section.
    commentary : the board's commentary, shown as plain text.
    title : the pack's title.
    progress : called with the share of the work done and what is being done: after
        the data is read, and after each chart and funnel is built and rendered.
    made_by : who made the pack, for the appendix (default: who ``source``, a store,
        acts for; "not recorded" for :class:`PackData`).
    """
    if rules not in RULE_SETS:
        raise ValueError(f"rules must be one of {', '.join(RULE_SETS)}; got {rules!r}")
    if phases not in PHASES:
        raise ValueError(f"phases must be one of {', '.join(PHASES)}; got {phases!r}")
    images.start()  # the browser starts while the data is read and the charts are built
    steps = _Steps(progress)
    data = (
        source
        if isinstance(source, Snapshot)
        else Snapshot.from_store(source, as_of=utc_instant(as_of), teams=teams, measures=measures)
    )
    made_at = pd.Timestamp.now(tz="UTC").floor("s")
    if made_by is None and hasattr(source, "whoami"):
        who = source.whoami()
        made_by = who.label if who is not None else None
    catalogue = data.measures.set_index("id")
    if teams is not None:
        unknown = sorted(set(teams) - set(data.teams["team"]))
        if unknown:
            raise ValueError(f"unknown teams: {', '.join(unknown)}")
    if measures is not None:
        unknown = sorted(set(measures) - set(catalogue.index))
        if unknown:
            raise ValueError(f"unknown measures: {', '.join(unknown)}")
    chosen = screens.narrowed(data, teams=teams, measures=measures)
    obs = chosen.observations
    if period is None:
        if obs.empty:
            raise ValueError("no data for these teams and measures")
        # the latest month every team expected has sent (a later one is provisional)
        month = latest_complete_month(obs, not_expected=data.not_expected)
        month = obs["period"].max() if month is None else month
    else:
        month = month_start(period)
    snap = screens.narrowed(chosen, until=month)
    obs = snap.observations
    if obs.empty:
        raise ValueError(f"no data for these teams and measures up to {month:%Y-%m}")
    team_list = sorted(obs["team"].unique()) if teams is None else list(dict.fromkeys(teams))
    measure_list = [m for m in catalogue.index if m in set(obs["measure"])]
    if measures is not None:
        measure_list = [m for m in dict.fromkeys(measures) if m in set(obs["measure"])]

    # the work: reading, each chart and funnel built then rendered, the tables
    pairs = obs[obs["measure"].isin(measure_list)][["measure", "team"]].drop_duplicates()
    steps.total = 1 + 3 * len(pairs) + 2 * len(measure_list) + 1
    steps.step("Read the data")
    ctx = _Context(snap, catalogue, month, rules, phases, groups, reference)
    charts = ctx.charts(measure_list, steps)
    equality_parts = []
    for m in measure_list:
        equality_parts.append(ctx.equality(m))
        steps.step(f"Built the equality page of {catalogue.loc[m, 'name']}")
    steps.total -= 2 * (len(pairs) - len(charts))  # series with nothing to chart
    matrix = pd.DataFrame([c.facts for c in charts])

    chart_sections = []
    for i, c in enumerate(charts, start=1):
        chart_sections.append(Section(f"{c.measure_name} — {c.team}", 1, c.html()))
        steps.step(f"Rendered chart {i} of {len(charts)}")
    equality_sections = []
    for part in equality_parts:
        equality_sections += part.sections()
        steps.step(f"Rendered the funnel plot of {part.measure_name}")
    completeness = _completeness_sections(ctx, team_list, measure_list)
    steps.step("Data completeness")
    sections = [
        Section("Cover", 1, _cover(title, ctx, matrix, chosen, made_at)),
        *_matrix_sections(matrix),
        *chart_sections,
        *equality_sections,
        *completeness,
        Section("Commentary", 1, _commentary(commentary)),
        *_appendix(title, ctx, team_list, measure_list, commentary, made_by, made_at),
    ]
    return PackDocument(
        title=title, sections=sections, charts=len(charts), period=month, as_of=data.as_of,
        css=_css(title, data.as_of),
    )  # fmt: skip


# --------------------------------------------------------------------------- charts


def _chart_facts(view: screens.TeamChart, latest) -> dict:
    """The facts above a chart page: the latest value of ``All`` (``*`` where the data
    download hides it: the pack shows no more than a file would), target and icons."""
    info = view.measure
    facts = {
        "unit": view.unit, "measure": info.id, "measure_name": info.name,
        "unit_label": view.y_title, "target": info.target, "period": None, "value": None,
        "variation_icon": None, "variation_text": "No events to chart", "assurance_icon": None,
        "assurance_text": None,
    }  # fmt: skip
    if latest is None:
        return facts
    points = view.shown_points()
    at = points[(points["group"] == ALL) & (points["x"] == latest["x"])]
    hidden = at.empty or not np.isfinite(float(at["y"].iloc[0]))
    assurance = latest["assurance_icon"] if info.target is not None else None
    return {
        **facts, "period": latest["x"], "value": SUPPRESSED if hidden else float(latest["y"]),
        "variation_icon": latest["variation_icon"], "variation_text": latest["variation_text"],
        "assurance_icon": assurance,
        "assurance_text": mdc.ICON_TEXT[assurance] if assurance else None,
    }  # fmt: skip


class _Context:
    """The data of one pack (a snapshot narrowed to its teams, measures and month)."""

    def __init__(self, data: Snapshot, catalogue, month, rules, phases, groups, reference):
        self.data, self.catalogue, self.month = data, catalogue, month
        self.rules, self.phases, self.groups, self.reference = rules, phases, groups, reference

    @property
    def obs(self) -> pd.DataFrame:
        return self.data.observations

    def collaborative(self) -> str:
        return self.data.collaborative()

    def charts(self, measure_list: list[str], steps: _Steps | None = None) -> list[_Chart]:
        # every team's series summed once, and the gaps per reference group (not per
        # chart); the charts read first, then their sentences' facts in one pass
        shared = screens.SharedReads(self.data, until=self.month)
        views = []
        for measure in measure_list:
            here = self.obs[self.obs["measure"] == measure]
            for team in sorted(here["team"].unique()):
                view = self._view(team, measure, shared)
                if view is not None:
                    views.append(view)
                if steps is not None:
                    steps.step(f"Read chart {len(views)}: {team}")
        views = screens.with_facts(views, self.data, shared)
        out = []
        for view in views:
            out.append(self._chart(view))
            if steps is not None:
                steps.step(f"Built chart {len(out)}: {view.unit}")
        return out

    def _view(self, team: str, measure: str, shared=None) -> screens.TeamChart | None:
        """The team's chart of ``measure`` without its facts (None: nothing to chart)."""
        wanted = (
            list(self.groups)
            if self.groups is not None
            else screens.change_groups(self.data, team, measure, until=self.month)
        )
        view = screens.team_chart(
            self.data, unit=team, measure=measure, groups=[ALL, *wanted], rules=self.rules,
            starts=screens.CHANGES if self.phases == "changes" else (), until=self.month,
            recorded=self.phases == "recorded", shared=shared, facts=False,
        )  # fmt: skip
        rows = view.charted.rows
        if view.empty or rows.empty or not (rows["group"] == ALL).any():
            return None  # nothing to chart (a rare event that never happened)
        return view

    def _chart(self, view: screens.TeamChart) -> _Chart:
        team, measure = view.unit, view.measure.id
        rows = view.charted.rows
        info = view.measure
        latest = view.latest(ALL)
        # up to two series share one chart (each in its colour); more: small multiples
        facet = len(view.groups) > 2
        panels = len(view.groups) if facet else 1
        marked = len(view.actions) + (
            view.cycles.dropna(subset=["start"]).groupby(["change_idea", "cycle"]).ngroups
            if len(view.cycles) else 0
        )  # fmt: skip
        summary = view.sentence()  # the chart in a sentence, as a file would show it
        room = _chart_room(marked, bool(view.drawn_as)) - _summary_room(summary)
        height = max(int(room / MM_PER_PX), 170 * panels + 130 if panels > 1 else 300)
        fig = view.figure(facet=facet, height=height, width=CHART_WIDTH)
        fig.update_layout(hovermode=False)
        image = images.submit(fig, "svg", width=CHART_WIDTH, height=height)
        facts = _chart_facts(view, latest)
        return _Chart(
            team=team, measure=measure, measure_name=info.name, facts=facts, image=image,
            height=height, cycles=view.cycles, uploads=list(view.uploads),
            starts=list(view.starts), groups=list(view.groups), first=rows["period"].min(),
            last=rows["period"].max(), rules=self.rules, as_of=self.data.as_of,
            chart_type=info.chart, multiplier=info.multiplier, note=view.drawn_as,
            actions=view.actions, marks=chart_key(fig, every=True),
            numbered=bool(fig.layout.meta["numbered"]), max_height=int(room),
            alt=description(fig), summary=summary,
            phases=view.phases[view.phases["group"].isin(view.groups)],
            recorded=self.phases == "recorded",
        )  # fmt: skip

    # ------------------------------------------------------------------- equality
    def equality(self, measure: str) -> _Equality:
        view = screens.equality_month(self.data, measure, month=self.month,
                                      reference=self.reference)  # fmt: skip
        info = view.measure
        image, key, alt = None, None, ""
        if view.funnel is not None:
            fun = view.funnel
            fig = funnel_figure(
                fun.points, fun.result.limits,
                title=f"{info.name}: teams, {fun.first:%b %Y} to {fun.last:%b %Y}",
                y_title=info.unit, x_title=info.denominator_definition or "Denominator",
                height=380, width=CHART_WIDTH, improvement=info.improvement,
            )  # fmt: skip
            fig.update_layout(hovermode=False)
            key, alt = chart_key(fig), description(fig)
            image = images.submit(fig, "svg", width=CHART_WIDTH, height=380)
        return _Equality(
            measure_name=info.name, teams=list(view.teams), groups=list(view.groups),
            reference=view.reference, gaps=view.gaps, risk=info.proportion, month=self.month,
            image=image, key=key, alt=alt,
        )  # fmt: skip


@dataclass
class _Chart:
    team: str
    measure: str
    measure_name: str
    facts: dict
    image: Future
    height: int
    cycles: pd.DataFrame
    uploads: list[int]
    starts: list[pd.Timestamp]
    groups: list[str]
    first: pd.Timestamp
    last: pd.Timestamp
    rules: str
    as_of: pd.Timestamp
    chart_type: str
    multiplier: float
    note: str | None = None
    actions: pd.DataFrame | None = None
    marks: pd.DataFrame | None = None
    numbered: bool = False
    max_height: int = 140
    alt: str = ""
    phases: pd.DataFrame | None = None
    recorded: bool = False
    summary: str = ""

    def provenance(self) -> str:
        phases = (
            "new phase from "
            + ", ".join(f"{s:%Y-%m}" for s in self.starts)
            + (
                " (phases recorded from changes)"
                if self.recorded
                else " (when a change idea started)"
            )
            if self.starts
            else "one phase (no breaks)"
        )
        scale = f" × {self.multiplier:,g}" if self.multiplier != 1 else ""
        return (
            f"Provenance: data as shown at {_iso(self.as_of)}, from uploads "
            f"{', '.join(map(str, self.uploads))}; rules: {RULE_SETS[self.rules].label} "
            f"({self.rules}); phases: {phases}; months {self.first:%Y-%m} to {self.last:%Y-%m}; "
            f"groups: {', '.join(self.groups)}; {self.chart_type} chart{scale}."
        )

    def html(self) -> str:
        f = self.facts
        svg = self.image.result(timeout=images.TIMEOUT + 30)
        return (
            f'<section class="chart-page"><h2>{escape(self.measure_name)}</h2>'
            f'<p class="sub">{escape(self.team)}</p>{_facts(f)}'
            f'<div class="chart"><img style="max-height:{self.max_height}mm" alt="'
            f'{escape(self.alt or self.measure_name + " — " + self.team)}" '
            f'src="data:image/svg+xml;base64,{base64.b64encode(svg).decode()}"></div>'
            + (f'<p class="note">{escape(self.note)}</p>' if self.note else "")
            + (f'<p class="summary">{escape(self.summary)}</p>' if self.summary else "")
            + _marks_table(self.marks, self.numbered, self.cycles, self.actions, self.as_of)
            + _phases_note(self.phases, self.recorded)
            + f'<p class="provenance">{escape(self.provenance())}</p></section>'
        )


#: Millimetres on the page per pixel of a chart drawn :data:`CHART_WIDTH` wide across
#: the page (A4 landscape, 273 mm between the margins).
MM_PER_PX = 273 / CHART_WIDTH


def _chart_room(marks: int, note: bool) -> float:
    """Millimetres of page height left for a chart above a table of ``marks`` rows (the
    page's 184 mm less the heading and facts, the table, the provenance and a note)."""
    table = 13 + 7 * marks if marks else 6
    return max(70.0, 184 - 29 - table - 10 - (9 if note else 0) - 4)


def _phases_note(phases: pd.DataFrame | None, drawn: bool) -> str:
    """The phases recorded from changes on a chart, each with its reason (as typed)."""
    if phases is None or phases.empty:
        return ""
    items = "".join(
        f"<li>{escape(str(p.group))}, from {pd.Timestamp(p.start):%B %Y}: "
        f"{escape(str(p.reason))} (recorded by {escape(str(p.created_by))})</li>"
        for p in phases.itertuples(index=False)
    )
    how = "drawn on the chart" if drawn else "not drawn: this pack charts other phases"
    return f'<p class="note">Recorded phases ({how}):</p><ul class="note">{items}</ul>'


#: Characters of a chart's sentence per line of the pack's page (8.5 pt across 273 mm,
#: counted low: words are not broken).
SUMMARY_LINE_CHARS = 150


def _summary_room(summary: str) -> float:
    """Millimetres the chart's sentence takes under it (none without one)."""
    if not summary:
        return 0.0
    return 3 + 4.5 * math.ceil(len(summary) / SUMMARY_LINE_CHARS)


def _marks_table(marks, numbered: bool, cycles: pd.DataFrame, actions, as_of) -> str:
    """The change cycles and actions on a chart, in the order of their marks (numbered
    where the chart shows numbers), with each cycle's learning and each action's owner;
    cycles the chart could not mark (no start) follow."""
    actions = actions if actions is not None else pd.DataFrame()
    marks = marks if marks is not None else pd.DataFrame(columns=["kind", "source"])
    if cycles.empty and actions.empty:
        return '<p class="note">No change ideas, PDSA cycles or actions recorded on this '\
            "measure.</p>"  # fmt: skip
    today = as_of.tz_convert("UTC").tz_localize(None).normalize()
    rows, shown = [], set()
    for m in marks.itertuples(index=False):
        mark = f'<td class="mark"><span>{escape(str(m.mark))}</span></td>' if numbered else ""
        if m.kind == "action" and m.source in actions.index:
            a = actions.loc[m.source]
            done = pd.notna(a["done"])
            due = f"due {_date(a['due'])}" if pd.notna(a["due"]) else "no due date"
            state = f"done {_date(a['done'])}" if done else (
                f"overdue ({due})" if pd.notna(a["due"]) and a["due"] < today else due)  # fmt: skip
            what = a["action"] or a["decision"]
            rows.append(
                f"<tr>{mark}<td>{_month(a['period'])}</td><td>"
                f"{escape(str(a['raised_by']).capitalize())} action: {escape(str(what))}</td>"
                f"<td></td><td>{escape(state)}</td>"
                f"<td>Owner: {escape(str(a['owner']))}</td></tr>"
            )
        elif m.kind == "PDSA cycle" and m.source in cycles.index:
            first = cycles.loc[m.source]
            same = cycles[(cycles["change_idea"] == first["change_idea"])
                          & (cycles["cycle"] == first["cycle"])]  # fmt: skip
            shown.update(same.index)
            rows.append(f"<tr>{mark}" + _cycle_cells(same) + "</tr>")
    for i in cycles.index:
        if i not in shown:
            same = cycles[(cycles["change_idea"] == cycles.at[i, "change_idea"])
                          & (cycles["cycle"] == cycles.at[i, "cycle"])]  # fmt: skip
            shown.update(same.index)
            rows.append("<tr>" + "<td></td>" * numbered + _cycle_cells(same) + "</tr>")
    head = "<th>Mark</th>" * numbered + (
        "<th>When</th><th>Change idea or action</th><th>Group</th><th>Stage</th>"
        "<th>Learning, or who owns the action</th>")  # fmt: skip
    return (
        '<h3>Change cycles and actions on the chart</h3><table class="grid cycles">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _cycle_cells(rows: pd.DataFrame) -> str:
    """One PDSA cycle (its rows: one per stage recorded) as table cells."""
    r = rows.iloc[-1]
    start, end = rows["start"].min(), rows["end"].max()
    when = f"{_date(start)} to {_date(end)}" if pd.notna(end) else f"from {_date(start)}"
    group = escape(str(r["group"])) if isinstance(r["group"], str) else "all"
    learning = "; ".join(dict.fromkeys(str(x) for x in rows["learning"] if isinstance(x, str)))
    return (
        f"<td>{when}</td><td>PDSA {int(r['cycle'])}: {escape(str(r['change_idea']))}</td>"
        f"<td>{group}</td><td>{escape(str(r['stage']))}</td><td>{escape(learning)}</td>"
    )


def _key_table(key: pd.DataFrame | None, heading: str) -> str:
    """The numbered marks of a chart whose labels did not fit, as a table (plain text)."""
    if key is None or key.empty:
        return ""
    teams = (key["kind"] == "team").all()
    rows = "".join(
        f'<tr><td class="mark"><span>{escape(str(r.mark))}</span></td>'
        + ("" if teams else f"<td>{escape(str(r.month))}</td>")
        + f"<td>{escape(str(r.text))}</td></tr>"
        for r in key.itertuples(index=False)
    )
    head = "<th>Mark</th>" + ("" if teams else "<th>Month</th>") + "<th>What</th>"
    return (
        f'<h3>{escape(heading)}</h3><table class="grid key"><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def _month(value) -> str:
    return "–" if value is None or pd.isna(value) else f"{pd.Timestamp(value):%b %Y}"


def _facts(f: dict) -> str:
    target = format_value(f["target"]) if f["target"] is not None else "none set"
    assurance = (
        _icon_line(f["assurance_icon"], f["assurance_text"])
        if f["assurance_icon"]
        else _icon_line(None, "Assurance: no target, so none")
    )
    return (
        '<table class="facts"><tr>'
        f'<td><span class="label">Latest ({_month(f["period"])})</span> '
        f'<b class="value">{format_value(f["value"])}</b> {escape(str(f["unit_label"]))}</td>'
        f'<td><span class="label">Target</span> {target}</td>'
        f'<td>{_icon_line(f["variation_icon"], f["variation_text"])}</td>'
        f"<td>{assurance}</td></tr></table>"
    )


def _icon_line(name: str | None, text: str, size: str = "9mm") -> str:
    """An icon with its words beside it (never wrapping under it)."""
    return f'<div class="icon-line">{_icon(name, size)}<span>{escape(str(text))}</span></div>'


def _icon(name: str | None, size: str = "9mm") -> str:
    if not isinstance(name, str):
        return ""
    svg = base64.b64encode(mdc.icon_svg(name).encode()).decode()
    return (
        f'<img class="icon" style="width:{size};height:{size}" alt="{escape(mdc.ICON_TEXT[name])}"'
        f' src="data:image/svg+xml;base64,{svg}">'
    )


def _text(value, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _date(value) -> str:
    return "" if pd.isna(value) else f"{pd.Timestamp(value):%d %b %Y}"


def _iso(t: pd.Timestamp) -> str:
    """The instant in UTC, to the microsecond when it has one (as the data was read)."""
    t = t.tz_convert("UTC")
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if t.microsecond else "%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- sections


#: The order of the cover's "what changed" list: concern, improvement, then neither.
_CHANGE_ORDER = {"concern": 0, "improvement": 1, "neutral": 2}


def what_changed(matrix: pd.DataFrame) -> pd.DataFrame:
    """The series of a pack's summary matrix whose latest point is special cause
    variation: concern first, then improvement, then neither (each in the matrix's
    order), with ``kind``."""
    if matrix.empty:
        return matrix.assign(kind=pd.Series(dtype=str))
    kind = matrix["variation_icon"].astype(str).str.split("_").str[0]
    found = matrix.assign(kind=kind)[kind.isin(list(_CHANGE_ORDER))]
    order = found["kind"].map(_CHANGE_ORDER)
    return found.iloc[np.argsort(order.to_numpy(), kind="stable")]


def _provisional_notes(ctx: _Context, chosen: Snapshot) -> list[str]:
    """The months not every team expected has sent: in the pack, or after its month."""
    notes = []
    for month, teams in chosen.provisional_months().items():
        if month <= ctx.month:
            notes.append(f"{month:%B %Y} is provisional: {teams} have sent it, so its "
                         "values may change.")  # fmt: skip
        else:
            notes.append(f"{month:%B %Y} is provisional ({teams} have sent it) and is not "
                         "in this pack.")  # fmt: skip
    return notes


def _cover(title, ctx: _Context, matrix: pd.DataFrame, chosen: Snapshot, made_at) -> str:
    changed = what_changed(matrix)
    items = [
        f"<li>{_icon(r['variation_icon'], '7mm')}<span><b>{escape(r['measure_name'])} — "
        f"{escape(r['unit'])}</b>: {escape(r['variation_text'])}; latest "
        f"({_month(r['period'])}) {format_value(r['value'])} {escape(str(r['unit_label']))}"
        "</span></li>"
        for _, r in changed.head(CHANGES_SHOWN).iterrows()
    ]
    if len(changed) > CHANGES_SHOWN:
        items.append(f"<li><span>and {len(changed) - CHANGES_SHOWN} more special cause "
                     "variation in the summary matrix.</span></li>")  # fmt: skip
    if changed.empty:
        items.append(
            f"<li><span>No series shows special cause variation: the latest point of each of "
            f"the {len(matrix)} series is common cause variation.</span></li>"
        )
    items += [f'<li class="provisional"><span>{escape(n)}</span></li>'
              for n in _provisional_notes(ctx, chosen)]  # fmt: skip
    glance = _at_a_glance(matrix)
    lines = len(items) + 2 * (len(changed) > 0 and len(items) > 1)  # long items wrap
    glance += _cover_grid(matrix, room=COVER_MM - COVER_USED_MM - COVER_ITEM_MM * lines)
    teams = matrix["unit"].nunique() if len(matrix) else 0
    measures = matrix["measure"].nunique() if len(matrix) else 0
    return (
        f'<section class="cover"><h1>{escape(title)}</h1>'
        f'<p class="lead">{escape(ctx.collaborative())} — {ctx.month:%B %Y}</p>'
        f'<p class="sub">{len(matrix)} charts: {teams} team{"s" * (teams != 1)}, '
        f"{measures} measure{'s' * (measures != 1)}. Variation and assurance follow NHS "
        "England's Making Data Count; each icon's meaning is written beside it. Counts of "
        "people are not printed in this pack.</p>"
        f'<h2>What changed in {ctx.month:%B %Y}</h2><ul class="changes">{"".join(items)}</ul>'
        f"{glance}"
        f'<p class="made">Made {_iso(made_at)} from the data as shown at {_iso(ctx.data.as_of)}. '
        "The summary matrix follows; how to rebuild this pack is in the appendix.</p>"
        "</section>"
    )


def _at_a_glance(matrix: pd.DataFrame) -> str:
    """How many series' latest points are of each variation, and how many with a target
    will pass, fail or hit and miss it, in words."""
    if matrix.empty:
        return ""
    kind = matrix["variation_icon"].fillna("none").astype(str).str.split("_").str[0]
    counts = kind.value_counts()
    words = [f"{counts.get(k, 0)} {w}" for k, w in (
        ("concern", "special cause of concern"), ("improvement", "special cause of improvement"),
        ("neutral", "special cause neither improvement nor concern"),
        ("common", "common cause"), ("none", "with nothing to chart"))
        if counts.get(k, 0) or k == "common"]  # fmt: skip
    sure = matrix["assurance_icon"].dropna().astype(str).value_counts()
    targets = [f"{sure.get(k, 0)} {w}" for k, w in (
        ("assurance_fail", "will consistently fail it"), ("assurance_hit_and_miss",
         "may hit or miss it (the target lies within the limits)"),
        ("assurance_pass", "will consistently pass it"))
        if sure.get(k, 0)]  # fmt: skip
    text = f"Latest points of the {len(matrix)} series: {', '.join(words)}."
    if targets:
        text += f" Of the {int(sure.sum())} with a target: {', '.join(targets)}."
    return f'<p class="glance">{escape(text)}</p>'


def uploads_read(data: Snapshot, teams, measures, month: pd.Timestamp) -> pd.DataFrame:
    """Per team: the uploads whose rows a pack of ``teams`` × ``measures`` up to ``month``
    reads, as the store held them at ``data.as_of`` (``uploads``, ``first``, ``last``:
    upload ids; ``latest_at``, ``latest_by``: the latest upload; ``rolled_back``: uploads
    of these rows rolled back by then, not read)."""
    s = data.upload_slices
    s = s[s["team"].isin(list(teams)) & s["measure"].isin(list(measures))
          & (pd.to_datetime(s["period"]) <= month)]  # fmt: skip
    back = s["rolled_back_at"].notna()
    read = s[~back].sort_values(["uploaded_at", "upload_id"])
    out = read.groupby("team", sort=True).agg(
        uploads=("upload_id", "nunique"), first=("upload_id", "min"), last=("upload_id", "max"),
        latest_at=("uploaded_at", "last"), latest_by=("uploaded_by", "last"),
    )  # fmt: skip
    gone = s[back].groupby("team")["upload_id"].nunique()
    # a team whose every upload of these rows was rolled back reads none, and says so
    out = out.reindex(out.index.union(gone.index)).rename_axis("team")
    out["uploads"] = out["uploads"].fillna(0).astype(int)
    return out.assign(rolled_back=gone.reindex(out.index).fillna(0).astype(int)).reset_index()


def _uploads_table(table: pd.DataFrame) -> str:
    if table.empty:
        return "none"
    rows = "".join(
        f"<tr><td>{escape(str(r.team))}</td><td>{int(r.uploads)}</td>"
        + (f"<td>{int(r.first)} to {int(r.last)}</td><td>"
           f"{pd.Timestamp(r.latest_at):{UPLOADED_AT}}, {escape(str(r.latest_by))}</td>"
           if r.uploads else "<td>–</td><td>–</td>")
        + f"<td>{int(r.rolled_back) or ''}</td></tr>"
        for r in table.itertuples(index=False)
    )  # fmt: skip
    cols = "".join(f'<col style="width: {w}%">' for w in UPLOAD_WIDTHS)
    return (
        f'<table class="grid uploads"><colgroup>{cols}</colgroup>'
        "<thead><tr><th>Team</th><th>Uploads read</th>"
        "<th>Upload numbers</th><th>Latest upload (UTC), by</th><th>Rolled back, not read"
        f"</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _cover_grid(matrix: pd.DataFrame, room: float) -> str:
    """Teams × measures, each cell the variation and assurance icons of its latest point
    (group All), where ``room`` (mm) holds it; else nothing (the matrix follows)."""
    if matrix.empty:
        return ""
    units = list(dict.fromkeys(matrix["unit"]))
    measures = list(dict.fromkeys(matrix["measure"]))
    if len(measures) > GRID_MEASURES or GRID_HEAD_MM + GRID_ROW_MM * len(units) > room:
        return ""
    names = matrix.drop_duplicates("measure").set_index("measure")["measure_name"]
    cells = matrix.set_index(["unit", "measure"])
    head = "".join(f"<th>{escape(str(names[m]))}</th>" for m in measures)
    rows = []
    for u in units:
        tds = []
        for m in measures:
            if (u, m) not in cells.index:
                tds.append('<td class="none">–</td>')
                continue
            r = cells.loc[(u, m)]
            r = r.iloc[0] if isinstance(r, pd.DataFrame) else r
            tds.append(f"<td>{_icon(r['variation_icon'], '6.5mm')}"
                       f"{_icon(r['assurance_icon'], '6.5mm')}</td>")  # fmt: skip
        rows.append(f"<tr><th>{escape(str(u))}</th>{''.join(tds)}</tr>")
    return (
        "<h2>At a glance: variation and assurance of each latest point</h2>"
        f'<table class="glance-grid"><thead><tr><th></th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _appendix(
    title, ctx: _Context, team_list, measure_list, commentary, made_by, made_at
) -> list[Section]:
    """How the pack was made, on one page, when it is of a few teams. Of more, the
    uploads read (a line per team, so they list the teams too) and the command that
    rebuilds the pack (which names every team) follow on pages of their own."""
    names = [ctx.catalogue.loc[m, "name"] for m in measure_list]
    uploads = uploads_read(ctx.data, team_list, measure_list, ctx.month)
    # every team of the pack, one with nothing read too
    uploads = uploads.set_index("team").reindex(list(team_list)).rename_axis("team")
    uploads = uploads.fillna({"uploads": 0, "rolled_back": 0}).reset_index()
    lines = _upload_lines(uploads)
    command = ["qi", "report", "--output", "pack.pdf", "--period", f"{ctx.month:%Y-%m}",
               "--as-of", _iso(ctx.data.as_of), "--rules", ctx.rules, "--phases", ctx.phases,
               "--teams", *team_list, "--measures", *measure_list]  # fmt: skip
    if ctx.groups is not None:
        command += ["--groups", *ctx.groups]
    command += ["--reference", ctx.reference, "--title", title]
    command_text = shlex.join(command) + (" --commentary FILE" if commentary else "")
    inline = _appendix_fits(lines, "; ".join(team_list), "; ".join(names), command_text)
    more = [] if inline else [uploads.iloc[i:j] for i, j in _pages_of(lines)]
    rows = [
        ("Collaborative", escape(ctx.collaborative())),
        ("Month reported", f"{ctx.month:%B %Y}"),
        ("Data as shown at", _iso(ctx.data.as_of)),
        ("Pack made", f"{_iso(made_at)} by {escape(made_by or 'someone not recorded')}"),
        ("Uploads", _uploads_table(uploads) if inline else
         "those of each team, on the "
         + ("next page" if len(more) == 1 else f"next {len(more)} pages")),
        (f"Teams ({len(team_list)})", escape("; ".join(team_list)) if inline else
         "each listed with its uploads"),
        (f"Measures ({len(measure_list)})", escape("; ".join(names))),
        ("Chart rules", escape(f"{RULE_SETS[ctx.rules].label}; matrix and icons: Making "
                               "Data Count")),
        ("Phases", {"none": "one phase per chart",
                    "changes": "a new phase from the month each change idea started",
                    "recorded": "a new phase at each phase recorded from a change (with "
                    "its reason under the chart)"}[ctx.phases]),
        ("Equality compared with", escape(ctx.reference)),
    ]  # fmt: skip
    code = f"<code>{escape(command_text)}</code>"
    rows.append(("To rebuild this pack", code if inline else "the command on the last page "
                 "of this appendix"))  # fmt: skip
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    out = [Section("Appendix", 1, (
        '<section class="appendix"><h1>Appendix: how this pack was made</h1>'
        '<p class="sub">The data is read as the store held it at one instant, so the '
        f"command {'below' if inline else 'at the end'} rebuilds this pack, page for page, "
        "after later uploads or rollbacks (when and by whom it was made aside).</p>"
        f'<table class="cover-table">{table}</table></section>'
    ))]  # fmt: skip
    if inline:
        return out
    for i, part in enumerate(more, start=1):
        head = "Appendix: uploads read" + (f" ({i} of {len(more)})" if len(more) > 1 else "")
        out.append(Section(head, 1, (
            f'<section class="appendix"><h2>{head}</h2>{_uploads_table(part)}</section>'
        )))  # fmt: skip
    head = "Appendix: the command that rebuilds this pack"
    out.append(Section(head, math.ceil(len(command_text) / COMMAND_CHARS), (
        f'<section class="appendix"><h2>{head}</h2><p>{code}</p></section>'
    )))  # fmt: skip
    return out


def _appendix_fits(lines: list[int], team_text: str, measure_text: str, command: str) -> bool:
    """Whether the appendix's first page holds the uploads table (``lines``: each team's
    row's), the list of teams, the measures and the rebuild command (wrapped lines)
    besides the rest."""
    if len(lines) > UPLOADS_INLINE:
        return False
    used = (
        APPENDIX_FIXED_MM
        + sum(_row_mm(n) for n in lines)
        + TEXT_LINE_MM * math.ceil(len(team_text) / TEXT_CHARS)
        + TEXT_LINE_MM * math.ceil(len(measure_text) / TEXT_CHARS)
        + CODE_LINE_MM * math.ceil(len(command) / LINE_CHARS)
    )
    return used <= APPENDIX_MM


def _upload_lines(table: pd.DataFrame) -> list[int]:
    """The lines each row of the uploads table takes: its team's name and its latest
    upload's "when, by" wrap in their columns (:data:`UPLOAD_WIDTHS`); "by" goes to a
    line of its own when the two do not share one."""

    when = len(f"{pd.Timestamp(0):{UPLOADED_AT}}, ")

    def latest(by: str) -> int:
        if when + len(by) <= UPLOAD_LATEST_CHARS:
            return 1
        return 1 + math.ceil(len(by) / UPLOAD_LATEST_CHARS)

    return [
        max(math.ceil(len(str(r.team)) / UPLOAD_NAME_CHARS),
            latest(str(r.latest_by)) if r.uploads else 1, 1)
        for r in table.itertuples(index=False)
    ]  # fmt: skip


def _row_mm(lines: int) -> float:
    """The height of an uploads row of ``lines`` lines."""
    return UPLOAD_ROW_MM + TEXT_LINE_MM * (lines - 1)


def _pages_of(lines: list[int]) -> list[tuple[int, int]]:
    """Rows ``[i, j)`` of each page of the uploads table, rows of ``lines`` lines each,
    as many as :data:`UPLOADS_ROWS` rows of one line take (a row longer than a page has
    one of its own)."""
    room = UPLOADS_ROWS * UPLOAD_ROW_MM + 1e-6  # (25 rows of 5.2 mm sum past 130.0)
    pages, start, used = [], 0, 0.0
    for i, n in enumerate(lines):
        if used + _row_mm(n) > room and i > start:
            pages.append((start, i))
            start, used = i, 0.0
        used += _row_mm(n)
    return [*pages, (start, len(lines))] if lines else []


def _matrix_sections(matrix: pd.DataFrame) -> list[Section]:
    if matrix.empty:
        return [Section("Summary matrix", 1, '<section><h1>Summary matrix</h1>'
                        '<p class="note">No series.</p></section>')]  # fmt: skip
    pages = math.ceil(len(matrix) / MATRIX_ROWS)
    out = []
    for i in range(pages):
        chunk = matrix.iloc[i * MATRIX_ROWS : (i + 1) * MATRIX_ROWS]
        rows = "".join(
            f"<tr><td>{escape(r['measure_name'])}</td><td>{escape(r['unit'])}</td>"
            f"<td>{_month(r['period'])}</td>"
            f'<td class="num">{format_value(r["value"])}</td>'
            f'<td class="num">{format_value(r["target"])}</td>'
            f'<td>{_icon_line(r["variation_icon"], r["variation_text"], "8mm")}</td>'
            f"<td>{_icon_line(r['assurance_icon'], _text(r['assurance_text'], 'No target'), '8mm')}"
            "</td></tr>"
            for _, r in chunk.iterrows()
        )
        heading = "Summary matrix" + (f" ({i + 1} of {pages})" if pages > 1 else "")
        # each page of the matrix a heading of its own: the PDF's outline, made of its
        # headings, leads to each page
        out.append(Section(heading, 1, (
            f"<section><h1>{heading}</h1>"
            '<p class="sub">Group: All. Latest month of each series; Making Data Count '
            "variation (the latest point) and assurance (against the target).</p>"
            '<table class="grid matrix"><colgroup><col style="width: 21%">'
            '<col style="width: 19%"><col style="width: 7.5%"><col style="width: 6.5%">'
            '<col style="width: 6%"><col style="width: 20.5%"><col style="width: 19.5%">'
            "</colgroup><thead><tr><th>Measure</th><th>Team</th>"
            '<th>Latest month</th><th class="num">Latest value</th><th class="num">Target</th>'
            "<th>Variation</th>"
            f"<th>Assurance</th></tr></thead><tbody>{rows}</tbody></table></section>"
        )))  # fmt: skip
    return out


@dataclass
class _Equality:
    measure_name: str
    teams: list[str]
    groups: list[str]
    reference: str | None
    gaps: pd.DataFrame
    risk: bool
    month: pd.Timestamp
    image: Future | None
    key: pd.DataFrame | None = None
    alt: str = ""

    def _bands(self) -> list[list[str]]:
        """The groups of each gap table (:data:`GAP_GROUPS` at most in one)."""
        return [self.groups[i : i + GAP_GROUPS] for i in range(0, len(self.groups), GAP_GROUPS)]

    def _rows(self) -> int:
        """Teams on one page: their rows in every table together fill
        :data:`EQUALITY_ROWS`."""
        return max(1, EQUALITY_ROWS // max(1, len(self._bands())))

    def sections(self) -> list[Section]:
        per_page = self._rows()
        pages = max(1, math.ceil(len(self.teams) / per_page))
        beside = self._fits_under_table()
        out = []
        for i in range(pages):
            teams = self.teams[i * per_page : (i + 1) * per_page]
            head = f"Equality: {self.measure_name}"
            head += f" ({i + 1} of {pages})" if pages > 1 else ""
            body = self._table(teams)
            if i == 0 and beside:
                body += self._funnel()
            out.append(self._section(head, body, lead=True))
        if not beside:
            out += self._funnel_sections()
        return out

    def _fits_under_table(self) -> bool:
        """Whether the plot, with its key beside it, fits under the first page's gap
        tables (each row as many lines as its team's name takes, a table after the first
        a line more for its header; the key's names of a line or two)."""
        if self.image is None:
            return True  # (a note, not a plot)
        bands = max(1, len(self._bands()))
        names = sum(math.ceil(len(t) / TEAM_CHARS) for t in self.teams[: self._rows()])
        table = bands * names + (bands - 1)
        key_names = [] if self.key is None else self.key["text"].astype(str)
        key = sum(math.ceil(len(t) / BESIDE_CHARS) for t in key_names)
        return table <= EQUALITY_ROWS and key <= KEY_BESIDE

    def _section(self, head: str, body: str, *, lead: bool) -> Section:
        kind = "proportion" if self.risk else "rate"
        sub = (
            f'<p class="sub">Each group\'s {kind} as a ratio to the '
            f"{escape(str(self.reference))} group's, {self.month:%B %Y}, with its 95 % "
            "interval: 1 is no gap; above 1 the group's "
            f"{kind} is higher. Bold: the interval leaves out 1.</p>"
            if lead
            else ""
        )
        return Section(head, 1, f'<section class="equality"><h2>{escape(head)}</h2>'
                                f"{sub}{body}</section>")  # fmt: skip

    def _funnel_sections(self) -> list[Section]:
        """The plot on a page of its own, its key of many teams below it in columns and
        on the pages after it (each page a heading of its own)."""
        key = self.key if self.key is not None else pd.DataFrame({"text": []})
        columns = key_columns(key["text"])
        first, rows = KEY_FIRST_LINES * columns, KEY_LINES * columns
        parts = [key.iloc[:first]] + [
            key.iloc[i : i + rows] for i in range(first, len(key), rows)
        ]
        out = []
        for i, part in enumerate(parts):
            head = f"Equality: {self.measure_name}, funnel plot"
            head += f" ({i + 1} of {len(parts)})" if len(parts) > 1 else ""
            body = self._plot() if i == 0 else ""
            if len(part):
                body += _key_columns(part, "Teams" if i == 0 else "Teams (continued)",
                                     columns)  # fmt: skip
            out.append(self._section(head, body, lead=False))
        return out

    def _table(self, teams: list[str]) -> str:
        if self.gaps.empty or not self.groups:
            return f'<p class="note">No {escape(str(self.reference))} group to compare with in '\
                f"{self.month:%B %Y}.</p>"  # fmt: skip
        cells = {(r.unit, r.group): r for r in self.gaps.itertuples(index=False)}
        return "".join(self._band(teams, band, cells) for band in self._bands())

    def _band(self, teams: list[str], groups: list[str], cells: dict) -> str:
        """One gap table: ``teams`` × ``groups`` (at most :data:`GAP_GROUPS`)."""
        head = "".join(f'<th class="num">{escape(g)}</th>' for g in groups)
        body = ""
        for team in teams:
            tds = ""
            for g in groups:
                r = cells.get((team, g))
                if r is None or not np.isfinite(r.ratio):
                    tds += '<td class="num">–</td>'
                    continue
                text = (
                    f"{r.ratio:.2f} ({r.ratio_lower:.2f}–{r.ratio_upper:.2f})"
                    if np.isfinite(r.ratio_lower) and np.isfinite(r.ratio_upper)
                    else f"{r.ratio:.2f} (no interval)"
                )
                strong = r.ratio_lower > 1 or r.ratio_upper < 1  # False for NaN
                tds += f'<td class="num">{"<b>" + text + "</b>" if strong else text}</td>'
            body += f"<tr><td>{escape(team)}</td>{tds}</tr>"
        # in several tables, each group's column as wide as in a full one (they line up)
        cols = (
            f'<col style="width: {66 / GAP_GROUPS:g}%">' * GAP_GROUPS
            if len(self.groups) > GAP_GROUPS
            else ""
        )
        return (
            f'<table class="grid gaps"><colgroup><col style="width: 34%">{cols}</colgroup>'
            f"<thead><tr><th>Team</th>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )

    def _plot(self) -> str:
        svg = self.image.result(timeout=images.TIMEOUT + 30)
        return (
            f'<div class="chart"><img style="max-height:95mm" alt="'
            f'{escape(self.alt or "Funnel plot: " + self.measure_name)}" '
            f'src="data:image/svg+xml;base64,{base64.b64encode(svg).decode()}"></div>'
        )

    def _funnel(self) -> str:
        if self.image is None:
            return '<p class="note">A funnel plot needs at least three teams with data.</p>'
        chart = self._plot()
        key = _key_table(self.key, "Teams")
        if not key:
            return chart
        # the numbered teams beside the plot, not below it: the page keeps its one page
        return (
            f'<table class="side"><tr><td class="side-chart">{chart}</td>'
            f'<td class="side-key">{key}</td></tr></table>'
        )


def key_columns(names: Iterable[str]) -> int:
    """The columns of a funnel plot's key of these team names (:data:`KEY_COLUMNS`)."""
    longest = max((len(str(n)) for n in names), default=0)
    return next((columns for chars, columns in KEY_COLUMNS if longest <= chars), 1)


def _key_columns(key: pd.DataFrame, heading: str, columns: int) -> str:
    """A funnel plot's numbered teams as a list read down columns (plain text)."""
    items = "".join(
        f'<li><span class="mark">{escape(str(r.mark))}</span>{escape(str(r.text))}</li>'
        for r in key.itertuples(index=False)
    )
    return (
        f'<h3>{escape(heading)}</h3>'
        f'<ul class="key-columns" style="column-count: {columns}">{items}</ul>'
    )


def _completeness_sections(ctx: _Context, team_list, measure_list) -> list[Section]:
    start = ctx.month - pd.DateOffset(months=RECENT_MONTHS - 1)
    view = screens.completeness(
        ctx.data, teams=team_list, measures=measure_list, start=start, end=ctx.month,
        today=ctx.data.as_of.tz_convert("UTC").tz_localize(None).date(),
    )  # fmt: skip
    status = view.status
    table = view.by_team()
    last = table.pop("last").fillna("")
    counts = table
    total = counts.sum()
    summary = (
        f"From {start:%B %Y} to {ctx.month:%B %Y}, {len(status)} team-months: "
        f"{total['on time']} on time, {total['late']} late, {total['missing']} missing"
        + (f", {total['not due yet']} not due yet" if total["not due yet"] else "")
        + (f", {total['not expected']} not expected" if total["not expected"] else "")
        + f"; {int(total['corrected'])} corrected after the first upload. "
        f"Data is due by the 15th of the following month (read at {_iso(ctx.data.as_of)})."
    )
    pages = max(1, math.ceil(len(team_list) / COMPLETENESS_ROWS))
    out = []
    for i in range(pages):
        part = team_list[i * COMPLETENESS_ROWS : (i + 1) * COMPLETENESS_ROWS]
        rows = "".join(
            f"<tr><td>{escape(t)}</td>"
            + "".join(f'<td class="num">{int(counts.loc[t, c])}</td>' for c in counts.columns)
            + f"<td>{escape(str(last.get(t, '')))}</td></tr>"
            for t in part
        )
        head = "Data completeness" + (f" ({i + 1} of {pages})" if pages > 1 else "")
        out.append(Section(head, 1, (
            f"<section><h1>{head}</h1><p>{escape(summary)}</p>"
            '<table class="grid completeness"><thead><tr><th>Team</th><th class="num">On time'
            '</th><th class="num">Late</th><th class="num">Missing</th><th class="num">Not due '
            'yet</th><th class="num">Not expected</th><th class="num">Corrected</th>'
            f"<th>{ctx.month:%b %Y}</th></tr></thead><tbody>{rows}</tbody></table></section>"
        )))  # fmt: skip
    return out


def _commentary(commentary: str) -> str:
    text = commentary.strip("\n")
    body = (
        f'<div class="commentary">{escape(text)}</div>'
        if text.strip()
        else '<p class="note">No commentary was added to this pack.</p>'
    )
    return f"<section><h1>Commentary</h1>{body}</section>"


def _css(title: str, as_of: pd.Timestamp) -> str:
    footer = _css_string(title + " — data as shown at " + _iso(as_of))
    return f"""
@page {{
  size: A4 landscape; margin: 12mm 12mm 14mm 12mm;
  @bottom-left {{ content: "{footer}"; font-family: 'DejaVu Sans', sans-serif;
                  font-size: 7pt; color: #555; }}
  @bottom-right {{ content: "Page " counter(page) " of " counter(pages);
                   font-family: 'DejaVu Sans', sans-serif; font-size: 7pt; color: #555; }}
}}
body {{ font-family: 'DejaVu Sans', sans-serif; font-size: 9pt; color: #212b32;
        font-variant-ligatures: none; }}  /* "ff" stays two letters: found by search */
section {{ break-before: page; }}
section.cover {{ break-before: auto; }}
h1 {{ font-size: 18pt; color: #005EB8; margin: 0 0 3mm; }}
h2 {{ font-size: 14pt; color: #005EB8; margin: 0 0 1mm; }}
h3 {{ font-size: 10pt; margin: 2mm 0 1mm; }}
section.cover h1 {{ font-size: 26pt; margin-top: 12mm; }}
section.cover h2 {{ font-size: 13pt; margin: 6mm 0 2mm; }}
ul.changes {{ list-style: none; padding: 0; margin: 0; font-size: 10pt; }}
ul.changes li {{ margin: 0 0 1.6mm; min-height: 7mm; }}
ul.changes img.icon {{ vertical-align: middle; margin-right: 2mm; }}
ul.changes span {{ vertical-align: middle; }}
ul.changes li.provisional {{ color: #425563; font-style: italic; }}
.glance {{ font-size: 10pt; margin-top: 4mm; }}
table.glance-grid {{ border-collapse: collapse; font-size: 8pt; width: auto; }}
table.glance-grid th {{ text-align: left; font-weight: normal; color: #425563;
  font-size: 7pt; padding: 0.5mm 3mm 0.5mm 0; vertical-align: bottom; width: 22mm; }}
table.glance-grid tbody th {{ color: #212B32; vertical-align: middle; font-size: 8pt;
  width: 55mm; }}
table.glance-grid td {{ padding: 0.3mm 3mm 0.3mm 0; white-space: nowrap; }}
table.glance-grid td img.icon {{ margin-right: 0.8mm; }}
.made {{ color: #425563; font-size: 8pt; margin-top: 6mm; }}
.key {{ font-size: 7.5pt; }}
td.mark span {{ border: 0.6pt solid #4D4400; padding: 0 1mm; }}
td.mark {{ width: 9mm; }}
.lead {{ font-size: 14pt; margin: 0 0 8mm; }}
.sub {{ color: #425563; margin: 0 0 2mm; }}
.note {{ color: #425563; font-style: italic; }}
code {{ font-family: 'DejaVu Sans Mono', monospace; font-size: 7.5pt; word-break: break-all; }}
table {{ border-collapse: collapse; width: 100%; }}
.cover-table th {{ text-align: left; width: 45mm; vertical-align: top; padding: 1.2mm 0; }}
.cover-table td {{ padding: 1.2mm 0; }}
section.appendix {{ font-size: 8.5pt; }}
section.appendix code {{ font-size: 7.5pt; }}
table.uploads {{ table-layout: fixed; }}
table.uploads td {{ padding: 0.6mm 1.5mm; overflow-wrap: anywhere; }}
.grid th, .grid td {{ border-bottom: 0.3pt solid #aeb7bd; padding: 1mm 1.5mm;
                      text-align: left; vertical-align: middle; }}
.grid th {{ background: #e8edee; font-size: 8pt; }}
.grid td.num {{ text-align: right; white-space: nowrap; }}
.grid th.num {{ text-align: right; }}
.matrix {{ font-size: 8pt; table-layout: fixed; }}
.gaps {{ table-layout: fixed; }}
.gaps + .gaps {{ margin-top: 3mm; }}
.icon-line {{ display: flex; align-items: center; }}
.icon-line img.icon {{ flex: none; margin-right: 1.5mm; }}
.matrix td {{ height: 10mm; }}
.facts td {{ padding: 1mm 3mm 1mm 0; vertical-align: middle; width: 25%; }}
.facts .label {{ color: #425563; }}
.facts .value {{ font-size: 12pt; }}
.chart {{ text-align: center; margin: 1mm 0; }}
table.side {{ width: 100%; border-collapse: collapse; }}
ul.key-columns {{ column-gap: 6mm; list-style: none; padding: 0;
                  margin: 1mm 0; font-size: 7.5pt; }}
ul.key-columns li {{ break-inside: avoid; padding: 0.5mm 0;
                     border-bottom: 0.3pt solid #aeb7bd; }}
ul.key-columns span.mark {{ display: inline-block; min-width: 5mm; text-align: center;
  border: 0.6pt solid #4D4400; margin-right: 2mm; }}
td.side-chart {{ width: 74%; vertical-align: top; padding: 0; }}
td.side-key {{ vertical-align: top; padding: 0 0 0 3mm; }}
.chart img {{ max-width: 100%; }}
.cycles {{ font-size: 7.5pt; }}
.summary {{ font-size: 8.5pt; margin: 1mm 0; }}
.provenance {{ font-size: 7pt; color: #425563; margin-top: 2mm; }}
.commentary {{ white-space: pre-wrap; font-size: 10pt; line-height: 1.4; }}
"""


def _css_string(text: str) -> str:
    """``text`` for the inside of a double-quoted CSS string in a ``<style>`` element:
    a ``<`` is written as a CSS escape, so ``</style>`` in a title cannot end the element
    and turn the rest of the title into markup."""
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3c ")
    return " ".join(out.splitlines())


def expected_pages(
    matrix_rows: int,
    charts: int,
    teams_per_measure: Iterable[int],
    teams: int,
    *,
    key_columns: int = 4,
    compared_groups: int = GAP_GROUPS,
) -> int:
    """Pages of a pack (commentary of one page): for checking a pack's structure. Cover,
    summary matrix, charts, equality (``compared_groups`` groups beside the reference),
    completeness, commentary and the appendix.

    Team names are taken to be short (a line each wherever they are listed). A funnel
    plot of more than :data:`KEY_BESIDE` teams is taken to number them all (as
    a crowded plot does), its key in ``key_columns``; a pack of at most
    :data:`UPLOADS_INLINE` teams to have names short enough for the appendix's first
    page to hold their uploads, and one of more to need one page for its command."""

    def funnel(n: int) -> int:  # (names short enough to take a line each)
        if n <= KEY_BESIDE:
            return 0
        rest = max(0, n - KEY_FIRST_LINES * key_columns)
        return 1 + math.ceil(rest / (KEY_LINES * key_columns))

    appendix = 1 if teams <= UPLOADS_INLINE else 1 + math.ceil(teams / UPLOADS_ROWS) + 1
    per_page = max(1, EQUALITY_ROWS // max(1, math.ceil(compared_groups / GAP_GROUPS)))
    return (
        1
        + max(1, math.ceil(matrix_rows / MATRIX_ROWS))
        + charts
        + sum(max(1, math.ceil(n / per_page)) + funnel(n) for n in teams_per_measure)
        + max(1, math.ceil(teams / COMPLETENESS_ROWS))
        + 1
        + appendix
    )  # fmt: skip


__all__ = [
    "BESIDE_CHARS",
    "COMMAND_CHARS",
    "COMPLETENESS_ROWS",
    "EQUALITY_ROWS",
    "GAP_GROUPS",
    "KEY_BESIDE",
    "KEY_COLUMNS",
    "KEY_FIRST_LINES",
    "KEY_LINES",
    "MATRIX_ROWS",
    "PHASES",
    "TEAM_CHARS",
    "UPLOADS_INLINE",
    "UPLOADS_ROWS",
    "PackData",
    "PackDocument",
    "Progress",
    "build_pack",
    "expected_pages",
    "format_value",
    "key_columns",
    "pack_document",
    "what_changed",
]
