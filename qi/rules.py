"""Rule sets: which signals a chart is read with, and their constants.

The registry :data:`RULE_SETS` maps a ``rules`` key of :func:`qi.spc` to a
:class:`RuleSet`. A rule set holds

- its constants (``mr_sigma``: sigma per unit of average moving range, used by the
  moving-range charts I, T, P′ and U′; its rule lengths), and
- ``evaluate``: a function that reads the lines of every point of every segment
  (series × phase) at once and returns the point columns and the per-segment
  (summary) columns it adds.

The 3-sigma signal (a point strictly outside the limits) is common to every rule
set and computed by :func:`qi.spc` itself. Adding a rule set is adding one entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qi._runs import runs_analysis
from qi._segments import BoolArray, FloatArray, IntArray


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
    target : per point (NaN without one).
    params : the rule set's parameters, defaults merged with the caller's.
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
    params: Mapping[str, Any]


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
    point_columns, summary_columns : the columns it adds, in output order.
    defaults : its parameters (rule lengths), overridable through ``qi.spc(rule_params=...)``.
    description : the rules in words, with their source.
    """

    key: str
    label: str
    mr_sigma: float
    evaluate: Callable[[RuleInput], RuleOutput]
    point_columns: tuple[str, ...]
    summary_columns: tuple[str, ...]
    description: str
    defaults: Mapping[str, Any] = field(default_factory=dict)


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
    ra = runs_analysis(ri.y, ri.cl, ri.include, ri.seg, ri.n_seg)
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
    points = {c: per_seg[c][ri.seg] for c in _RUNS_COLUMNS}
    return RuleOutput(points, per_seg)


RULE_SETS: dict[str, RuleSet] = {
    r.key: r
    for r in (
        RuleSet(
            key="anhoej",
            label="Anhøj runs rules with 3-sigma limits (qicharts2)",
            mr_sigma=1 / 1.128,
            evaluate=_anhoej,
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
            description=(
                "A shift: the longest run on one side of the centre line is longer than "
                "round(log2(n)) + 3 (Schilling 2012). Too few crossings: the centre line is "
                "crossed fewer times than the 5 % quantile of Binomial(n − 1, 0.5) (Chen 2010). "
                "n counts the useful points (not on the centre line). Anhøj & Olesen, PLoS ONE "
                "2014. A point outside the 3-sigma limits is a sigma signal."
            ),
        ),
    )
}
