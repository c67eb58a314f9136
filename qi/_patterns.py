"""Vectorised pattern detectors shared by the rule sets.

All functions take flat arrays of every point of every segment (series × phase),
ordered by segment then x, with ``seg`` the segment id of each point, and look at
consecutive points *within* a segment only.
"""

from __future__ import annotations

import numpy as np

from qi._segments import BoolArray, FloatArray, IntArray


def segment_start(seg: IntArray) -> BoolArray:
    """True at the first point of each segment."""
    out = np.ones(len(seg), dtype=bool)
    out[1:] = seg[1:] != seg[:-1]
    return out


def position(seg: IntArray) -> IntArray:
    """0-based position of each point within its segment."""
    idx = np.arange(len(seg), dtype=np.int64)
    return idx - np.maximum.accumulate(np.where(segment_start(seg), idx, 0))


def run_length_here(values: FloatArray, seg: IntArray) -> IntArray:
    """Length of the run of equal consecutive values (within the segment) ending at each point.

    Missing values are never equal to anything, so each is a run of 1.
    """
    m = len(values)
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    new = segment_start(seg)
    new[1:] |= values[1:] != values[:-1]  # NaN != NaN: a missing value starts a new run
    idx = np.arange(m, dtype=np.int64)
    return idx - np.maximum.accumulate(np.where(new, idx, 0)) + 1


def step_sign(y: FloatArray, seg: IntArray) -> FloatArray:
    """sign(y_i − y_(i−1)) within the segment; NaN at a segment's first point or a missing y."""
    out = np.full(len(y), np.nan)
    if len(y) > 1:
        with np.errstate(invalid="ignore"):
            out[1:] = np.sign(y[1:] - y[:-1])
    out[segment_start(seg)] = np.nan
    return out


def window_sum(flags: FloatArray, seg: IntArray, width: int) -> FloatArray:
    """Sum of ``flags`` over the ``width`` points ending at each point, within the segment.

    NaN where the window would reach before the segment's first point.
    """
    cs = np.concatenate(([0.0], np.cumsum(flags, dtype=float)))
    idx = np.arange(len(flags))
    lo = idx + 1 - width
    out = np.full(len(flags), np.nan)
    ok = position(seg) >= width - 1
    out[ok] = cs[idx[ok] + 1] - cs[lo[ok]]
    return out


def spread_back(end: BoolArray, seg: IntArray, length: int) -> BoolArray:
    """True for every point within ``length − 1`` points before (or at) a flagged end.

    Marks all points of a pattern whose last point is flagged: point i is marked if
    some flagged j of the same segment has i ≤ j ≤ i + length − 1.
    """
    ends = np.flatnonzero(end)
    if ends.size == 0:
        return np.zeros(len(end), dtype=bool)
    idx = np.arange(len(end))
    k = np.searchsorted(ends, idx)  # first flagged index ≥ i
    has = k < ends.size
    j = ends[np.minimum(k, ends.size - 1)]
    return has & (j - idx <= length - 1) & (seg[j] == seg)


def spread_forward(start: BoolArray, seg: IntArray, length: int) -> BoolArray:
    """True for every point within ``length − 1`` points after (or at) a flagged start."""
    starts = np.flatnonzero(start)
    if starts.size == 0:
        return np.zeros(len(start), dtype=bool)
    idx = np.arange(len(start))
    k = np.searchsorted(starts, idx, side="right") - 1  # last flagged index ≤ i
    has = k >= 0
    j = starts[np.maximum(k, 0)]
    return has & (idx - j <= length - 1) & (seg[j] == seg)
