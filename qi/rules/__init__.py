"""Rule sets: which signals a chart is read with, their constants, and what they mean.

The registry :data:`RULE_SETS` maps a ``rules`` key of :func:`qi.spc` to a
:class:`RuleSet`. A rule set holds

- its constants (``mr_sigma``: sigma per unit of average moving range, used by the
  moving-range charts I, T, P′ and U′; its rule lengths),
- ``evaluate``: a function that reads the lines of every point of every segment
  (series × phase) at once and returns the point columns and the per-segment
  (summary) columns it adds, and
- ``explain``: what its signals mean, per point (``signal_kind`` "", "improvement",
  "concern" or "neutral", and ``signal_text``, the rule that fired in words), which
  the figures, the exports and the workshop show.

The rules themselves live in one module per family, named for it:
:mod:`qi.rules.anhoej` (Anhøj runs rules, qicharts2), :mod:`qi.rules.mdc` (NHS
Making Data Count, NHSRplotthedots; the summary and icons are :mod:`qi.mdc`) and
:mod:`qi.rules.classic` (IHI run chart rules and the Western Electric rules).

The 3-sigma signal (a point strictly outside the limits) is common to every rule
set and computed by :func:`qi.spc` itself. Adding a rule set is adding one entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from qi._segments import BoolArray, FloatArray, IntArray, sizes, spread
from qi.rules import anhoej, classic
from qi.rules import mdc as mdc_rules


@dataclass(frozen=True)
class RuleInput:
    """What a rule set reads: every point, ordered by segment then x, after ``multiply``.

    Attributes
    ----------
    seg, n_seg : segment (series × phase) of each point, number of segments.
    series : series id of each point; ``series_of_seg`` the series of each segment.
    y, cl, lcl, ucl, lcl_95, ucl_95 : the plotted value and lines (NaN where undefined).
    include : False for excluded points.
    ordered_x : x has an order (numbers or dates), so runs can be read.
    chart : the chart key.
    improvement : "increase", "decrease", "neutral" or None.
    target : per point (NaN without one); ``has_target``: a target was given at all.
    params : the rule set's parameters, defaults merged with the caller's.
    describe_point : names the series of point i, for error messages.
    starts : the first point of each segment (segments are contiguous and non-empty),
        when known.
    """

    seg: IntArray
    n_seg: int
    series: IntArray
    series_of_seg: IntArray
    y: FloatArray
    cl: FloatArray
    lcl: FloatArray
    ucl: FloatArray
    lcl_95: FloatArray
    ucl_95: FloatArray
    include: BoolArray
    ordered_x: bool
    chart: str
    improvement: str | None
    target: FloatArray
    has_target: bool
    params: Mapping[str, Any]
    describe_point: Callable[[int], str]
    starts: IntArray | None = None


@dataclass(frozen=True)
class RuleOutput:
    """Columns a rule set adds: per point, and per segment (the summary rows)."""

    points: dict[str, np.ndarray]
    segments: dict[str, np.ndarray]


@dataclass(frozen=True)
class RuleSet:
    """One rule set of the registry.

    Attributes
    ----------
    key : the ``rules`` argument of :func:`qi.spc`.
    label : a name for people.
    mr_sigma : sigma per unit of average moving range for the moving-range charts.
    evaluate : computes the rule set's columns (see :class:`RuleInput`).
    explain : ``explain(points, improvement)``: what the signals of its points mean, a
        frame on the points' index with ``signal_kind`` ("", "improvement", "concern",
        "neutral") and ``signal_text`` (the rule that fired, in words).
    point_columns : the point columns it adds, in output order.
    summary_columns, summary_tail : the summary columns it adds before and after the
        common ones (``cl`` … ``sigma_signals``).
    defaults : its parameters (rule lengths), overridable through ``qi.spc(rule_params=...)``.
    description : the rules as their sources state them (the formulae), with the source.
    plain : the rules in plain words, for someone learning to read a chart.
    """

    key: str
    label: str
    mr_sigma: float
    evaluate: Callable[[RuleInput], RuleOutput]
    explain: Callable[[pd.DataFrame, str | None], pd.DataFrame]
    point_columns: tuple[str, ...]
    summary_columns: tuple[str, ...]
    description: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    summary_tail: tuple[str, ...] = ()
    plain: str = ""


#: Each rule set in plain words, for someone learning to read a chart (the Workshop).
_PLAIN = {
    "anhoej": (
        "Look at where the points fall around the centre line (the median):\n"
        "- A shift: too many points in a row all above, or all below, the centre line. With 24 "
        "points, 9 or more in a row is too many for chance.\n"
        "- Too few crossings: the line of points crosses the centre line less often than chance "
        "would make it (with 24 points, fewer than 8 times).\n"
        "- A point outside the control limits is unusual on its own.\n"
        "Any of these says the process changed; none of them says why."
    ),
    "mdc": (
        "NHS England's Making Data Count looks for four patterns:\n"
        "- One point above the upper or below the lower process limit.\n"
        "- A shift: 7 points in a row all above, or all below, the average.\n"
        "- A trend: 7 points in a row each higher (or each lower) than the one before.\n"
        "- Two of three points in a row close to a limit (more than two thirds of the way to "
        "it), on the same side.\n"
        "Orange means a change for the worse, blue a change for the better, purple a change "
        "where neither direction is better; grey points are common cause (no pattern)."
    ),
    "ihi": (
        "The IHI rules for run charts, read around the median:\n"
        "- A shift: 6 or more points in a row above, or below, the median.\n"
        "- A trend: 5 or more points in a row each going up, or each going down.\n"
        "- Too few or too many runs (a run is a stretch of points on one side of the median) "
        "for the number of points.\n"
        "- An astronomical point: one clearly unlike all the others (here: outside the control "
        "limits)."
    ),
    "western_electric": (
        "The Western Electric rules, from the limits outwards:\n"
        "- One point outside the control limits (3 sigma).\n"
        "- 2 of 3 points in a row beyond 2 sigma, on the same side.\n"
        "- 4 of 5 points in a row beyond 1 sigma, on the same side.\n"
        "- 8 points in a row on the same side of the centre line."
    ),
}

_RUNS_COLUMNS = (
    "runs_signal",
    "longest_run",
    "longest_run_max",
    "n_crossings",
    "n_crossings_min",
    "n_obs",
    "n_useful",
)


def _anhoej(ri: RuleInput) -> RuleOutput:
    ra = anhoej.runs_analysis(ri.y, ri.cl, ri.include, ri.seg, ri.n_seg, ri.starts)
    signal = ra.runs_signal
    if not ri.ordered_x or ri.chart == "mr":
        # no runs without an order along x; an MR chart's points are not independent
        signal = np.zeros_like(signal)
    per_seg = {
        "n_obs": ra.n_obs,
        "n_useful": ra.n_useful,
        "longest_run": ra.longest_run,
        "longest_run_max": ra.longest_run_max,
        "n_crossings": ra.n_crossings,
        "n_crossings_min": ra.n_crossings_min,
        "runs_signal": signal,
    }
    on_points = spread(ri.seg, ri.n_seg, ri.starts)
    points = {c: on_points(per_seg[c]) for c in _RUNS_COLUMNS}
    return RuleOutput(points, per_seg)


_MDC_POINTS = (
    "relative_to_mean",
    "close_to_limits",
    "outside_limits",
    "special_cause",
    "point_type",
    "short_group_warning",
)


def _mdc(ri: RuleInput) -> RuleOutput:
    improvement = ri.improvement or "increase"  # NHSRplotthedots' default
    keep = ri.include
    out = mdc_rules.limit_flags(ri.y, ri.cl, ri.lcl, ri.ucl, ri.lcl_95, ri.ucl_95)
    rel, outside = out["relative_to_mean"], out["outside_limits"]
    shift, trend = int(ri.params["shift"]), int(ri.params["trend"])
    close = out["close_to_limits"]
    if keep.all():
        code = mdc_rules.special_cause(
            ri.y,
            rel,
            outside,
            close,
            ri.seg,
            shift=shift,
            trend=trend,
            describe=ri.describe_point,
        )
    else:
        # excluded points take no part in the patterns: they keep only the limits rule
        code = mdc_rules.outside_code(rel, outside)
        idx = np.flatnonzero(keep)
        code[idx] = mdc_rules.special_cause(
            ri.y[idx],
            rel[idx],
            outside[idx],
            close[idx],
            ri.seg[idx],
            shift=shift,
            trend=trend,
            describe=lambda i: ri.describe_point(int(idx[i])),
        )
    out["special_cause"] = mdc_rules.labels(code, shift=shift, trend=trend)
    ptype = mdc_rules.point_type(code, improvement)
    counted = ri.starts is not None and len(ri.starts) == ri.n_seg
    n_rows = sizes(ri.starts, len(ri.seg)) if counted else np.bincount(ri.seg, minlength=ri.n_seg)
    short = n_rows < int(ri.params["short_group"])
    out["point_type"] = ptype
    out["short_group_warning"] = spread(ri.seg, ri.n_seg, ri.starts)(short)

    flagged = code != mdc_rules.COMMON
    if keep.all():
        n_obs = n_rows.astype(np.int64)
    else:
        n_obs = np.bincount(ri.seg[keep], minlength=ri.n_seg).astype(np.int64)
    last = np.r_[ri.seg[1:] != ri.seg[:-1], True] if len(ri.seg) else np.zeros(0, dtype=bool)
    last_idx = np.flatnonzero(last)
    # the assurance of a series is read on its last phase, at its last point
    last_phase = np.r_[ri.series_of_seg[1:] != ri.series_of_seg[:-1], True]
    assurance = np.full(ri.n_seg, None, dtype=object)
    if ri.has_target and ri.n_seg:
        values = mdc_rules.assurance(
            ri.target[last_idx], ri.lcl[last_idx], ri.ucl[last_idx], improvement
        )
        assurance[last_phase] = values[last_phase]
    segments = {
        "n_obs": n_obs,
        "common_cause": n_obs - np.bincount(ri.seg[keep & flagged], minlength=ri.n_seg),
        "special_cause_improvement": np.bincount(
            ri.seg[np.asarray(ptype == "special_cause_improvement")], minlength=ri.n_seg
        ),
        "special_cause_concern": np.bincount(
            ri.seg[np.asarray(ptype == "special_cause_concern")], minlength=ri.n_seg
        ),
        "variation": ptype[last_idx],
        "assurance": assurance,
        "short_group_warning": short,
    }
    return RuleOutput({k: out[k] for k in _MDC_POINTS}, segments)


def _outside(ri: RuleInput) -> BoolArray:
    with np.errstate(invalid="ignore"):
        return (ri.y > ri.ucl) | (ri.y < ri.lcl)


def _ihi(ri: RuleInput) -> RuleOutput:
    """IHI run chart rules (Provost & Murray 2011; Perla, Provost & Murray 2011).

    1. Shift: ``shift`` (6) or more consecutive points all above or all below the
       centre line (the median on a run chart); points on the line are skipped.
    2. Trend: ``trend`` (5) or more consecutive points all going up or all going
       down; like values are counted once.
    3. Too few or too many runs for the number of useful observations, from the
       published table (:data:`qi.rules.classic.IHI_RUNS_TABLE`, 10 to 60 points).
    4. Astronomical point: IHI leaves this to judgement; here, a point outside the
       chart's 3-sigma limits when the chart has them (never on a run chart).
    """
    d = classic.ihi(
        ri.y,
        ri.cl,
        _outside(ri),
        ri.include,
        ri.seg,
        ri.n_seg,
        shift=int(ri.params["shift"]),
        trend=int(ri.params["trend"]),
        table=ri.params["runs_table"],
    )
    code = d["code"]
    runs_signal = d["runs_signal"]
    if not ri.ordered_x:
        runs_signal = np.zeros_like(runs_signal)
    per_seg = {
        "n_obs": np.bincount(ri.seg[ri.include], minlength=ri.n_seg).astype(np.int64),
        "n_useful": d["n_useful"],
        "n_runs": d["n_runs"],
        "runs_lower": d["runs_lower"],
        "runs_upper": d["runs_upper"],
        "runs_signal": runs_signal,
        "special_causes": np.bincount(ri.seg[code > 0], minlength=ri.n_seg).astype(np.int64),
    }
    points = {
        "special_cause": classic.labels(code, classic.IHI_LABELS),
        **{k: per_seg[k][ri.seg] for k in _IHI_SEGMENT_POINTS},
    }
    return RuleOutput(points, per_seg)


_IHI_SEGMENT_POINTS = ("runs_signal", "n_useful", "n_runs", "runs_lower", "runs_upper")


def _western_electric(ri: RuleInput) -> RuleOutput:
    """Western Electric rules (Western Electric Co., *Statistical Quality Control
    Handbook*, 1956, pp. 25–28), with zones at 1, 2 and 3 sigma from the centre:

    1. one point beyond 3 sigma;
    2. two of three consecutive points beyond 2 sigma on the same side;
    3. four of five consecutive points beyond 1 sigma on the same side;
    4. ``run`` (8) consecutive points on the same side of the centre line.

    The points that make a pattern are flagged with its rule (the lowest rule
    number wins). Sigma on each side is half the distance from the centre line to
    the 2-sigma line, so charts whose limits are clamped (P at 0 or 1) or skewed
    (T, G) get their zones from the lines as drawn.
    """
    code = classic.western_electric(
        ri.y,
        ri.cl,
        ri.lcl,
        ri.ucl,
        ri.lcl_95,
        ri.ucl_95,
        ri.include,
        ri.seg,
        run=int(ri.params["run"]),
    )
    per_seg = {
        "n_obs": np.bincount(ri.seg[ri.include], minlength=ri.n_seg).astype(np.int64),
        "special_causes": np.bincount(ri.seg[code > 0], minlength=ri.n_seg).astype(np.int64),
    }
    return RuleOutput({"special_cause": classic.labels(code, classic.WE_LABELS)}, per_seg)


RULE_SETS: dict[str, RuleSet] = {
    r.key: r
    for r in (
        RuleSet(
            key="anhoej",
            label="Anhøj runs rules with 3-sigma limits (qicharts2)",
            mr_sigma=1 / 1.128,
            evaluate=_anhoej,
            explain=anhoej.explain,
            point_columns=_RUNS_COLUMNS,
            summary_columns=(
                "n_obs",
                "n_useful",
                "longest_run",
                "longest_run_max",
                "n_crossings",
                "n_crossings_min",
                "runs_signal",
            ),
            plain=_PLAIN["anhoej"],
            description=(
                "A shift: the longest run on one side of the centre line is longer than "
                "round(log2(n)) + 3 (Schilling 2012). Too few crossings: the centre line is "
                "crossed fewer times than the 5 % quantile of Binomial(n − 1, 0.5) (Chen 2010). "
                "n counts the useful points (not on the centre line). Anhøj & Olesen, PLoS ONE "
                "2014. A point outside the 3-sigma limits is a sigma signal."
            ),
        ),
        RuleSet(
            key="mdc",
            label="NHS Making Data Count (NHSRplotthedots)",
            mr_sigma=2.66 / 3,
            evaluate=_mdc,
            explain=mdc_rules.explain,
            point_columns=_MDC_POINTS,
            summary_columns=("n_obs",),
            summary_tail=(
                "common_cause",
                "special_cause_improvement",
                "special_cause_concern",
                "variation",
                "assurance",
                "short_group_warning",
            ),
            defaults={"shift": 7, "trend": 7, "short_group": mdc_rules.SHORT_GROUP},
            plain=_PLAIN["mdc"],
            description=(
                "Making Data Count (NHS England): a point beyond a process limit "
                "(mean ± 2.66 × mean moving range on an I chart); a trend of 7 points "
                "each higher (or lower) than the last; two of three points beyond 2 sigma "
                "on the same side; a shift of 7 points on one side of the mean. Variation "
                "and assurance icons read the last point and the target."
            ),
        ),
        RuleSet(
            key="ihi",
            label="IHI run chart rules",
            mr_sigma=1 / 1.128,
            evaluate=_ihi,
            explain=classic.explain,
            point_columns=("special_cause", *_IHI_SEGMENT_POINTS),
            summary_columns=(
                "n_obs",
                "n_useful",
                "n_runs",
                "runs_lower",
                "runs_upper",
                "runs_signal",
            ),
            summary_tail=("special_causes",),
            defaults={"shift": 6, "trend": 5, "runs_table": classic.IHI_RUNS_TABLE},
            plain=_PLAIN["ihi"],
            description=(
                "IHI run chart rules (Provost & Murray, The Health Care Data Guide, 2011): a "
                "shift of 6 or more points on one side of the median; a trend of 5 or more "
                "points all going up or down; too few or too many runs (Swed & Eisenhart "
                "table); an astronomical point (here: beyond 3-sigma limits, if any)."
            ),
        ),
        RuleSet(
            key="western_electric",
            label="Western Electric rules",
            mr_sigma=1 / 1.128,
            evaluate=_western_electric,
            explain=classic.explain,
            point_columns=("special_cause",),
            summary_columns=("n_obs",),
            summary_tail=("special_causes",),
            defaults={"run": 8},
            plain=_PLAIN["western_electric"],
            description=(
                "Western Electric Statistical Quality Control Handbook (1956): one point "
                "beyond 3 sigma; 2 of 3 beyond 2 sigma on one side; 4 of 5 beyond 1 sigma on "
                "one side; 8 in a row on one side of the centre line."
            ),
        ),
    )
}
