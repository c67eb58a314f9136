"""Plotly figures of run and control charts, with change cycles and signals explained.

Everything here takes the tidy frames of :func:`qi.spc` (and of the store) and
returns a :class:`plotly.graph_objects.Figure`; the dashboard shows them and the
board pack exports the same figures, so a chart looks the same everywhere.

The charts follow NHS England's Making Data Count conventions: common-cause points
grey, special cause of concern orange, of improvement blue, neither purple
(:data:`qi.mdc.COLOURS`). Each group has its own colour-blind-safe line colour
(:func:`group_colours`), and a signal's marker is outlined in the colour of the group
it belongs to. A chart's centre line and limits are labelled once, at its right edge;
a missing month is a gap in the line, never a line drawn across it.

Layout is worked out in pixels before the figure is built (:class:`_Geometry`), so
that no label covers data or a panel's title: change cycles and actions sit in a band
kept free of data at the top of the chart, their labels wrapped at word boundaries;
where the band would be too tall they become numbered markers, and the figure's
:func:`chart_key` gives the numbered list as a table for the page or the pack to show.

Accessibility: signals differ by marker *shape* as well as colour; every point's hover
text says in words which rule fired (or that none did); :func:`describe` writes a short
plain-English text alternative, kept in the figure's ``layout.meta["description"]``
(:func:`description` reads it back). Text that users typed (change ideas, notes) is
passed to plotly as plain text: plotly renders a small subset of HTML in labels, so such
text is escaped first (:func:`text`), once.
"""

from __future__ import annotations

import copy
import functools
import math
import textwrap
from collections.abc import Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from html import escape

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from qi.mdc import COLOURS as MDC_COLOURS
from qi.rules import RULE_SETS

#: Grey of common-cause points (Making Data Count).
COMMON_GREY = MDC_COLOURS["common"]
#: Signal kinds: (fill colour, marker symbol, legend text). Colours of Making Data Count.
SIGNAL_STYLE = {
    "improvement": (MDC_COLOURS["improvement"], "diamond", "Special cause: improvement"),
    "concern": (MDC_COLOURS["concern"], "square", "Special cause: concern"),
    "neutral": (
        MDC_COLOURS["neutral"], "triangle-up", "Special cause: neither improvement nor concern",
    ),
}  # fmt: skip
#: The ``All`` group's line colour (NHS dark grey).
ALL_COLOUR = "#425563"
#: Line colours of groups: colour-blind-safe (Paul Tol's and Okabe–Ito's palettes), dark
#: enough to read on white, and away from the blue, orange and purple of signals.
PALETTE = ("#117733", "#AA3377", "#999933", "#1F8FA6", "#882255", "#6F4E37", "#44AA99",
           "#000000")  # fmt: skip
#: Groups that keep one colour on every chart (in :data:`PALETTE`'s order).
STANDARD_GROUPS = ("Asian", "Black", "Mixed", "White", "Other", "Not stated")
#: Signal kinds in words (a text alternative's), the most pressing first.
SIGNAL_WORDS = {
    "concern": "special cause of concern",
    "improvement": "special cause of improvement",
    "neutral": "special cause, neither improvement nor concern",
}
#: Grey of limit lines and of labels.
LINE_GREY = "#5F6B73"
LABEL_GREY = "#425563"
MARK_COLOUR = "#4D4400"
OVERDUE_COLOUR = "#B04A00"

#: Width assumed when laying out a chart whose width is not given (the dashboard's).
ASSUMED_WIDTH = 1000
#: Below this width (pixels) a chart is laid out for a narrow screen: shorter labels.
NARROW_WIDTH = 500
#: Average width of a character of the 10-pixel label font, in pixels (Arial, DejaVu).
CHAR_PX = 6.2
#: Height of one line of a 10-pixel label, in pixels.
LINE_PX = 13
#: A label band may take at most this share of the top panel; above it: numbered markers.
MAX_BAND_SHARE = 0.34
#: Label widths (characters) tried for a change cycle or an action, and lines allowed.
WRAP_WIDTHS = (30, 40, 52)
MAX_LINES = 3


def text(value: object) -> str:
    """User-typed text made safe for a plotly label (shown as typed, never as markup).

    Only ``&``, ``<`` and ``>`` are escaped: plotly reads its labels as a small subset
    of HTML and turns ``&amp;``, ``&lt;`` and ``&gt;`` back into characters, but not
    ``&quot;`` or ``&#x27;`` (which it would show as written: a team called
    ``Ward "A"`` was titled ``Ward &quot;A&quot;``). Quotes are harmless in a label."""
    return escape(
        "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value),
        quote=False,
    )


def explain_signals(
    points: pd.DataFrame, improvement: str | None = None, *, rules: str
) -> pd.DataFrame:
    """Per point: ``signal_kind`` ("", "improvement", "concern", "neutral") and
    ``signal_text`` (the rule that fired, in words), as the rule set says.

    ``rules`` is the key of the rule set the points were computed with
    (``SPCResult.rules``); its :attr:`qi.rules.RuleSet.explain` gives the answer (the
    columns the points carry never decide it: a result carries its Making Data Count
    reading whatever rule set drew it).
    """
    rule_set = RULE_SETS.get(rules) if isinstance(rules, str) else None
    if rule_set is None:
        raise ValueError(f"rules must be one of {list(RULE_SETS)}; got {rules!r}.")
    return rule_set.explain(points, improvement)


def group_colours(groups: Sequence[str | None]) -> dict[str | None, str]:
    """A line colour for each group: ``All`` (or a chart of one series) dark grey, the
    usual ethnic groups always the same colour, any other group the next unused one."""
    out: dict[str | None, str] = {}
    used: set[str] = set()
    for g in groups:
        if g is None or g == "All":
            out[g] = ALL_COLOUR
        elif g in STANDARD_GROUPS:
            out[g] = PALETTE[STANDARD_GROUPS.index(g)]
            used.add(out[g])
    spare = [c for c in PALETTE if c not in used]
    for i, g in enumerate(x for x in groups if x not in out):
        out[g] = spare[i % len(spare)] if spare else PALETTE[i % len(PALETTE)]
    return out


def _fmt(value: float, ratio: bool = False) -> str:
    if value is None or not np.isfinite(value):
        return ""
    if ratio:
        return f"{value:.2f}×"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


#: The periods of the chart being drawn (``month``, ``quarter``, ``year``): how its
#: labels write a point's period, and which periods count as missing. Set for the
#: length of one :func:`spc_figure` or :func:`describe` call (their ``frequency``).
_FREQUENCY: ContextVar[str] = ContextVar("qi_figures_frequency", default="month")


#: The parts of a layout's template that draw a chart of x and y axes; the rest of
#: plotly_white (polar, ternary, 3D and map axes, colour scales) draws other kinds.
_CARTESIAN = (
    "autotypenumbers", "colorway", "font", "hovermode", "hoverlabel", "paper_bgcolor",
    "plot_bgcolor", "xaxis", "yaxis", "shapedefaults", "annotationdefaults", "title",
)  # fmt: skip


def _template() -> dict:
    """plotly's ``plotly_white`` as these charts use it: its layout of x and y axes and
    its scatter defaults (every chart here is made of scatter traces), without the
    defaults of the twenty other kinds of trace and of the other kinds of axes. Drawn
    the same (tested), checked in about a fifth of the time (a pack sets it on 45
    figures) and a fraction of the size in each figure's JSON. A new copy each call (a
    figure's parts are its own)."""
    return copy.deepcopy(_white())


@functools.cache
def _white() -> dict:
    import plotly.io as pio

    white = pio.templates["plotly_white"].to_plotly_json()
    layout = {k: v for k, v in white["layout"].items() if k in _CARTESIAN}
    return {"layout": layout, "data": {"scatter": white["data"]["scatter"]}}


#: Months between a period and the next, by frequency.
_STEP_MONTHS = {"month": 1, "quarter": 3, "year": 12}


