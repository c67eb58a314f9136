"""The Anhøj rules (qicharts2): the runs analysis, vectorised over segments, and what
its signals mean (:func:`explain`).

Anhøj J, Olesen AV (2014). Run charts revisited: a simulation study of run chart
rules for detection of non-random variation in health care processes. PLoS ONE
9(11): e113825. The limits are Schilling's longest-run rule (Schilling MF 2012,
The surprising predictability of long runs, Mathematics Magazine 85:141–149) and
the lower 5 % quantile of the number of crossings (Chen Z 2010, A note on the runs
test, Model Assisted Statistics and Applications 5:73–77), as qicharts2 computes
them (``runs.analysis``, SEMANTICS.md §1.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from qi._segments import BoolArray, FloatArray, IntArray, longest_runs, runs_by_bounds, sizes
from qi.rules._explain import kind_by_side, signals_frame

#: The words of a point outside the limits, and of a phase whose runs signal.
SIGMA_TEXT = "Outside the control limits (3 sigma)"
RUNS_TEXT = "Unusually long run or too few crossings in this phase (Anhøj rules)"


@lru_cache(maxsize=4096)
def _crossings_min(trials: int) -> int:
    """``qbinom(0.05, trials, 0.5)``: the smallest k with P(X ≤ k) ≥ 0.05, computed exactly."""
    if trials <= 0:
        return 0
    total = 1 << trials
    cum = 0
    term = 1  # C(trials, k)
    for k in range(trials + 1):
        cum += term
        if 20 * cum >= total:
            return k
        term = term * (trials - k) // (k + 1)
    return trials  # pragma: no cover - the loop always returns


def longest_run_max(n_useful: IntArray) -> FloatArray:
    """Upper limit of the longest run: ``round(log2(n)) + 3`` (NaN for n = 0)."""
    with np.errstate(divide="ignore"):
        out = np.round(np.log2(n_useful.astype(float))) + 3
    out[n_useful == 0] = np.nan
    return out


def crossings_min(n_useful: IntArray) -> FloatArray:
    """Lower limit of the number of crossings: ``qbinom(0.05, n − 1, 0.5)`` (NaN for n = 0)."""
    out = np.full(n_useful.shape, np.nan)
    for n in np.unique(n_useful[n_useful > 0]):
        out[n_useful == n] = _crossings_min(int(n) - 1)
    return out


def _none() -> IntArray:
    return np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class RunsAnalysis:
    """Per segment: the runs statistics and whether they signal (all arrays of length n_seg)."""

    n_obs: IntArray
    n_useful: IntArray
    longest_run: FloatArray
    longest_run_max: FloatArray
    n_crossings: FloatArray
    n_crossings_min: FloatArray
    runs_signal: BoolArray


def runs_analysis(
    y: FloatArray,
    cl: FloatArray,
    include: BoolArray,
    seg: IntArray,
    n_seg: int,
    starts: IntArray | None = None,
) -> RunsAnalysis:
    """Anhøj runs analysis of every segment at once.

    Points on the centre line and missing points are removed (not counted, and
    they do not break a run); excluded points are left out entirely. ``starts`` (the
    first point of each contiguous segment), when given, saves counting them.
    """
    with np.errstate(invalid="ignore"):
        side = np.subtract(y, cl)
        np.sign(side, out=side)
    useful = side == 1
    useful |= side == -1  # not on the line, not missing
    useful &= include
    contiguous = starts is not None and len(starts) == n_seg
    if contiguous:
        assert starts is not None
        if include.all():
            n_obs = sizes(starts, len(seg))
        else:
            n_obs = np.add.reduceat(include, starts, dtype=np.int64) if n_seg else _none()
    else:
        n_obs = np.bincount(seg[include], minlength=n_seg).astype(np.int64)
    if useful.all():
        useful_side = side.astype(np.int8)
        n_useful = n_obs.copy()
        bounds = starts
        useful_seg = seg
    elif contiguous:
        # the useful points close up; each segment's first one is read off the counts
        # (no segment id of every useful point)
        assert starts is not None
        useful_side = side[useful].astype(np.int8)
        n_useful = np.add.reduceat(useful, starts, dtype=np.int64) if n_seg else _none()
        bounds = np.cumsum(n_useful) - n_useful
    else:
        useful_seg, useful_side = seg[useful], side[useful].astype(np.int8)
        n_useful = np.bincount(useful_seg, minlength=n_seg).astype(np.int64)
    if contiguous:
        longest, n_runs = runs_by_bounds(useful_side, bounds, n_seg)
    else:
        longest, n_runs = longest_runs(useful_side, useful_seg, n_seg)
    none = n_useful == 0
    longest_f = np.where(none, np.nan, longest.astype(float))
    crossings = np.where(none, np.nan, np.maximum(n_runs - 1, 0).astype(float))
    lr_max = longest_run_max(n_useful)
    cr_min = crossings_min(n_useful)
    with np.errstate(invalid="ignore"):
        signal = ~none & ((longest_f > lr_max) | (crossings < cr_min))
    return RunsAnalysis(n_obs, n_useful, longest_f, lr_max, crossings, cr_min, signal)


def explain(points: pd.DataFrame, improvement: str | None = None) -> pd.DataFrame:
    """What the Anhøj signals of ``points`` mean: ``signal_kind`` and ``signal_text``.

    A point outside the 3-sigma limits (``sigma_signal``) is a special cause, an
    improvement or a concern by its side of the centre line (neutral without an
    ``improvement`` direction). ``runs_signal`` (an unusually long run or too few
    crossings) belongs to the whole phase: it adds its words to every point of the
    phase but no kind, since no single point is the special cause.
    """
    n = len(points)
    sigma = points["sigma_signal"].fillna(False).to_numpy(dtype=bool)
    runs = (
        points["runs_signal"].fillna(False).to_numpy(dtype=bool)
        if "runs_signal" in points
        else np.zeros(n, dtype=bool)
    )
    kind = kind_by_side(points, sigma, improvement).astype(object)
    words = np.where(sigma, SIGMA_TEXT, "")
    words = np.where(runs & ~sigma, RUNS_TEXT, words)
    words = np.where(runs & sigma, words + "; " + RUNS_TEXT, words)
    return signals_frame(points, kind, words)
