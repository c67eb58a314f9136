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


def position(seg: IntArray, start: BoolArray | None = None) -> IntArray:
    """0-based position of each point within its segment (``start``: the
    :func:`segment_start` of ``seg``, when already known)."""
    idx = np.arange(len(seg), dtype=np.int64)
    first = np.where(segment_start(seg) if start is None else start, idx, 0)
    np.maximum.accumulate(first, out=first)
    return np.subtract(idx, first, out=first)


def run_length_here(values: FloatArray, seg: IntArray, start: BoolArray | None = None) -> IntArray:
    """Length of the run of equal consecutive values (within the segment) ending at each point.

    Missing values are never equal to anything, so each is a run of 1. ``start``: the
    :func:`segment_start` of ``seg``, when already known.
    """
    m = len(values)
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.empty(m, dtype=bool)
    new[0] = True
    np.not_equal(values[1:], values[:-1], out=new[1:])  # NaN != NaN: a missing value
    new |= segment_start(seg) if start is None else start  # starts a new run
    idx = np.arange(m, dtype=np.int64)
    first = np.where(new, idx, 0)
    np.maximum.accumulate(first, out=first)
    np.subtract(idx, first, out=first)
    first += 1
    return first


def step_sign(y: FloatArray, seg: IntArray, start: BoolArray | None = None) -> FloatArray:
    """sign(y_i − y_(i−1)) within the segment; NaN at a segment's first point or a missing y.
    ``start``: the :func:`segment_start` of ``seg``, when already known."""
    out = np.empty(len(y))
    if len(y):
        out[0] = np.nan
    if len(y) > 1:
        with np.errstate(invalid="ignore"):
            np.subtract(y[1:], y[:-1], out=out[1:])
            np.sign(out[1:], out=out[1:])
    out[segment_start(seg) if start is None else start] = np.nan
    return out


def window_sum(flags: FloatArray, pos: IntArray, width: int) -> FloatArray:
    """Sum of ``flags`` over the ``width`` points ending at each point, within the segment.

    ``pos`` is each point's position in its segment (:func:`position`). NaN where the
    window would reach before the segment's first point.
    """
    m = len(flags)
    out = np.full(m, np.nan)
    if m < width:
        return out
    # add the `width` shifted copies (width is a small rule length, not a data size)
    total = np.array(flags[width - 1 :], dtype=float)
    for k in range(1, width):
        total += flags[width - 1 - k : m - k]
    ok = pos[width - 1 :] >= width - 1
    out[width - 1 :][ok] = total[ok]
    return out


def spread_back(end: BoolArray, pos: IntArray, length: int) -> BoolArray:
    """True for every point within ``length − 1`` points before (or at) a flagged end.

    Marks all points of a pattern whose last point is flagged: point i is marked if
    some flagged j of the same segment has i ≤ j ≤ i + length − 1. ``pos`` is each
    point's position in its segment. Flags are sparse, so this loops over the
    ``length`` offsets, not over points.
    """
    ends = np.flatnonzero(end)
    out = np.zeros(len(end), dtype=bool)
    for k in range(length):
        j = ends[pos[ends] >= k]
        out[j - k] = True
    return out