@contextmanager
def _periods_of(frequency: str):
    token = _FREQUENCY.set(frequency)
    try:
        yield
    finally:
        _FREQUENCY.reset(token)


def _by_frequency(draw):
    """``draw`` with a ``frequency`` keyword saying how the chart's periods are written
    (``Apr 2024``, ``2024/25 Q1``, ``2024/25``) and which are missing; without it, those
    of the chart being drawn (a description within a figure), else months."""

    @functools.wraps(draw)
    def drawn(*args, frequency: str | None = None, **kwargs):
        if frequency is None:  # the enclosing chart's (a description of a chart drawn)
            return draw(*args, **kwargs)
        with _periods_of(frequency):
            return draw(*args, **kwargs)

    return drawn


def _month(value) -> str:
    """A period as the chart's labels write it (the chart's frequency)."""
    frequency = _FREQUENCY.get()
    if frequency == "month":
        return f"{pd.Timestamp(value):%b %Y}"
    from qi.periods import label

    return label(value, frequency)


def wrap(value: str, width: int) -> list[str]:
    """``value`` in lines of at most ``width`` characters, broken between words only (a
    word longer than ``width`` gets a line of its own, whole)."""
    return textwrap.wrap(str(value), width, break_long_words=False, break_on_hyphens=False)


# --------------------------------------------------------------------------- layout


@dataclass
class _Geometry:
    """Where things fall, in pixels, on a figure of ``width`` × ``height``."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    domains: list[tuple[float, float]] = field(default_factory=list)

    @property
    def plot_width(self) -> float:
        return max(self.width - self.left - self.right, 50)

    @property
    def plot_height(self) -> float:
        return max(self.height - self.top - self.bottom, 50)

    def panel_height(self, i: int) -> float:
        lo, hi = self.domains[i]
        return (hi - lo) * self.plot_height


def _domains(panels: int, plot_height: float, gap_px: float) -> list[tuple[float, float]]:
    """Each panel's vertical extent (paper fractions), top panel first."""
    gap = min(gap_px / plot_height, 0.3 / max(panels - 1, 1)) if panels > 1 else 0.0
    size = (1 - gap * (panels - 1)) / panels
    tops = [1 - i * (size + gap) for i in range(panels)]
    return [(max(0.0, round(t - size, 9)), min(1.0, round(t, 9))) for t in tops]


def _month_starts(x: pd.Series) -> bool:
    x = pd.to_datetime(pd.Series(x).dropna())
    return bool(len(x)) and bool((x == x.dt.to_period("M").dt.start_time).all())


def _with_gaps(part: pd.DataFrame) -> pd.DataFrame:
    """``part`` (one series) with an empty row where a month is missing, so the line
    breaks there instead of joining the months either side (``_gap`` marks those rows).
    Monthly data is read as months; other dates break where a step is over 1.5 times
    the usual one."""
    part = part.assign(_gap=False)
    if len(part) < 2 or not pd.api.types.is_datetime64_any_dtype(part["x"]):
        return part
    part = part.sort_values("x", kind="stable")
    x = pd.DatetimeIndex(part["x"])
    if x.has_duplicates:
        return part
    if _month_starts(part["x"]):  # periods of the chart's frequency
        step = _STEP_MONTHS.get(_FREQUENCY.get(), 1)
        missing = pd.date_range(x.min(), x.max(), freq=f"{step}MS").difference(x)
    else:
        step = pd.Series(x).diff().dropna()
        usual = step.median()
        missing = pd.DatetimeIndex(x[:-1][(step > 1.5 * usual).to_numpy()] + usual)
    if missing.empty:
        return part
    out = part.set_index("x").reindex(x.union(missing)).rename_axis("x").reset_index()
    out["_gap"] = ~out["x"].isin(x)
    for col in ("signal_kind", "signal_text"):
        if col in out:
            out[col] = out[col].fillna("")
    for col in ("group", "phase"):
        if col in out:
            out[col] = out[col].ffill()
    return out


def _without_gaps(part: pd.DataFrame) -> pd.DataFrame:
    return part.assign(_gap=False)


def _x_range(xs: pd.Series) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The x axis: the data's first to last month, half a month either side."""
    xs = pd.to_datetime(pd.Series(xs).dropna())
    first, last = xs.min(), xs.max()
    half = pd.Timedelta(days=15)
    if not _month_starts(xs) and len(xs) > 1:
        half = pd.Series(sorted(xs.unique())).diff().median() / 2
    return first - half, last + half


