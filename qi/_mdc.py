"""NHS Making Data Count rules, as NHSRplotthedots 0.2.2 computes them.

NHS England and NHS Improvement, *Making Data Count: getting started* (2019) and
*Strengthening your decisions* (2021); the R package NHSRplotthedots
(``ptd_spc_standard.R``, ``ptd_calculate_point_type.R``,
``ptd_calculate_assurance_type.R``), described in
``shared/reference/spc/SEMANTICS.md`` §2. Per series × phase:

- a point beyond a process limit (strictly);
- a *trend*: ``trend`` (7) points each strictly higher (or lower) than the one
  before; a tie breaks it;
- *two in three*: two of three consecutive points in the band between the inner
  (2-sigma) and the outer (3-sigma) limits, all three on the same side of the
  centre line; only the points in the band are flagged;
- a *shift*: ``shift`` (7) consecutive points on the same side of the centre line;
  a point on the line breaks it.

Every point of a trend or shift is flagged. Where several rules flag a point, the
first of limits, trend, two-in-three, shift names it. With ``improvement``, a
flag above (or increasing) is an improvement when higher is better, and so on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from qi._patterns import (
    position,
    run_length_here,
    segment_start,
    spread_back,
    step_sign,
    window_sum,
)
from qi._segments import FloatArray, IntArray

DIRECTION = {"increase": 1, "decrease": -1, "neutral": 0}
#: A series × phase with fewer points than this is flagged ``short_group_warning``.
SHORT_GROUP = 13


class MissingValueInTrendError(ValueError):
    """A missing value inside a would-be trend, where NHSRplotthedots stops with an error."""


def limit_flags(
    y: FloatArray,
    cl: FloatArray,
    lcl: FloatArray,
    ucl: FloatArray,
    lcl_95: FloatArray,
    ucl_95: FloatArray,
) -> dict[str, np.ndarray]:
    """Point by point: side of the centre line (−1, 0, 1; NaN for a missing y), beyond a
    limit, and in the near-limit band (beyond 2 sigma but not beyond the limit)."""
    with np.errstate(invalid="ignore"):
        rel = np.sign(y - cl)
        outside = (y > ucl) | (y < lcl)
        close = ~outside & ((y < lcl_95) | (y > ucl_95))
    return {"relative_to_mean": rel, "outside_limits": outside, "close_to_limits": close}


def outside_label(rel: FloatArray, outside: np.ndarray) -> np.ndarray:
    """The special-cause label from the limits rule alone."""
    return np.where(outside, np.where(rel == 1, "Above UCL", "Below LCL"), "Common Cause")


def special_cause(
    y: FloatArray,
    rel: FloatArray,
    outside: np.ndarray,
    close: np.ndarray,
    seg: IntArray,
    *,
    shift: int,
    trend: int,
    describe: Callable[[int], str],
) -> np.ndarray:
    """The ptd ``special_cause_type`` of every point (rules in order of precedence).

    ``describe(i)`` names the series of point i for the error NHSRplotthedots gives
    when a missing value falls inside a would-be trend.
    """
    # trend: (trend − 1) consecutive strict steps in one direction, ending here
    step = step_sign(y, seg)
    width = trend - 1
    up = window_sum((step == 1).astype(float), seg, width)
    down = window_sum((step == -1).astype(float), seg, width)
    gaps = window_sum(np.isnan(step).astype(float), seg, width)
    full = position(seg) >= width  # the whole window lies inside the segment
    with np.errstate(invalid="ignore"):
        stops = full & (gaps > 0) & ((up + gaps == width) | (down + gaps == width))
    if stops.any():
        i = int(np.flatnonzero(stops)[0])
        where = describe(i)
        raise MissingValueInTrendError(
            f"{where}: a missing value falls inside {trend} points that would otherwise form a "
            f"trend (ending at point {int(position(seg)[i]) + 1} of its phase). NHSRplotthedots "
            f"stops here ('missing value where TRUE/FALSE needed'); remove the row with the "
            f"missing value, or fill it, and chart again."
        )
    trend_end = full & ((up == width) | (down == width))
    in_trend = spread_back(trend_end, seg, trend)
    # direction: the step to the next point if it is also in the trend, else the step here
    nxt = np.zeros(len(y), dtype=bool)
    nxt[:-1] = in_trend[1:] & ~segment_start(seg)[1:]
    step_next = np.r_[step[1:], np.nan]
    step_here = np.where(segment_start(seg), 0.0, step)
    direction = np.where(in_trend & nxt, step_next, step_here)

    # two of three in the near-limit band, all three on the same side
    with np.errstate(invalid="ignore"):
        window_ok = (window_sum(close.astype(float), seg, 3) >= 2) & (
            np.abs(window_sum(rel, seg, 3)) == 3
        )
    two_in_three = close & spread_back(window_ok, seg, 3)

    # shift: `shift` consecutive points on the same side
    shift_end = (run_length_here(rel, seg) >= shift) & (rel != 0) & ~np.isnan(rel)
    in_shift = spread_back(shift_end, seg, shift)

    return np.select(
        [outside, in_trend, two_in_three, in_shift],
        [
            np.where(rel == 1, "Above UCL", "Below LCL"),
            np.where(direction == 1, f"{trend} Point Trend (Increasing)",
                     f"{trend} Point Trend (Decreasing)"),
            np.where(rel > 0, "2 in 3 Above CL", "2 in 3 Below CL"),
            np.where(rel > 0, f"{shift} Points Above CL", f"{shift} Points Below CL"),
        ],
        "Common Cause",
    ).astype(object)


def point_type(special: np.ndarray, improvement: str) -> np.ndarray:
    """ptd ``point_type`` from the special-cause label and the improvement direction."""
    text = special.astype(str)
    high = np.char.find(text, "Above") >= 0
    high |= np.char.find(text, "Increasing") >= 0
    low = np.char.find(text, "Below") >= 0
    low |= np.char.find(text, "Decreasing") >= 0
    v = high.astype(int) - low.astype(int)
    d = DIRECTION[improvement]
    if d == 0:
        out = np.select(
            [v > 0, v < 0], ["special_cause_neutral_high", "special_cause_neutral_low"],
            "common_cause",
        )
    else:
        v = v * d
        out = np.select(
            [v > 0, v < 0], ["special_cause_improvement", "special_cause_concern"],
            "common_cause",
        )
    return out.astype(object)


def assurance(
    target: FloatArray, lcl: FloatArray, ucl: FloatArray, improvement: str
) -> np.ndarray:
    """ptd ``assurance_type`` from a series' last target and process limits.

    A missing target (or missing limits) gives "inconsistent", as in ptd.
    """
    d = DIRECTION[improvement]
    with np.errstate(invalid="ignore"):
        above = target > ucl
        below = target < lcl
    if d == 0:
        return np.full(len(target), None, dtype=object)
    return np.select(
        [above, below],
        ["consistent_fail", "consistent_pass"] if d > 0 else ["consistent_pass", "consistent_fail"],
        "inconsistent",
    ).astype(object)
