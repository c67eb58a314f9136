"""Grouped numpy primitives over contiguous segments.

Every SPC statistic in :mod:`qi` is computed over *segments*: the points of one
series × phase, stored contiguously and in x order in flat arrays. A segment is
named by an integer id ``0 .. n_segments - 1`` and ``seg`` holds that id for every
point, non-decreasing along the arrays. The helpers here turn "for each segment,
do X" into a handful of whole-array numpy calls (``bincount``, ``lexsort``,
``reduceat``), so thousands of series cost about as much as one long series.

Missing values follow R's ``na.rm = TRUE``: they are left out, and a segment with
nothing left gets NaN.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def sizes(starts: IntArray, end: int) -> IntArray:
    """``np.diff(starts, append=end)``: the number of points from each start to the next
    (the last to ``end``); written out, since numpy's ``diff`` costs more than the
    subtraction on a short series."""
    out = np.empty(len(starts), dtype=np.int64)
    if len(starts):
        np.subtract(starts[1:], starts[:-1], out=out[:-1])
        out[-1] = end - starts[-1]
    return out


def _total(
    weights: npt.NDArray[np.floating] | npt.NDArray[np.integer] | npt.NDArray[np.bool_],
    seg: IntArray,
    n_seg: int,
    starts: IntArray | None,
) -> FloatArray:
    """Σ weights per segment: ``reduceat`` on contiguous, non-empty segments, else ``bincount``."""
    if starts is not None:
        if len(starts) == 0:
            return np.zeros(0)
        return np.add.reduceat(weights, starts).astype(float)
    return np.bincount(seg, weights=weights, minlength=n_seg)


def seg_count(
    seg: IntArray, n_seg: int, mask: BoolArray | None = None, starts: IntArray | None = None
) -> IntArray:
    """Number of points per segment (only where ``mask`` is True).

    ``starts``, when given, is the first index of each segment: the segments are then
    known to be contiguous and non-empty, and a faster reduction is used.
    """
    if mask is None:
        return np.bincount(seg, minlength=n_seg).astype(np.int64)
    return _count(mask, seg, n_seg, starts).astype(np.int64)


def _count(keep: BoolArray, seg: IntArray, n_seg: int, starts: IntArray | None) -> FloatArray:
    """Σ keep per segment, as floats (without a new array of the points' size)."""
    if starts is not None:
        if len(starts) == 0:
            return np.zeros(0)
        if keep.all():
            return sizes(starts, len(keep)).astype(float)
        return np.add.reduceat(keep, starts, dtype=np.int64).astype(float)
    return np.bincount(seg if keep.all() else seg[keep], minlength=n_seg).astype(float)


def _all_count(seg: IntArray, n_seg: int, starts: IntArray | None) -> FloatArray:
    """Number of points per segment, as floats."""
    if starts is not None:
        return sizes(starts, len(seg)).astype(float)
    return np.bincount(seg, minlength=n_seg).astype(float)


def _kept_total(
    values: FloatArray, keep: BoolArray, seg: IntArray, n_seg: int, starts: IntArray | None
) -> FloatArray:
    """Σ values where keep, per segment (the values as they are when all are kept)."""
    return _total(values if keep.all() else np.where(keep, values, 0.0), seg, n_seg, starts)


def _kept(values: FloatArray, mask: BoolArray | None) -> BoolArray | None:
    """Where ``values`` are not missing and ``mask`` is True; None when that is everywhere
    (the usual case, told without a second array of the points' size)."""
    keep = np.isnan(values)
    if not keep.any() and (mask is None or mask.all()):
        return None
    np.logical_not(keep, out=keep)
    if mask is not None:
        keep &= mask
    return keep


def seg_sum(
    values: FloatArray,
    seg: IntArray,
    n_seg: int,
    mask: BoolArray | None = None,
    starts: IntArray | None = None,
) -> FloatArray:
    """Sum per segment of the non-missing values where ``mask`` is True (0 for none)."""
    keep = _kept(values, mask)
    if keep is None:
        return _total(values, seg, n_seg, starts)
    return _kept_total(values, keep, seg, n_seg, starts)


def seg_nanmean(
    values: FloatArray,
    seg: IntArray,
    n_seg: int,
    mask: BoolArray | None = None,
    starts: IntArray | None = None,
) -> FloatArray:
    """Mean per segment of the non-missing values where ``mask`` is True (NaN for none)."""
    keep = _kept(values, mask)
    if keep is None:
        total = _total(values, seg, n_seg, starts)
        count = _all_count(seg, n_seg, starts)
    else:
        total = _kept_total(values, keep, seg, n_seg, starts)
        count = _count(keep, seg, n_seg, starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def seg_nanmedian(
    values: FloatArray, seg: IntArray, n_seg: int, mask: BoolArray | None = None
) -> FloatArray:
    """Median per segment of the non-missing values where ``mask`` is True (NaN for none)."""
    keep = ~np.isnan(values)
    if mask is not None:
        keep &= mask
    v = values[keep]
    s = seg[keep]
    order = np.lexsort((v, s))
    v = v[order]
    count = np.bincount(s, minlength=n_seg)
    start = np.concatenate(([0], np.cumsum(count)[:-1]))
    out = np.full(n_seg, np.nan)
    has = count > 0
    lo = start[has] + (count[has] - 1) // 2
    hi = start[has] + count[has] // 2
    out[has] = (v[lo] + v[hi]) / 2.0
    return out


def seg_sd(
    values: FloatArray, seg: IntArray, n_seg: int, mask: BoolArray | None = None
) -> FloatArray:
    """Sample standard deviation per segment, *without* dropping NaN (R ``sd(x)``).

    A segment holding a missing value gives NaN, as does one with fewer than two values.
    """
    s = seg if mask is None else seg[mask]
    v = values if mask is None else values[mask]
    count = np.bincount(s, minlength=n_seg)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(s, weights=v, minlength=n_seg) / count
        dev = v - mean[s]
        ss = np.bincount(s, weights=dev * dev, minlength=n_seg)
        out = np.sqrt(ss / (count - 1))
    out[count < 2] = np.nan
    return out


def seg_diffs(
    values: FloatArray, seg: IntArray, mask: BoolArray | None = None
) -> tuple[FloatArray, IntArray]:
    """Differences between consecutive points of the same segment.

    With ``mask``, the points where it is False are removed *first*, so the two
    neighbours of a removed point form one difference (qicharts2's
    ``diff(y[base])``). Missing values stay in place and give missing differences.

    Returns
    -------
    diffs, diff_seg
        ``values[i+1] - values[i]`` for each consecutive pair inside a segment, and
        the segment of each difference.
    """
    if mask is not None and mask.all():
        mask = None  # (no copy of every point for nothing)
    v = values if mask is None else values[mask]
    s = seg if mask is None else seg[mask]
    same = s[1:] == s[:-1]
    return (v[1:] - v[:-1])[same], s[1:][same]


def mean_moving_range(
    values: FloatArray,
    seg: IntArray,
    n_seg: int,
    mask: BoolArray | None,
    *,
    screen: bool,
    screen_limit: float = 3.267,
    starts: IntArray | None = None,
) -> FloatArray:
    """Average moving range per segment, optionally screened (Nelson 1982).

    The moving ranges are ``|diff(values[mask])|`` within each segment. With
    ``screen``, moving ranges not strictly below ``screen_limit`` × the first
    average are dropped and the average is taken again (a segment whose moving
    ranges are all 0 keeps none, and gets NaN, as qicharts2 and NHSRplotthedots do).
    ``starts``: the first point of each segment, when the segments are known to be
    contiguous and non-empty.
    """
    d, dseg = seg_diffs(values, seg, mask)
    mr = np.abs(d, out=d)  # (d is new)
    if mask is not None and mask.all():
        mask = None
    n_mr = None  # moving ranges per segment, when every segment has some
    if mask is None and starts is not None and len(starts) == n_seg and n_seg:
        n_mr = sizes(starts, len(seg)) - 1
        if not (n_mr > 0).all():
            n_mr = None
    if n_mr is None:
        amr = seg_nanmean(mr, dseg, n_seg)
        if screen:
            with np.errstate(invalid="ignore"):
                kept = mr < screen_limit * amr[dseg]
            amr = seg_nanmean(mr, dseg, n_seg, kept)
        return amr
    # every segment's moving ranges contiguous and non-empty: counted from the segments'
    # sizes (integers: exact), summed as above (bincount, in the same order: the same sums)
    mr_starts = np.cumsum(n_mr) - n_mr
    missing = np.isnan(mr)
    with np.errstate(invalid="ignore", divide="ignore"):
        if missing.any():
            np.logical_not(missing, out=missing)
            amr = _kept_total(mr, missing, dseg, n_seg, None)
            amr /= np.add.reduceat(missing, mr_starts, dtype=np.int64)
        else:
            amr = np.bincount(dseg, weights=mr, minlength=n_seg) / n_mr
        if screen:
            kept = mr < np.repeat(screen_limit * amr, n_mr)  # (never where mr is NaN)
            total = np.bincount(dseg, weights=np.where(kept, mr, 0.0), minlength=n_seg)
            amr = total / np.add.reduceat(kept, mr_starts, dtype=np.int64)
    return amr


def seg_first_index(seg: IntArray, n_seg: int) -> IntArray:
    """Index of the first point of each segment (segments must be non-empty)."""
    count = np.bincount(seg, minlength=n_seg)
    return np.concatenate(([0], np.cumsum(count)[:-1])).astype(np.int64)


def spread(
    seg: IntArray, n_seg: int, starts: IntArray | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """A function putting a per-segment value on every point of its segment
    (``per_seg[seg]``; for contiguous, non-empty segments by repeating each value,
    which is cheaper than gathering). ``starts``: the first point of each segment,
    when known."""
    if starts is not None and len(starts) == n_seg:
        counts = sizes(starts, len(seg))
    else:
        counts = np.bincount(seg, minlength=n_seg)
    if len(counts) == n_seg and (counts > 0).all():
        return lambda per_seg: np.repeat(per_seg, counts)
    return lambda per_seg: per_seg[seg]


def longest_runs(
    sign: npt.NDArray[np.int8], seg: IntArray, n_seg: int
) -> tuple[IntArray, IntArray]:
    """Longest run and number of runs of equal, consecutive values of ``sign`` in each
    segment (0 for an empty segment): :func:`run_lengths` without the run of each point."""
    m = len(sign)
    if m == 0:
        zero = np.zeros(n_seg, dtype=np.int64)
        return zero, zero.copy()
    start = np.empty(m, dtype=bool)
    start[0] = True
    np.not_equal(sign[1:], sign[:-1], out=start[1:])
    start[1:] |= seg[1:] != seg[:-1]
    first_of_run = np.flatnonzero(start)
    lengths = sizes(first_of_run, m)
    run_seg = seg[first_of_run]
    n_runs = np.bincount(run_seg, minlength=n_seg).astype(np.int64)
    longest = np.zeros(n_seg, dtype=np.int64)
    first = np.flatnonzero(np.r_[True, run_seg[1:] != run_seg[:-1]])
    longest[run_seg[first]] = np.maximum.reduceat(lengths, first)
    return longest, n_runs


def runs_by_bounds(
    sign: npt.NDArray[np.int8], bounds: IntArray, n_seg: int
) -> tuple[IntArray, IntArray]:
    """:func:`longest_runs` for segments given by their first index in ``sign``
    (``bounds``, non-decreasing; an empty segment starts where the next one does)."""
    m = len(sign)
    if m == 0:
        zero = np.zeros(n_seg, dtype=np.int64)
        return zero, zero.copy()
    start = np.empty(m, dtype=bool)
    start[0] = True
    np.not_equal(sign[1:], sign[:-1], out=start[1:])
    start[bounds[bounds < m]] = True  # a segment's first point starts a run
    first_of_run = np.flatnonzero(start)
    lengths = sizes(first_of_run, m)
    # the runs of segment k: those starting in [bounds[k], bounds[k + 1])
    run_bounds = np.searchsorted(first_of_run, bounds)
    n_runs = sizes(run_bounds, len(first_of_run))
    longest = np.zeros(n_seg, dtype=np.int64)
    some = n_runs > 0
    longest[some] = np.maximum.reduceat(lengths, run_bounds[some])
    return longest, n_runs


def run_lengths(
    sign: npt.NDArray[np.int8], seg: IntArray, n_seg: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Runs of equal, consecutive values of ``sign`` inside each segment.

    Returns
    -------
    longest, n_runs, run_id
        Longest run and number of runs per segment (0 for an empty segment), and
        for each point the id of the run it belongs to (runs numbered along the array).
    """
    m = len(sign)
    if m == 0:
        zero = np.zeros(n_seg, dtype=np.int64)
        return zero, zero.copy(), np.zeros(0, dtype=np.int64)
    start = np.empty(m, dtype=bool)
    start[0] = True
    start[1:] = (sign[1:] != sign[:-1]) | (seg[1:] != seg[:-1])
    run_id = np.cumsum(start) - 1
    lengths = np.bincount(run_id)
    run_seg = seg[start]
    n_runs = np.bincount(run_seg, minlength=n_seg).astype(np.int64)
    longest = np.zeros(n_seg, dtype=np.int64)
    first = np.flatnonzero(np.r_[True, run_seg[1:] != run_seg[:-1]])
    longest[run_seg[first]] = np.maximum.reduceat(lengths, first)
    return longest, n_runs, run_id