def _x_ticks(x0: pd.Timestamp, x1: pd.Timestamp, plot_width: float) -> dict:
    """Month ticks (never days), at most one per 80 pixels, labelled "Jan 2025"."""
    months = max(1, (x1.year - x0.year) * 12 + x1.month - x0.month)
    fit = max(1, int(plot_width // 80))
    step = next((s for s in (1, 2, 3, 6, 12, 24, 60) if months / s <= fit), 120)
    start = pd.Timestamp(year=x0.year, month=1, day=1)
    return {"dtick": f"M{step}", "tick0": start, "tickformat": "%b %Y", "ticklabelmode": "instant"}


def _value_range(values: np.ndarray, ratio: bool) -> tuple[float, float]:
    """A panel's y range in axis units (log10 on a ratio axis) holding every value."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if ratio:
        v = np.log10(v[v > 0])
        v = np.append(v, 0.0)  # 1× (no gap) always shows
    if not len(v):
        return (0.0, 1.0)
    lo, hi = float(v.min()), float(v.max())
    if not ratio and lo >= 0:
        lo = 0.0
    span = hi - lo or (abs(hi) or 1.0)
    pad = 0.06 * span
    # a little room below zero too, so that a marker on zero is drawn whole
    return (lo - (pad if (ratio or lo < 0) else 0.025 * span), hi + pad)


def _ratio_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Tick values and labels (0.5×, 1×, 2×) of a log-ratio axis over [lo, hi] (log10)."""
    doubling = [2.0**k for k in range(-10, 11)]
    inside = [v for v in doubling if lo <= math.log10(v) <= hi]
    if len(inside) < 3:  # a narrow range: 0.8×, 1.25×, 1.5× … as well
        finer = sorted(set(doubling) | {0.75, 0.8, 1.25, 1.5, 1 / 1.5, 3.0, 1 / 3})
        inside = [v for v in finer if lo <= math.log10(v) <= hi]
    while len(inside) > 8:  # a very wide range: every other one
        inside = inside[::2]

    def label(v: float) -> str:
        return f"{v:g}×" if v >= 1 else f"{v:.3g}×"

    return inside, [label(v) for v in inside]


# --------------------------------------------------------------------------- marks


@dataclass
class _Mark:
    """A change cycle or an action shown along the top of a chart."""

    x: pd.Timestamp
    when: pd.Timestamp  # the month it is about (x is kept within the chart)
    short: str  # what the chart says (plain text, not escaped)
    full: str  # what the key says
    kind: str  # "PDSA cycle" or "action"
    colour: str
    number: int = 0
    lines: list[str] = field(default_factory=list)
    anchor: str = "left"
    tier: int = 0
    source: object = None  # the row of ``cycles`` or ``actions`` it comes from


def _cycle_marks(cycles: pd.DataFrame, last: pd.Timestamp | None) -> tuple[list[_Mark], list]:
    """One mark per change idea × cycle (at its start) and the bands to shade."""
    spans = (
        cycles.assign(
            end=cycles["end"].fillna(last) if last is not None else cycles["end"], _row=cycles.index
        )
        .groupby(["change_idea", "cycle"], sort=False, dropna=False)
        .agg(
            start=("start", "min"),
            end=("end", "max"),
            stage=("stage", "last"),
            source=("_row", "first"),
        )
        .reset_index()
        .sort_values("start")
    )
    marks, bands, seen = [], [], set()
    for rec in spans.itertuples(index=False):
        if pd.isna(rec.start):
            continue
        idea = "" if pd.isna(rec.change_idea) else str(rec.change_idea)
        cycle = int(rec.cycle) if pd.notna(rec.cycle) else 0
        full = f"PDSA {cycle}: {idea}"
        short = full if idea not in seen else f"PDSA {cycle}"
        seen.add(idea)
        end = rec.end if pd.notna(rec.end) else rec.start
        full += f" ({_month(rec.start)} to {_month(end)}" + (
            f", {rec.stage})" if isinstance(rec.stage, str) and rec.stage else ")"
        )
        start = pd.Timestamp(rec.start)
        marks.append(_Mark(start, start, short, full, "PDSA cycle", MARK_COLOUR,
                           source=rec.source))  # fmt: skip
        bands.append((pd.Timestamp(rec.start), pd.Timestamp(end)))
    return marks, bands


def _action_marks(actions: pd.DataFrame) -> list[_Mark]:
    today = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()
    marks = []
    for rec in actions.itertuples():
        overdue = pd.isna(rec.done) and pd.notna(rec.due) and pd.Timestamp(rec.due) < today
        what = rec.action or rec.decision
        label = f"{str(rec.raised_by).capitalize()} action{' (overdue)' if overdue else ''}"
        due = f"; due {pd.Timestamp(rec.due):%d %b %Y}" if pd.notna(rec.due) else ""
        full = f"{label}: {what} — owner: {rec.owner}{due}"
        colour = OVERDUE_COLOUR if overdue else "#333333"
        at = pd.Timestamp(rec.period)
        marks.append(_Mark(at, at, "⚑ " + label, full, "action", colour, source=rec.Index))
    return marks


def _x_px(x: pd.Timestamp, x0: pd.Timestamp, x1: pd.Timestamp, plot_width: float) -> float:
    return (pd.Timestamp(x) - x0) / (x1 - x0) * plot_width


def _place(marks: list[_Mark], x0, x1, plot_width: float, numbered: bool) -> list[float] | None:
    """Put each mark's label in the first tier where it overlaps no other label; the
    height of each tier in pixels, or None if a label cannot fit across the chart."""
    tiers: list[list[tuple[float, float]]] = []
    heights: list[float] = []
    for m in marks:
        if numbered:
            m.lines = [str(m.number)]
        else:
            m.lines = next(
                (lines for w in WRAP_WIDTHS if len(lines := wrap(m.short, w)) <= MAX_LINES),
                [],
            )
            if not m.lines:
                return None
        w = max(len(line) for line in m.lines) * CHAR_PX + (10 if numbered else 8)
        h = len(m.lines) * LINE_PX + (6 if numbered else 3)
        at = _x_px(m.x, x0, x1, plot_width)
        if at + 3 + w <= plot_width:
            m.anchor, box = "left", (at + 3, at + 3 + w)
        elif at - 3 - w >= 0:
            m.anchor, box = "right", (at - 3 - w, at - 3)
        else:
            return None
        for k, tier in enumerate(tiers):
            if all(box[1] + 4 <= a or b + 4 <= box[0] for a, b in tier):
                tier.append(box)
                heights[k] = max(heights[k], h)
                m.tier = k
                break
        else:
            tiers.append([box])
            heights.append(h)
            m.tier = len(tiers) - 1
    return heights


def _lay_out_marks(
    marks: list[_Mark], x0, x1, plot_width: float, panel_height: float
) -> tuple[list[float], bool]:
    """Labels in full if they fit in a band of at most :data:`MAX_BAND_SHARE` of the top
    panel; else numbered markers. Returns the tier heights and whether numbered."""
    marks.sort(key=lambda m: (m.x, m.kind != "PDSA cycle"))
    for i, m in enumerate(marks, start=1):
        m.number = i
    heights = _place(marks, x0, x1, plot_width, numbered=False)
    if heights is not None and sum(heights) + 4 <= MAX_BAND_SHARE * panel_height:
        return heights, False
    return _place(marks, x0, x1, plot_width, numbered=True) or [LINE_PX + 6], True


# --------------------------------------------------------------------------- figure


class _Parts:
    """What a figure is made of, gathered before it is built."""

    def __init__(self) -> None:
        self.traces: list[dict] = []
        self.annotations: list[dict] = []
        self.shapes: list[dict] = []
        self.legend: set[str] = set()

    def first(self, name: str) -> bool:
        """True the first time a legend entry is drawn."""
        seen = name in self.legend
        self.legend.add(name)
        return not seen


def _scatter(**properties) -> dict:
    """A scatter trace as a dict (checked once, with the figure it is drawn in)."""
    return {"type": "scatter", **properties}


def _suffix(row: int) -> str:
    return "" if row == 1 else str(row)


def _stacked_axes(panels: int) -> dict[str, dict]:
    """The axes of ``panels`` charts stacked in one column sharing their x axis, as
    ``make_subplots(rows=panels, shared_xaxes=True)`` lays them out (the y domains are
    set later), written out: make_subplots costs about 9 ms a figure, this 0.4 ms."""
    bottom = f"x{_suffix(panels)}"
    axes: dict[str, dict] = {}
    for row in range(1, panels + 1):
        s = _suffix(row)
        x: dict = {"anchor": f"y{s}", "domain": [0.0, 1.0]}
        if row < panels:
            x.update(matches=bottom, showticklabels=False)
        axes[f"xaxis{s}"] = x
        axes[f"yaxis{s}"] = {"anchor": f"x{s}", "domain": [0.0, 1.0]}
    return axes


def _axes(row: int) -> dict[str, str]:
    return {"xaxis": f"x{_suffix(row)}", "yaxis": f"y{_suffix(row)}"}


def _refs(row: int) -> dict[str, str]:
    return {"xref": f"x{_suffix(row)}", "yref": f"y{_suffix(row)}"}


@_by_frequency
def spc_figure(
    points: pd.DataFrame,
    *,
    group: str | None = None,
    title: str = "",
    y_title: str = "",
    improvement: str | None = None,
    cycles: pd.DataFrame | None = None,
    annotations: pd.DataFrame | None = None,
    actions: pd.DataFrame | None = None,
    facet: bool = True,
    height: int | None = None,
    width: int | None = None,
    rules: str,
    provisional: pd.DataFrame | None = None,
    ratio: bool = False,
    gaps: bool = True,
    description: str | None = None,
) -> go.Figure:
    """A run or control chart of ``points`` (one series, or one per value of ``group``).

    Parameters
    ----------
    points : the ``.points`` of :func:`qi.spc` (filtered to the series to draw). A point
        whose ``y`` is missing (hidden: small numbers) is left out of the line.
    group : column naming the series (e.g. ``"group"`` for ethnic groups). With
        ``facet=True`` each group gets its own panel with its centre line and limits
        (small multiples, one y-axis title); with ``facet=False`` the groups are lines
        on one chart, each with its centre line and limits in its own colour. Every
        control chart has its limits, one series or many, labelled once with their
        values at the right edge (earlier phases' values are in their lines' hover).
    cycles : change ideas and PDSA cycles (``change_idea``, ``cycle``, ``stage``,
        ``start``, ``end``): shaded from start to end, labelled at their start.
    annotations : notes on points (``period``, ``text``, optional ``group``).
    actions : decisions and actions recorded on the measure (``period``, ``raised_by``,
        ``decision``, ``action``, ``owner``, ``due``, ``done``): labelled at the month
        reviewed, "overdue" when not done by its due date.
    height, width : the figure's size in pixels; ``width`` (when known: the pack's) lays
        labels out for it, else :data:`ASSUMED_WIDTH` is assumed.
    rules : the rule set the points were computed with (``SPCResult.rules``), which
        says what each signal means (see :func:`explain_signals`).
    provisional : months not every team expected has sent yet (``period``, ``value``,
        ``teams``, ``expected`` and the ``group`` column): hollow markers apart from the
        line, never read by the rules.
    ratio : ``y``, the lines and ``provisional`` values are natural logs of ratios (an
        equality gap): drawn as ratios on a log axis labelled 0.5×, 1×, 2×.
    gaps : break the line where a month is missing (False for charts with a point per
        event, such as g and t charts of rare events).
    description : the text alternative (default: :func:`describe` of the points).
    frequency : keyword added by the decorator: the measure's periods (``month``,
        ``quarter``, ``year``), written ``Apr 2024``, ``2024/25 Q1`` or ``2024/25`` in the
        labels; a missing period of that frequency breaks the line.

    The figure's ``layout.meta`` holds ``description`` (the text alternative) and
    ``marks`` (the change cycles and actions marked, numbered when their labels did not
    fit: ``numbered``; see :func:`chart_key`).
    """
    explained = explain_signals(points, improvement, rules=rules)
    data = pd.concat([points, explained], axis=1)
    groups = list(dict.fromkeys(data[group])) if group else [None]
    panels = len(groups) if (group and facet) else 1
    overlaid = bool(group) and not facet and len(groups) > 1
    colours = group_colours(groups)
    prov = provisional if provisional is not None and len(provisional) else None
    if ratio:
        data = data.copy()
        for col in ("y", "cl", "lcl", "ucl", "target"):
            if col in data:
                data[col] = np.exp(data[col].astype(float))
        if prov is not None:
            prov = prov.assign(value=np.exp(prov["value"].astype(float)))
    series = {
        g: (_with_gaps if gaps else _without_gaps)(data if g is None else data[data[group] == g])
        for g in groups
    }

    # ------------------------------------------------------------ geometry (pixels)
    xs = pd.concat([data["x"], prov["period"] if prov is not None else pd.Series(dtype=object)])
    xs = pd.to_datetime(xs.dropna()) if len(xs.dropna()) else pd.Series(pd.to_datetime([]))
    x0, x1 = _x_range(xs) if len(xs) else (pd.Timestamp("2000-01-01"), pd.Timestamp("2000-02-01"))
    fig_height = int(height or (230 * panels + 150 if panels > 1 else 440))
    fig_width = int(width or ASSUMED_WIDTH)
    # on a narrow screen (a phone) the labels say "Upper 41.2": the plot keeps the width
    short = fig_width < NARROW_WIDTH
    labels = {i: _line_labels(series, groups, group, facet, panels, i, overlaid, ratio, short)
              for i in range(panels)}  # fmt: skip
    longest = max((len(t) for ls in labels.values() for _, t, _ in ls), default=8)
    ranges = [_panel_range(series, groups, prov, group, panels, i, ratio) for i in range(panels)]
    tick_chars = max(len(_tick_text(r, ratio)) for r in ranges)
    # the legend below the chart: groups, signals drawn, target, provisional months
    entries = [str(g if g is not None else (y_title or "value")) for g in groups]
    entries += [SIGNAL_STYLE[k][2] for k in SIGNAL_STYLE if (data["signal_kind"] == k).any()]
    entries += ["Target"] * bool("target" in data and data["target"].notna().any())
    entries += ["Provisional: Mmm YYYY (n of n teams)"] * (prov is not None)
    legend_px = sum(len(e) * 7.2 + 46 for e in entries)
    legend_rows = max(1, math.ceil(legend_px / max(fig_width - 40, 200)))
    # (the title starts near the left edge of the plot: about 90 pixels in)
    title_lines = wrap(title, max(20, int((fig_width - 90) / 9.5))) if title else []
    y_text = text(y_title) + (" (log scale)" if ratio and y_title else "")
    # the y title runs along the plot's height (about 7.5 pixels a character)
    y_lines = wrap(y_text, max(12, int((fig_height - 110) / 7.5))) if y_title else []
    geo = _Geometry(
        width=fig_width, height=fig_height,
        left=int(tick_chars * 7.5 + 14 + 17 * len(y_lines)),
        right=int(min(longest * CHAR_PX + 16, fig_width * 0.3)),
        top=int(14 + 22 * len(title_lines) + (24 if panels > 1 else 6)),
        bottom=int(36 + 21 * legend_rows),
    )  # fmt: skip
    geo.domains = _domains(panels, geo.plot_height, gap_px=38)

    # ------------------------------------------------------------ marks along the top
    marks: list[_Mark] = []
    bands: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    if cycles is not None and len(cycles):
        cycle_marks, bands = _cycle_marks(cycles, x1)
        marks += cycle_marks
    if actions is not None and len(actions):
        marks += _action_marks(actions)
    for m in marks:
        m.x = min(max(m.x, x0 + pd.Timedelta(days=1)), x1 - pd.Timedelta(days=1))
    tiers, numbered = (
        _lay_out_marks(marks, x0, x1, geo.plot_width, geo.panel_height(0)) if marks else ([], False)
    )
    band_px = sum(tiers) + 6 if tiers else 0.0
    if band_px:
        # headroom in the top panel: its data stays below the band of labels
        lo, hi = ranges[0]
        share = min(band_px / geo.panel_height(0), 0.6)
        ranges[0] = (lo, lo + (hi - lo) / (1 - share))

    # ------------------------------------------------------------ traces and labels
    parts = _Parts()
    for i, g in enumerate(groups):
        row = i + 1 if panels > 1 else 1
        name = text(g) if g is not None else text(y_title or "value")
        _series(parts, series[g], row, colours[g], name, ratio=ratio, overlaid=overlaid)
    if prov is not None:
        _provisional(parts, prov, group, groups, panels, ratio)
    for i in range(panels):
        _place_line_labels(parts, labels[i], i + 1, ranges[i], geo.panel_height(i), ratio)
        if panels > 1:
            g = groups[i]
            parts.annotations.append(
                {"name": "panel-title", "x": 0, "xref": "paper", "xanchor": "left",
                 "y": geo.domains[i][1], "yref": "paper", "yanchor": "bottom", "yshift": 2,
                 "showarrow": False, "font": {"size": 13, "color": "#212B32"},
                 "text": f'<span style="color:{colours[g]}">━━</span> <b>{text(g)}</b>'}
            )  # fmt: skip
        if ratio:
            parts.traces.append(
                _scatter(x=[x0, x1], y=[1.0, 1.0], mode="lines", hoverinfo="skip",
                           showlegend=False, line={"color": "#AEB7BD", "width": 1},
                           **_axes(i + 1))
            )  # fmt: skip
    for start, end in bands:
        start, end = max(start, x0), min(end, x1)
        for i in range(panels):
            yref = f"y{_suffix(i + 1)} domain"
            parts.shapes.append(
                {"type": "rect", "xref": f"x{_suffix(i + 1)}", "yref": yref, "x0": start,
                 "x1": end, "y0": 0, "y1": 1, "fillcolor": "#F0E442", "opacity": 0.15,
                 "line": {"width": 0}, "layer": "below"}
            )  # fmt: skip
            parts.shapes.append(
                {"type": "line", "xref": f"x{_suffix(i + 1)}", "yref": yref, "x0": start,
                 "x1": start, "y0": 0, "y1": 1,
                 "line": {"color": "#7A6C00", "width": 1, "dash": "dot"}}
            )  # fmt: skip
    if marks:
        _draw_marks(parts, marks, tiers, numbered, geo.panel_height(0))
    if annotations is not None and len(annotations):
        _notes(parts, annotations, data, group, panels, groups, ranges, geo, band_px, ratio)

    # ------------------------------------------------------------ layout
    if panels > 1 and y_lines:
        parts.annotations.append(
            {"name": "y-title", "text": "<br>".join(y_lines), "textangle": -90,
             "showarrow": False, "x": 0, "xref": "paper", "xanchor": "left",
             "xshift": -(geo.left - 4), "y": 0.5, "yref": "paper", "yanchor": "middle",
             "font": {"size": 13}}
        )  # fmt: skip
    # the figure is written out as a dict and checked once by plotly: adding traces and
    # updating a built figure's layout piece by piece checks each piece again (about
    # five times the cost)
    layout = _stacked_axes(panels)
    layout.update(
        annotations=parts.annotations,
        shapes=parts.shapes,
        title={"text": "<br>".join(text(t) for t in title_lines), "x": 0, "xref": "paper",
               "xanchor": "left", "y": 1, "yref": "container", "yanchor": "top",
               "pad": {"t": 10}, "font": {"size": 16}},
        template=_template(),
        hovermode="closest",
        height=fig_height,
        width=width,
        margin={"l": geo.left, "r": geo.right, "t": geo.top, "b": geo.bottom},
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": -32 / geo.plot_height,
                "yanchor": "top"},
        font={"family": "Arial, sans-serif", "size": 13},
        meta={"description": description or describe(
            points, group=group, title=title, unit=y_title, improvement=improvement,
            rules=rules, ratio=ratio, provisional=provisional, cycles=cycles, actions=actions),
              "numbered": numbered,
              "marks": [{"mark": str(m.number), "month": _month(m.when), "kind": m.kind,
                         "text": m.full, "source": _plain(m.source)} for m in marks]},
    )  # fmt: skip
    ticks = _x_ticks(x0, x1, geo.plot_width)
    for i in range(panels):
        layout[f"xaxis{_suffix(i + 1)}"].update(range=[x0, x1], **ticks)
        yaxis = layout[f"yaxis{_suffix(i + 1)}"]
        yaxis.update(domain=list(geo.domains[i]), range=list(ranges[i]), automargin=False)
        if ratio:
            vals, words = _ratio_ticks(*ranges[i])
            yaxis.update(type="log", tickvals=vals, ticktext=words)
    if panels == 1 and y_lines:
        layout["yaxis"].update(title={"text": "<br>".join(y_lines), "standoff": 6},
                               automargin=True)  # fmt: skip
    return _figure(parts.traces, layout)


def _tick_text(rng: tuple[float, float], ratio: bool) -> str:
    if ratio:
        return "0.25×"
    return max((_fmt(v) for v in rng), key=len) or "0"


def _panel_range(series, groups, prov, group, panels, i, ratio) -> tuple[float, float]:
    shown = groups if panels == 1 else [groups[i]]
    cols = ["y", "cl", "lcl", "ucl", "target"]
    values = [series[g][c].to_numpy(dtype=float) for g in shown for c in cols if c in series[g]]
    if prov is not None:
        part = prov if group is None or group not in prov else prov[prov[group].isin(shown)]
        values.append(part["value"].to_numpy(dtype=float))
    return _value_range(np.concatenate(values) if values else np.array([]), ratio)


def _series(
    parts: _Parts, part: pd.DataFrame, row, colour, name, *, ratio: bool, overlaid: bool = False
) -> None:
    """One series: its line (in the series' colour) with grey common-cause points, per
    phase its centre line and limits (grey; in the series' colour where several series
    share the chart), and its signals."""
    x = part["x"]
    hover = [
        f"{_month(xv)}<br>{name}: {_fmt(yv, ratio)}"
        + (f"<br>n = {_fmt(nv)}" if pd.notna(nv) else "")
        + (f"<br><b>{text(st)}</b>" if st else "<br>No special cause (no rule fired)")
        for xv, yv, nv, st in zip(x, part["y"], part["n"], part["signal_text"], strict=True)
    ]
    axes = _axes(row)
    parts.traces.append(
        _scatter(
            x=x, y=part["y"], mode="lines+markers", name=name,
            line={"color": colour, "width": 2},
            marker={"size": 7, "color": COMMON_GREY, "line": {"width": 1, "color": colour}},
            hovertext=hover, hoverinfo="text", legendgroup=name, showlegend=parts.first(name),
            **axes,
        )
    )  # fmt: skip
    runs = part["runs_signal"].fillna(False).astype(bool) if "runs_signal" in part else None
    for k, (_, seg) in enumerate(part[~part["_gap"]].groupby("phase", sort=False)):
        span = f"{_month(seg['x'].min())} to {_month(seg['x'].max())}"
        lines = [("cl", "Centre", "solid" if runs is None or not runs[seg.index].any() else "dash")]
        lines += [("lcl", "Lower limit", "dot"), ("ucl", "Upper limit", "dot")]
        for col, label, dash in lines:
            values = seg[col]
            if values.isna().all():
                continue
            words = f"{name}: {label.lower()}, phase {k + 1} ({span})"
            parts.traces.append(
                _scatter(
                    x=seg["x"], y=values, mode="lines", showlegend=False,
                    hovertext=[f"{words}: {_fmt(v, ratio)}" for v in values], hoverinfo="text",
                    line={"color": colour if col == "cl" or overlaid else LINE_GREY, "dash": dash,
                          "width": 1.4 if col == "cl" else 1.2},
                    **axes,
                )
            )  # fmt: skip
        if "target" in seg and seg["target"].notna().any():
            parts.traces.append(
                _scatter(
                    x=seg["x"], y=seg["target"], mode="lines", name="Target", legendrank=1200,
                    line={"color": "#009E73", "dash": "dashdot", "width": 1.2},
                    hoverinfo="skip", showlegend=parts.first("Target"), legendgroup="Target",
                    **axes,
                )
            )  # fmt: skip
    for rank, (kind, (sig_colour, symbol, label)) in enumerate(SIGNAL_STYLE.items()):
        hit = part[(part["signal_kind"] == kind) & np.isfinite(part["y"].to_numpy(dtype=float))]
        if hit.empty:
            continue
        parts.traces.append(
            _scatter(
                x=hit["x"], y=hit["y"], mode="markers", name=label, legendgroup=label,
                legendrank=1100 + rank,  # after the series, whose order is the groups'
                marker={"size": 12, "symbol": symbol, "color": sig_colour,
                        "line": {"width": 2, "color": colour}},
                hovertext=[f"{_month(xv)}<br>{name}: {_fmt(yv, ratio)}<br>{label}: {text(t)}"
                           for xv, yv, t in zip(hit["x"], hit["y"], hit["signal_text"],
                                                strict=True)],
                hoverinfo="text", showlegend=parts.first(label), **axes,
            )
        )  # fmt: skip


def _line_labels(series, groups, group, facet, panels, i, overlaid, ratio, short=False) -> list:
    """The labels of panel ``i``'s lines: each series' centre, limits and target in its
    last phase, as (value, text, colour); ``short``: "Upper 41.2" for "Upper limit 41.2"."""
    shown = groups if panels == 1 else [groups[i]]
    out = []
    for g in shown:
        part = series[g].dropna(subset=["phase"]) if "phase" in series[g] else series[g]
        if part.empty:
            continue
        phases = list(dict.fromkeys(part["phase"])) if "phase" in part else []
        last = part[part["phase"] == phases[-1]] if phases else part
        before = part[part["phase"] == phases[-2]] if len(phases) > 1 else part.iloc[:0]
        prefix = f"{text(g)}: " if overlaid else ""
        for col, label in (
            ("ucl", "Upper" if short else "Upper limit"),
            ("cl", "Centre"),
            ("lcl", "Lower" if short else "Lower limit"),
            ("target", "Target"),
        ):
            if col not in last:
                continue
            values = last[col].dropna()
            if values.empty:
                continue
            v = float(values.iloc[-1])
            words = f"{prefix}{label} {_fmt(v, ratio)}"
            was = before[col].dropna() if col in before and col != "target" else []
            if len(was) and _fmt(float(was.iloc[-1]), ratio) != _fmt(v, ratio):
                words += f" (was {_fmt(float(was.iloc[-1]), ratio)})"
            out.append((v, words, LABEL_GREY))
    return out


def _place_line_labels(parts, labels, row, rng, panel_px, ratio) -> None:
    """Labels at the right edge, each at its line's height, moved apart (at least 12
    pixels) where lines are close, and kept within the panel."""
    if not labels:
        return
    lo, hi = rng

    def frac(v: float) -> float:
        a = math.log10(v) if ratio else v
        return (a - lo) / (hi - lo) if hi > lo else 0.5

    order = sorted(range(len(labels)), key=lambda k: frac(labels[k][0]))
    gap = min(12 / max(panel_px, 1), 1 / (len(labels) + 1))
    edge = min(6 / max(panel_px, 1), 0.05)
    pos = [min(max(frac(labels[k][0]), edge), 1 - edge) for k in order]
    for j in range(1, len(pos)):
        pos[j] = max(pos[j], pos[j - 1] + gap)
    if pos[-1] > 1 - edge:
        pos[-1] = 1 - edge
        for j in range(len(pos) - 2, -1, -1):
            pos[j] = min(pos[j], pos[j + 1] - gap)
    for k, p in zip(order, pos, strict=True):
        _, words, colour = labels[k]
        parts.annotations.append(
            {"name": "line-label", "x": 1, "xref": f"x{_suffix(row)} domain", "xanchor": "left",
             "xshift": 4, "y": p, "yref": f"y{_suffix(row)} domain", "yanchor": "middle",
             "text": words, "showarrow": False, "font": {"size": 10, "color": colour}}
        )  # fmt: skip


def _draw_marks(parts: _Parts, marks: list[_Mark], tiers, numbered: bool, panel_px) -> None:
    """The change cycles' and actions' labels in the band at the top of the top panel."""
    tops = np.concatenate([[0.0], np.cumsum(tiers)])
    for m in marks:
        hover = text(m.full)
        words = "<br>".join(text(line) for line in m.lines)
        parts.annotations.append(
            {"name": "mark", "x": m.x, "xref": "x", "xanchor": m.anchor,
             "xshift": 3 if m.anchor == "left" else -3,
             "y": 1 - (tops[m.tier] + 2) / panel_px, "yref": "y domain", "yanchor": "top",
             "text": words, "align": "left", "showarrow": False, "hovertext": hover,
             "font": {"size": 10, "color": m.colour}, "bgcolor": "rgba(255,255,255,0.85)",
             **({"bordercolor": m.colour, "borderwidth": 1, "borderpad": 1} if numbered else {})}
        )  # fmt: skip


def _provisional(parts: _Parts, rows: pd.DataFrame, group, groups, panels, ratio) -> None:
    """Months not every team has sent: hollow grey markers, off the line, with their
    coverage in the hover and in the legend."""
    for i, g in enumerate(groups):
        part = rows if g is None or group not in rows else rows[rows[group] == g]
        part = part[np.isfinite(part["value"].to_numpy(dtype=float))]
        if part.empty:
            continue
        row = i + 1 if panels > 1 else 1
        hover = [
            f"{_month(p)}: {_fmt(v, ratio)}<br>provisional: {int(t)} of {int(e)} teams "
            "have sent this month; not read by the rules"
            for p, v, t, e in zip(part["period"], part["value"], part["teams"],
                                  part["expected"], strict=True)
        ]  # fmt: skip
        last = part.sort_values("period").iloc[-1]
        legend = (f"Provisional: {_month(last['period'])} "
                  f"({int(last['teams'])} of {int(last['expected'])} teams)")  # fmt: skip
        parts.traces.append(
            _scatter(
                x=part["period"], y=part["value"], mode="markers", name=legend,
                legendgroup="provisional", showlegend=parts.first("provisional"), legendrank=1300,
                marker={"size": 9, "symbol": "circle-open", "color": LINE_GREY,
                        "line": {"width": 2}},
                hovertext=hover, hoverinfo="text", **_axes(row),
            )
        )  # fmt: skip


def _notes(parts: _Parts, notes, data, group, panels, groups, ranges, geo, band_px, ratio):
    """A pencil pointing at each noted point: above it, or below where the point is near
    the top of its panel (never into the band of labels or out of the panel)."""
    for rec in notes.itertuples(index=False):
        at = data[data["x"] == pd.Timestamp(rec.period)]
        row = 1
        note_group = getattr(rec, "group", None)
        if group and note_group and note_group in set(at[group]):
            at = at[at[group] == note_group]
            if panels > 1:
                row = groups.index(note_group) + 1
        y = at["y"].max() if len(at) else np.nan
        if not np.isfinite(y):
            continue
        lo, hi = ranges[row - 1]
        a = math.log10(y) if ratio else y
        px = (a - lo) / (hi - lo) * geo.panel_height(row - 1)
        room = geo.panel_height(row - 1) - (band_px if row == 1 else 0) - px
        parts.annotations.append(
            {"name": "note", "x": rec.period, "y": a if ratio else y, "text": "✎",
             "hovertext": text(rec.text), "showarrow": True, "arrowhead": 2, "ax": 0,
             "ay": -22 if room > 34 else 22, **_refs(row)}
        )  # fmt: skip


def _figure(traces: list[dict], layout: dict) -> go.Figure:
    """The figure of these traces and layout, taken as they are.

    plotly checks every property of a figure as it builds it (about a tenth of a board
    pack's time); these dicts are written here and always pass. The test suite builds
    every figure it draws a second time with plotly's checks on and asserts the very
    same figure (``tests/conftest.py``), so a property plotly would refuse or change
    fails a test, not a user.
    """
    # plotly's checks drop an empty list of shapes or annotations: so does this
    layout = {k: v for k, v in layout.items() if not (isinstance(v, list) and not v)}
    return go.Figure({"data": traces, "layout": layout}, _validate=False)


def chart_key(fig: go.Figure, *, every: bool = False) -> pd.DataFrame:
    """The numbered markers of a chart whose labels did not fit (``mark``, ``month``,
    ``kind``, ``text``: plain text, as typed; ``source``: the index of the row of
    ``cycles`` or ``actions`` it shows): a table to show below the chart. Empty when the
    chart shows its labels in full, unless ``every`` (then every mark, in the order the
    numbers would follow). A funnel plot's key lists its numbered teams."""
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    rows = meta.get("marks") or [] if (every or meta.get("numbered")) else []
    return pd.DataFrame(rows, columns=["mark", "month", "kind", "text", "source"])


def _plain(value: object) -> object:
    """A row label as JSON keeps it (numpy numbers as Python's)."""
    return value.item() if isinstance(value, np.generic) else value


def description(fig: go.Figure) -> str:
    """The figure's text alternative (see :func:`describe`)."""
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    return str(meta.get("description") or "")


# --------------------------------------------------------------------------- words


def _runs_of(months: list[pd.Timestamp]) -> str:
    """Months as "Mar 2025", "Mar 2025 to Jun 2025" (consecutive), joined by commas."""
    if not months:
        return ""
    months = sorted(months)
    spans, start, prev = [], months[0], months[0]
    for m in months[1:]:
        if (m.year - prev.year) * 12 + m.month - prev.month == 1:
            prev = m
            continue
        spans.append((start, prev))
        start = prev = m
    spans.append((start, prev))
    words = [_month(a) if a == b else f"{_month(a)} to {_month(b)}" for a, b in spans]
    if len(words) > 3:
        words = [*words[:2], f"and {len(words) - 2} more periods"]
    return ", ".join(words)


@_by_frequency
def describe(
    points: pd.DataFrame,
    *,
    group: str | None = None,
    title: str = "",
    unit: str = "",
    improvement: str | None = None,
    rules: str,
    ratio: bool = False,
    provisional: pd.DataFrame | None = None,
    cycles: pd.DataFrame | None = None,
    actions: pd.DataFrame | None = None,
) -> str:
    """A short plain-English text alternative of a chart of ``points`` (a screen reader
    reads it in place of the picture): what is charted, the months, and for each series
    its latest value, centre line and limits, and its signals in words.

    The arguments are those of :func:`spc_figure` (``ratio``: the values are natural
    logs of ratios, described as ratios)."""
    explained = explain_signals(points, improvement, rules=rules)
    data = pd.concat([points, explained], axis=1)

    def value(v) -> str:
        if v is None or not np.isfinite(v):
            return ""
        return _fmt(float(np.exp(v)) if ratio else float(v), ratio)

    groups = list(dict.fromkeys(data[group])) if group else [None]
    xs = pd.to_datetime(data["x"].dropna())
    head = (title or "Chart").rstrip(".") + "."
    if len(xs):
        kind = "Control chart" if data.get("ucl", pd.Series(dtype=float)).notna().any() else (
            "Run chart")  # fmt: skip
        many = ""
        if group and len(groups) > 1:
            many = f" of {len(groups)} groups ({', '.join(map(str, groups))})"
        elif group:
            many = f" ({groups[0]})"
        head += f" {kind}{many}, {_month(xs.min())} to {_month(xs.max())}."
    if ratio:
        head += " Values are ratios to the reference group: 1× is no gap."
    elif unit:
        head += f" Values in {unit}."
    sentences = [head]
    for g in groups:
        part = data if g is None else data[data[group] == g]
        shown = part[np.isfinite(part["y"].to_numpy(dtype=float))]
        who = f"{g}: " if g is not None else ""
        if shown.empty:
            sentences.append(f"{who}no value shown (hidden or missing).")
            continue
        last = shown.iloc[-1]
        line = f"{who}latest {_month(last['x'])} {value(last['y'])}"
        final = part[part["phase"] == part["phase"].iloc[-1]] if "phase" in part else part
        cl = final["cl"].dropna() if "cl" in final else pd.Series(dtype=float)
        if len(cl):
            line += f"; centre {value(cl.iloc[-1])}"
        lcl = final["lcl"].dropna() if "lcl" in final else pd.Series(dtype=float)
        ucl = final["ucl"].dropna() if "ucl" in final else pd.Series(dtype=float)
        if len(lcl) and len(ucl):
            line += f", limits {value(lcl.iloc[-1])} to {value(ucl.iloc[-1])}"
        if "phase" in part and part["phase"].nunique() > 1:
            line += (
                f" (the last of {part['phase'].nunique()} phases, from {_month(final['x'].min())})"
            )
        said = []
        for kind, words in SIGNAL_WORDS.items():
            hit = shown[shown["signal_kind"] == kind]
            if hit.empty:
                continue
            why = "; ".join(dict.fromkeys(hit["signal_text"].astype(str)))
            said.append(f"{words} in {_runs_of(list(pd.to_datetime(hit['x'])))}: {why}")
        line += ". " + ("Signals: " + "; ".join(said) if said else "No special cause")
        hidden = int(part["y"].isna().sum())
        if hidden:
            line += (f". {hidden} month{'s' * (hidden > 1)} not shown (small numbers hidden, "
                     "or no value)")  # fmt: skip
        sentences.append(line + ".")
    if provisional is not None and len(provisional):
        months = sorted(pd.to_datetime(provisional["period"]).unique())
        sentences.append(
            f"Provisional, not read by the rules: {', '.join(_month(m) for m in months)}."
        )
    if cycles is not None and len(cycles):
        n = cycles.groupby(["change_idea", "cycle"], dropna=False).ngroups
        first = pd.to_datetime(cycles["start"]).min()
        sentences.append(
            f"{n} PDSA cycle{'s' * (n > 1)} marked"
            + (f", the first from {_month(first)}." if pd.notna(first) else ".")
        )
    if actions is not None and len(actions):
        sentences.append(f"{len(actions)} action{'s' * (len(actions) > 1)} marked.")
    return " ".join(sentences)


# --------------------------------------------------------------------------- others


def sparkline_svg(
    values: Sequence[float | None],
    *,
    width: int = 120,
    height: int = 32,
    colour: str = "#425563",
) -> str | None:
    """A row's recent points as a small standalone SVG line, for a table cell.

    ``values`` are the points in order (as the row's chart draws them); a missing or
    hidden one (None or NaN) is a gap in the line, never joined across, so a run of
    hidden months reads as hidden rather than as a straight line. A point with no
    neighbour drawn is a dot, and the last point drawn has a dot. The line fills the
    height between the lowest and the highest point shown (a flat line sits in the
    middle). None when there is no point to draw: the cell stays blank.
    """
    y = np.array([np.nan if v is None else v for v in values], dtype=float)
    shown = np.isfinite(y)
    if not shown.any():
        return None
    pad, dot = 3.0, 1.6
    low, high = float(y[shown].min()), float(y[shown].max())
    xs = pad + np.arange(len(y)) * ((width - 2 * pad) / max(len(y) - 1, 1))
    if high > low:
        ys = pad + (high - y) / (high - low) * (height - 2 * pad)
    else:
        ys = np.full(len(y), height / 2)
    parts, run = [], []
    for i in [*range(len(y)), len(y)]:  # the extra step ends the last run
        if i < len(y) and shown[i]:
            run.append(f"{xs[i]:.1f},{ys[i]:.1f}")
            continue
        if len(run) > 1:
            parts.append(f'<polyline points="{" ".join(run)}"/>')
        elif run:
            x0, y0 = run[0].split(",")
            parts.append(f'<circle cx="{x0}" cy="{y0}" r="{dot}" fill="{colour}"/>')
        run = []
    last = int(np.flatnonzero(shown)[-1])
    parts.append(f'<circle cx="{xs[last]:.1f}" cy="{ys[last]:.1f}" r="{dot + 0.6}" '
                 f'fill="{colour}"/>')  # fmt: skip
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><g fill="none" stroke="{colour}" '
        f'stroke-width="1.5" stroke-linejoin="round" stroke-linecap="round">'
        + "".join(parts)
        + "</g></svg>"
    )


