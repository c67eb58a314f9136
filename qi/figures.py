"""Plotly figures of run and control charts, with change cycles and signals explained.

Everything here takes the tidy frames of :func:`qi.spc` (and of the store) and
returns a :class:`plotly.graph_objects.Figure`; the dashboard shows them and the
board pack exports the same figures, so a chart looks the same everywhere.

Accessibility: the palette is Okabe–Ito (safe for the common colour-vision
deficiencies); a signal is drawn with its own marker *shape* as well as colour, and
every point's hover text says in words which rule fired. Text that users typed
(change ideas, annotations) is passed to plotly as plain text: plotly renders a small
subset of HTML in labels, so such text is escaped first.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from qi.rules import RULE_SETS

#: Okabe–Ito colours, for groups (one per line).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")
SIGNAL_STYLE = {
    # kind: (colour, marker symbol, legend text)
    "improvement": ("#0072B2", "diamond", "Special cause: improvement"),
    "concern": ("#D55E00", "square", "Special cause: concern"),
    "neutral": ("#CC79A7", "triangle-up", "Special cause"),
}
LINE_GREY = "#5F6B73"


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


def _fmt(value: float) -> str:
    if value is None or not np.isfinite(value):
        return ""
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


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
    rules: str,
    provisional: pd.DataFrame | None = None,
) -> go.Figure:
    """A run or control chart of ``points`` (one series, or one per value of ``group``).

    Parameters
    ----------
    points : the ``.points`` of :func:`qi.spc` (filtered to the series to draw).
    group : column naming the series (e.g. ``"group"`` for ethnic groups). With
        ``facet=True`` each group gets its own panel with its centre line and limits
        (small multiples, same y axis); with ``facet=False`` the groups are lines on
        one chart, each with its centre line and limits in its own colour. Every
        control chart has its limits, one series or many, labelled with their values.
    cycles : change ideas and PDSA cycles (``change_idea``, ``cycle``, ``stage``,
        ``start``, ``end``): drawn as labelled bands from start to end.
    annotations : notes on points (``period``, ``text``, optional ``group``).
    actions : decisions and actions recorded on the measure (``period``, ``raised_by``,
        ``decision``, ``action``, ``owner``, ``due``, ``done``): a labelled marker at
        the month reviewed, "overdue" when not done by its due date.
    rules : the rule set the points were computed with (``SPCResult.rules``), which
        says what each signal means (see :func:`explain_signals`).
    provisional : months not every team expected has sent yet (``period``, ``value``,
        ``teams``, ``expected`` and the ``group`` column): hollow markers apart from the
        line, labelled "provisional", never read by the rules.
    """
    explained = explain_signals(points, improvement, rules=rules)
    data = pd.concat([points, explained], axis=1)
    groups = list(dict.fromkeys(data[group])) if group else [None]
    panels = len(groups) if (group and facet) else 1
    fig = make_subplots(
        rows=panels,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04 if panels > 1 else 0.02,
        subplot_titles=[text(g) for g in groups] if panels > 1 else None,
    )
    # traces, shapes and annotations are collected and added once: plotly's per-call
    # add_* with row/col is slow (it revalidates the whole figure each time)
    parts = _Parts(list(fig.layout.annotations))
    for i, g in enumerate(groups):
        part = data if g is None else data[data[group] == g]
        row = i + 1 if panels > 1 else 1
        colour = PALETTE[i % len(PALETTE)] if (group and not facet) else PALETTE[0]
        name = text(g) if g is not None else text(y_title or "value")
        overlaid = bool(group) and not facet and len(groups) > 1
        _series(parts, part, row, colour, name, overlaid=overlaid)
    if provisional is not None and len(provisional):
        _provisional(parts, provisional, group, groups, panels)
    if cycles is not None and len(cycles):
        _cycles(parts, cycles, data["x"])
    if annotations is not None and len(annotations):
        _annotations(parts, annotations, data, group, panels, groups)
    if actions is not None and len(actions):
        _actions(parts, actions)
    fig.add_traces(parts.traces)
    fig.update_layout(
        annotations=parts.annotations,
        shapes=parts.shapes,
        title=text(title),
        template="plotly_white",
        hovermode="closest",
        height=height or (260 * panels + 120 if panels > 1 else 440),
        margin={"l": 60, "r": 150, "t": 70, "b": 40},
        legend={"orientation": "h", "y": -0.12 if panels == 1 else -0.04},
        font={"family": "Arial, sans-serif", "size": 13},
    )
    fig.update_yaxes(title_text=text(y_title), rangemode="tozero")
    return fig


class _Parts:
    """What a figure is made of, gathered before it is built."""

    def __init__(self, annotations: list) -> None:
        self.traces: list[go.Scatter] = []
        self.annotations: list = annotations
        self.shapes: list[dict] = []
        self.legend: set[str] = set()

    def first(self, name: str) -> bool:
        """True the first time a legend entry is drawn."""
        seen = name in self.legend
        self.legend.add(name)
        return not seen


def _axes(row: int) -> dict[str, str]:
    suffix = "" if row == 1 else str(row)
    return {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}


def _refs(row: int) -> dict[str, str]:
    suffix = "" if row == 1 else str(row)
    return {"xref": f"x{suffix}", "yref": f"y{suffix}"}


def _series(parts: _Parts, part, row, colour, name, *, overlaid: bool = False) -> None:
    """One series: its points, and per phase its centre line and limits, each labelled
    with its value (several series on one chart: limits in the series' colour, labels
    named after it)."""
    x = part["x"]
    hover = [
        f"{pd.Timestamp(xv):%b %Y}<br>{name}: {_fmt(yv)}"
        + (f"<br>n = {_fmt(nv)}" if pd.notna(nv) else "")
        + (f"<br><b>{text(st)}</b>" if st else "")
        for xv, yv, nv, st in zip(x, part["y"], part["n"], part["signal_text"], strict=True)
    ]
    axes = _axes(row)
    parts.traces.append(
        go.Scatter(
            x=x, y=part["y"], mode="lines+markers", name=name, line={"color": colour, "width": 2},
            marker={"size": 6, "color": colour}, hovertext=hover, hoverinfo="text",
            legendgroup=name, showlegend=parts.first(name), **axes,
        )
    )  # fmt: skip
    runs = part["runs_signal"].fillna(False).astype(bool) if "runs_signal" in part else None
    for _, seg in part.groupby("phase", sort=False):
        lines = [("cl", "Centre", "solid" if runs is None or not runs[seg.index].any() else "dash")]
        lines += [("lcl", "Lower limit", "dot"), ("ucl", "Upper limit", "dot")]
        limit_colour = colour if overlaid else LINE_GREY
        for col, label, dash in lines:
            values = seg[col]
            if values.isna().all():
                continue
            parts.traces.append(
                go.Scatter(
                    x=seg["x"], y=values, mode="lines", hoverinfo="skip", showlegend=False,
                    line={"color": limit_colour if col != "cl" else colour, "dash": dash,
                          "width": 1.2},
                    **axes,
                )
            )  # fmt: skip
            last = values.dropna()
            parts.annotations.append(
                {"x": seg["x"].iloc[-1], "y": last.iloc[-1],
                 "text": f"{name}: " * overlaid + f"{label} {_fmt(last.iloc[-1])}",
                 "showarrow": False,
                 "xanchor": "left", "xshift": 6,
                 "font": {"size": 10, "color": LINE_GREY}, **_refs(row)}
            )  # fmt: skip
        if "target" in seg and seg["target"].notna().any():
            parts.traces.append(
                go.Scatter(
                    x=seg["x"], y=seg["target"], mode="lines", name="Target",
                    line={"color": "#009E73", "dash": "dashdot", "width": 1.2},
                    hoverinfo="skip", showlegend=parts.first("Target"), legendgroup="Target",
                    **axes,
                )
            )  # fmt: skip
    for kind, (sig_colour, symbol, label) in SIGNAL_STYLE.items():
        hit = part[part["signal_kind"] == kind]
        if hit.empty:
            continue
        parts.traces.append(
            go.Scatter(
                x=hit["x"], y=hit["y"], mode="markers", name=label, legendgroup=label,
                marker={"size": 12, "symbol": symbol, "color": sig_colour,
                        "line": {"width": 1, "color": "white"}},
                hovertext=[f"{label}: {text(t)}" for t in hit["signal_text"]], hoverinfo="text",
                showlegend=parts.first(label), **axes,
            )
        )  # fmt: skip


def _provisional(parts: _Parts, rows: pd.DataFrame, group, groups, panels) -> None:
    """Months not every team has sent: hollow grey markers, off the line, with their
    coverage in the hover and a "provisional" label on the latest."""
    for i, g in enumerate(groups):
        part = rows if g is None or group not in rows else rows[rows[group] == g]
        part = part[np.isfinite(part["value"].to_numpy(dtype=float))]
        if part.empty:
            continue
        row = i + 1 if panels > 1 else 1
        hover = [
            f"{pd.Timestamp(p):%b %Y}: {_fmt(v)}<br>provisional: {int(t)} of {int(e)} teams "
            "have sent this month; not read by the rules"
            for p, v, t, e in zip(part["period"], part["value"], part["teams"],
                                  part["expected"], strict=True)
        ]  # fmt: skip
        parts.traces.append(
            go.Scatter(
                x=part["period"], y=part["value"], mode="markers", name="Provisional month",
                legendgroup="provisional", showlegend=parts.first("Provisional month"),
                marker={"size": 9, "symbol": "circle-open", "color": LINE_GREY,
                        "line": {"width": 2}},
                hovertext=hover, hoverinfo="text", **_axes(row),
            )
        )  # fmt: skip
        last = part.sort_values("period").iloc[-1]
        parts.annotations.append(
            {"x": last["period"], "y": last["value"], "yshift": 12, "showarrow": False,
             "text": f"provisional ({int(last['teams'])} of {int(last['expected'])} teams)",
             "font": {"size": 10, "color": LINE_GREY}, **_refs(row)}
        )  # fmt: skip


def _cycles(parts: _Parts, cycles: pd.DataFrame, x: pd.Series) -> None:
    """PDSA cycles as shaded bands over every panel, with a label at their start."""
    last = pd.Timestamp(x.max()) if len(x) else None
    spans = (
        cycles.assign(end=cycles["end"].fillna(last))
        .groupby(["change_idea", "cycle"], sort=False)
        .agg(start=("start", "min"), end=("end", "max"))
        .reset_index()
        .sort_values("start")
    )
    for k, rec in enumerate(spans.itertuples(index=False)):
        parts.shapes.append(
            {"type": "rect", "xref": "x", "yref": "paper", "x0": rec.start, "x1": rec.end,
             "y0": 0, "y1": 1, "fillcolor": "#F0E442", "opacity": 0.15, "line": {"width": 0},
             "layer": "below"}
        )  # fmt: skip
        parts.shapes.append(
            {"type": "line", "xref": "x", "yref": "paper", "x0": rec.start, "x1": rec.start,
             "y0": 0, "y1": 1, "line": {"color": "#7A6C00", "width": 1, "dash": "dot"}}
        )  # fmt: skip
        parts.annotations.append(
            {"x": rec.start, "y": 1.0 - 0.06 * (k % 4), "xref": "x", "yref": "paper",
             "xanchor": "left", "showarrow": False,
             "text": f"PDSA {int(rec.cycle)}: {text(str(rec.change_idea)[:60])}",
             "font": {"size": 10, "color": "#4D4400"}, "bgcolor": "rgba(255,255,255,0.7)"}
        )  # fmt: skip


def _annotations(parts: _Parts, notes, data, group, panels, groups) -> None:
    for rec in notes.itertuples(index=False):
        at = data[data["x"] == pd.Timestamp(rec.period)]
        row = 1
        note_group = getattr(rec, "group", None)
        if group and note_group and note_group in set(at[group]):
            at = at[at[group] == note_group]
            if panels > 1:
                row = groups.index(note_group) + 1
        if at.empty:
            continue
        parts.annotations.append(
            {"x": rec.period, "y": at["y"].max(), "text": "✎", "hovertext": text(rec.text),
             "showarrow": True, "arrowhead": 2, "ax": 0, "ay": -30, **_refs(row)}
        )  # fmt: skip


def _actions(parts: _Parts, actions: pd.DataFrame) -> None:
    """Board and team actions as markers along the top of the chart, like change cycles."""
    today = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()
    for rec in actions.itertuples(index=False):
        overdue = pd.isna(rec.done) and pd.notna(rec.due) and pd.Timestamp(rec.due) < today
        what = rec.action or rec.decision
        label = f"{str(rec.raised_by).capitalize()} action{' (overdue)' if overdue else ''}"
        parts.annotations.append(
            {"x": rec.period, "y": 0, "xref": "x", "yref": "paper", "yanchor": "bottom",
             "text": "⚑ " + label, "showarrow": False,
             "hovertext": text(f"{what} — owner: {rec.owner}; due {rec.due:%d %b %Y}"
                               if pd.notna(rec.due) else f"{what} — owner: {rec.owner}"),
             "font": {"size": 10, "color": "#D55E00" if overdue else "#333333"},
             "bgcolor": "rgba(255,255,255,0.8)"}
        )  # fmt: skip


def sparkline(values: Sequence[float]) -> list[float]:
    """The values a board matrix draws as a sparkline (missing values dropped)."""
    return [float(v) for v in values if v is not None and np.isfinite(v)]


def funnel_figure(
    points: pd.DataFrame,
    limits: pd.DataFrame | None = None,
    *,
    title: str = "",
    x_title: str = "Denominator",
    y_title: str = "",
    label: str = "group",
    denominator: str = "denominator",
) -> go.Figure:
    """A funnel plot: each unit's value against its denominator, with 95 % and 99.8 %
    limits (``limits`` as ``qi.equality.funnel(...).limits`` gives them — long, with
    ``line``, ``denominator`` and ``value`` — or wide, with ``denominator``,
    ``lcl95``, ``ucl95``, ``lcl998``, ``ucl998``)."""
    fig = go.Figure()
    if limits is not None and "line" in limits:
        limits = limits.pivot_table(index="denominator", columns="line", values="value")
        limits = limits.reset_index().rename(columns={"denominator": denominator})
    if limits is not None and len(limits):
        for col, dash, name in (
            ("lcl95", "dash", "95% limits"),
            ("ucl95", "dash", None),
            ("lcl998", "solid", "99.8% limits"),
            ("ucl998", "solid", None),
        ):
            fig.add_trace(
                go.Scatter(
                    x=limits[denominator],
                    y=limits[col],
                    mode="lines",
                    name=name or col,
                    showlegend=name is not None,
                    line={"color": LINE_GREY, "dash": dash, "width": 1},
                    hoverinfo="skip",
                )
            )
    outlier = points.get("outlier", pd.Series(False, index=points.index)).fillna(False).astype(bool)
    for is_out, (colour, symbol, name) in (
        (False, ("#0072B2", "circle", "Within limits")),
        (True, ("#D55E00", "square", "Outside 99.8% limits")),
    ):
        part = points[outlier == is_out]
        if part.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=part[denominator],
                y=part["value"],
                mode="markers",
                name=name,
                marker={"size": 10, "symbol": symbol, "color": colour},
                hovertext=[
                    f"{text(u)}: {_fmt(v)} (n = {_fmt(d)})"
                    for u, v, d in zip(part[label], part["value"], part[denominator], strict=True)
                ],
                hoverinfo="text",
            )
        )
    fig.update_layout(
        title=text(title),
        template="plotly_white",
        xaxis_title=text(x_title),
        yaxis_title=text(y_title),
        height=440,
        font={"family": "Arial, sans-serif", "size": 13},
    )
    return fig