#: A funnel plot's limit lines: column, dash and legend text (one entry per pair).
FUNNEL_LINES = (
    ("lcl95", "dash", "95% limits"),
    ("ucl95", "dash", None),
    ("lcl998", "solid", "99.8% limits"),
    ("ucl998", "solid", None),
)


def funnel_figure(
    points: pd.DataFrame,
    limits: pd.DataFrame | None = None,
    *,
    title: str = "",
    x_title: str = "Denominator",
    y_title: str = "",
    label: str = "group",
    denominator: str = "denominator",
    height: int = 440,
    width: int | None = None,
    improvement: str | None = None,
) -> go.Figure:
    """A funnel plot: each unit's value against its denominator, with 95 % and 99.8 %
    limits (``limits`` as ``qi.equality.funnel(...).limits`` gives them — long, with
    ``line``, ``denominator`` and ``value`` — or wide, with ``denominator``,
    ``lcl95``, ``ucl95``, ``lcl998``, ``ucl998`` and optionally ``target``).

    Each unit is labelled with its name beside its point; where names would overlap
    each other, a point or the edge, the points are numbered instead and the figure's
    :func:`chart_key` lists the numbers. A unit outside the 99.8 % limits is drawn in
    Making Data Count colours: orange where it is worse, blue where better (as
    ``improvement`` says), purple without a direction. The axes hold the points and
    the limits around them, not the limits' blow-up at tiny denominators."""
    traces: list[dict] = []
    lines = _long_limits(limits, denominator)
    xs = points[denominator].to_numpy(dtype=float)
    ys = points["value"].to_numpy(dtype=float)
    finite = np.isfinite(xs) & np.isfinite(ys)
    x0, x1, near = 0.0, 1.0, 0.0
    if finite.any():
        lo_x, hi_x = float(xs[finite].min()), float(xs[finite].max())
        x0 = 0.0 if lo_x < 0.4 * hi_x else 0.6 * lo_x
        x1 = hi_x * 1.08 + (1 if hi_x == 0 else 0)
        near = max(x0, 0.5 * lo_x)  # the y axis holds the limits from here on
    y_values = list(ys[finite])
    for col, dash, name in (("target", "solid", "Average"), *FUNNEL_LINES):
        line = lines[lines["line"] == col]
        if line.empty:
            continue
        traces.append(
            _scatter(
                x=line["denominator"], y=line["value"], mode="lines", name=name or col,
                showlegend=name is not None, legendgroup=f"{dash}{col == 'target'}",
                line={"color": ALL_COLOUR if col == "target" else LINE_GREY, "dash": dash,
                      "width": 1.2 if col == "target" else 1},
                hoverinfo="skip",
            )
        )  # fmt: skip
        seen = line[(line["denominator"] >= near) & (line["denominator"] <= x1)]
        y_values += list(seen["value"].to_numpy(dtype=float))
    yv = np.asarray(y_values, dtype=float)
    yv = yv[np.isfinite(yv)]
    y0, y1 = (float(yv.min()), float(yv.max())) if len(yv) else (0.0, 1.0)
    pad = 0.08 * ((y1 - y0) or abs(y1) or 1.0)
    y0 = max(y0 - pad, 0.0) if y0 >= 0 else y0 - pad
    y1 = y1 + pad

    centre = _funnel_centre(lines, points, denominator)
    side = _funnel_sides(points, centre)
    for where in ("", "high", "low"):
        part = points[side == where]
        if part.empty:
            continue
        if where:
            better = (where == "high") == (improvement == "increase")
            kind = "neutral" if improvement not in ("increase", "decrease") else (
                "improvement" if better else "concern")  # fmt: skip
            colour, symbol, _ = SIGNAL_STYLE[kind]
            name = f"Outside 99.8% limits ({where}er)" if kind == "neutral" else (
                f"Outside 99.8% limits: {kind}")  # fmt: skip
        else:
            colour, symbol, name = COMMON_GREY, "circle", "Within 99.8% limits"
        traces.append(
            _scatter(
                x=part[denominator], y=part["value"], mode="markers", name=name,
                marker={"size": 10, "symbol": symbol, "color": colour,
                        "line": {"width": 1, "color": "white"}},
                hovertext=[f"{text(u)}: {_fmt(v)} (n = {_fmt(d)})" for u, v, d in
                           zip(part[label], part["value"], part[denominator], strict=True)],
                hoverinfo="text",
            )
        )  # fmt: skip
    geo = _Geometry(width=int(width or ASSUMED_WIDTH), height=int(height), left=80, right=24,
                    top=56 if title else 16, bottom=110)  # fmt: skip
    annotations, key = _funnel_labels(points, label, denominator, (x0, x1), (y0, y1), geo)
    layout = dict(
        title={"text": text(title), "x": 0, "xref": "paper", "xanchor": "left"},
        template=_template(),
        xaxis={"title": {"text": text(x_title)}, "range": [x0, x1]},
        yaxis={"title": {"text": text(y_title)}, "range": [y0, y1]},
        height=height, width=width,
        margin={"l": geo.left, "r": geo.right, "t": geo.top, "b": geo.bottom},
        legend={"orientation": "h", "x": 0, "xanchor": "left", "yanchor": "top",
                "y": -62 / geo.plot_height},
        font={"family": "Arial, sans-serif", "size": 13},
        annotations=annotations,
        meta={"description": _describe_funnel(points, label, title, y_title, side, centre),
              "numbered": bool(key), "marks": key},
    )  # fmt: skip
    return _figure(traces, layout)


def _long_limits(limits: pd.DataFrame | None, denominator: str) -> pd.DataFrame:
    """A funnel's lines, long (``line``, ``denominator``, ``value``), sorted, without
    missing values: each line is drawn from its own denominators."""
    if limits is None or not len(limits):
        return pd.DataFrame(columns=["line", "denominator", "value"])
    if "line" not in limits:
        cols = [c for c in ("target", "lcl95", "ucl95", "lcl998", "ucl998") if c in limits]
        limits = limits.melt(id_vars=[denominator], value_vars=cols, var_name="line")
        limits = limits.rename(columns={denominator: "denominator"})
    out = limits[["line", "denominator", "value"]].dropna()
    return out.sort_values(["line", "denominator"]).reset_index(drop=True)


def _funnel_sides(points: pd.DataFrame, centre: float) -> pd.Series:
    """Per unit: "high" or "low" outside the 99.8 % limits, else "". Read from
    ``significance`` where the funnel gives it (PHE: "High (0.001)", "Low (0.001)"),
    else from ``outlier`` and the side of the centre."""
    if "significance" in points:
        sig = points["significance"].astype(str)
        return pd.Series(
            np.where(sig == "High (0.001)", "high", np.where(sig == "Low (0.001)", "low", "")),
            index=points.index,
        )
    out = points.get("outlier", pd.Series(False, index=points.index))
    out = out.fillna(False).astype(bool).to_numpy()
    high = points["value"].to_numpy(dtype=float) > centre
    return pd.Series(np.where(out, np.where(high, "high", "low"), ""), index=points.index)


def _funnel_centre(lines: pd.DataFrame, points: pd.DataFrame, denominator: str) -> float:
    """The funnel's centre: its ``target`` line, else the units' values weighted by
    their denominators (the pooled value)."""
    target = lines.loc[lines["line"] == "target", "value"]
    if len(target):
        return float(target.iloc[0])
    d = points[denominator].to_numpy(dtype=float)
    v = points["value"].to_numpy(dtype=float)
    ok = np.isfinite(d) & np.isfinite(v)
    return float((d[ok] * v[ok]).sum() / d[ok].sum()) if ok.any() and d[ok].sum() else np.nan


def _funnel_labels(points, label, denominator, xr, yr, geo: _Geometry):
    """Each point's name beside it (right, else left), or numbers when names collide."""
    pts = points[np.isfinite(points[denominator].to_numpy(dtype=float))
                 & np.isfinite(points["value"].to_numpy(dtype=float))]  # fmt: skip
    px = (pts[denominator].to_numpy(dtype=float) - xr[0]) / (xr[1] - xr[0]) * geo.plot_width
    py = (pts["value"].to_numpy(dtype=float) - yr[0]) / (yr[1] - yr[0]) * geo.plot_height
    names = [str(n) for n in pts[label]]

    def fits(words: list[str]) -> list[str] | None:
        boxes, sides = [], []
        dots = [(x - 6, y - 6, x + 6, y + 6) for x, y in zip(px, py, strict=True)]
        for x, y, w in zip(px, py, words, strict=True):
            width = len(w) * CHAR_PX * 1.1 + 4
            for side, box in (("left", (x + 8, y - 7, x + 8 + width, y + 7)),
                              ("right", (x - 8 - width, y - 7, x - 8, y + 7))):  # fmt: skip
                if box[0] < 0 or box[2] > geo.plot_width + geo.right - 10:
                    continue
                if any(_overlap(box, b) for b in boxes + dots):
                    continue
                boxes.append(box)
                sides.append(side)
                break
            else:
                return None
        return sides

    sides = fits(names)
    numbered = sides is None
    words = [str(i + 1) for i in range(len(names))] if numbered else names
    if numbered:
        sides = fits(words) or ["left"] * len(words)
    annotations = [
        {
            "name": "point-label",
            "x": d,
            "y": v,
            "xref": "x",
            "yref": "y",
            "text": text(w),
            "xanchor": side,
            "xshift": 8 if side == "left" else -8,
            "yanchor": "middle",
            "showarrow": False,
            "font": {"size": 11, "color": "#212B32"},
        }
        for d, v, w, side in zip(pts[denominator], pts["value"], words, sides, strict=True)
    ]
    key = (
        [{"mark": w, "month": "", "kind": "team", "text": n, "source": _plain(i)}
         for w, n, i in zip(words, names, pts.index, strict=True)]
        if numbered else []
    )  # fmt: skip
    return annotations, key


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _describe_funnel(points, label, title, unit, side, centre) -> str:
    words = [(title or "Funnel plot").rstrip(".") + "."]
    words.append(
        f"Funnel plot of {len(points)} units; average {_fmt(centre)}"
        + (f" {unit}" if unit else "")
        + "."
    )
    out = points[side != ""]
    if out.empty:
        words.append("Every unit is within the 99.8% limits.")
    else:
        words.append(
            "Outside the 99.8% limits: "
            + "; ".join(
                f"{u} ({_fmt(v)}, {'above' if s == 'high' else 'below'})"
                for u, v, s in zip(out[label], out["value"], side[side != ""], strict=True)
            )
            + "."
        )
    return " ".join(words)
