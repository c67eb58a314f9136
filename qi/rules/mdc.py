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
flag above (or increasing) is an improvement when higher is better, and so on
(:func:`explain` says so in words). The Making Data Count summary and icons of a
chart are :mod:`qi.mdc`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import pandas as pd

from qi._patterns import (
    position,
    run_length_here,
    segment_start,
    spread_back,
    step_sign,
    window_sum,
)
from qi._segments import FloatArray, IntArray
from qi.rules._explain import signals_frame

DIRECTION = {"increase": 1, "decrease": -1, "neutral": 0}
#: A series × phase with fewer points than this is flagged ``short_group_warning``.
SHORT_GROUP = 13


# special-cause codes: what flags a point, and on which side (ptd special_cause_type)
COMMON, ABOVE_UCL, BELOW_LCL, TREND_UP, TREND_DOWN, TWO_ABOVE, TWO_BELOW = range(7)
SHIFT_ABOVE, SHIFT_BELOW = 7, 8
#: +1 for a code above the centre line or increasing, −1 below or decreasing.
SIDE = np.array([0, 1, -1, 1, -1, 1, -1, 1, -1], dtype=np.int8)


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
    """The special-cause code of every point (see :func:`labels`), rules in order of precedence.

    ``describe(i)`` names the series of point i for the error NHSRplotthedots gives
    when a missing value falls inside a would-be trend.
    """
    # trend: (trend − 1) consecutive strict steps in one direction, ending here
    first = segment_start(seg)
    pos = position(seg, first)
    step = step_sign(y, seg, first)
    width = trend - 1
    full = pos >= width  # the whole window lies inside the segment
    gaps_anywhere = np.isnan(step) & ~first
    if gaps_anywhere.any():
        # NHSRplotthedots tests each window with `if (all(d == 1))`, which stops on a
        # missing step unless another step in the window already says "no"
        up = window_sum((step == 1).astype(float), pos, width)
        down = window_sum((step == -1).astype(float), pos, width)
        gaps = window_sum(gaps_anywhere.astype(float), pos, width)
        with np.errstate(invalid="ignore"):
            stops = full & (gaps > 0) & ((up + gaps == width) | (down + gaps == width))
        if stops.any():
            i = int(np.flatnonzero(stops)[0])
            raise MissingValueInTrendError(
                f"In {describe(i)}, a missing value falls inside {trend} points that would "
                f"otherwise form a trend (ending at point {int(pos[i]) + 1} of its phase). "
                f"NHSRplotthedots stops here ('missing value where TRUE/FALSE needed'); remove "
                f"the row with the missing value, or fill it, and chart again."
            )
    # a trend ends here: the last `width` steps all strictly up, or all strictly down
    trend_end = run_length_here(step, seg, first) >= width
    trend_end &= full
    trend_end &= np.abs(step) == 1
    in_trend = spread_back(trend_end, pos, trend)
    # direction: the step to the next point if it is also in the trend, else the step
    # here (worked out for the points in a trend only)
    at = np.flatnonzero(in_trend)
    later = at + 1 < len(y)
    nxt = np.zeros(len(at), dtype=bool)
    nxt[later] = in_trend[at[later] + 1] & ~first[at[later] + 1]
    step_next = np.full(len(at), np.nan)
    step_next[later] = step[at[later] + 1]
    step_here = np.where(first[at], 0.0, step[at])
    direction = np.where(nxt, step_next, step_here)

    # two of three in the near-limit band, all three on the same side (a missing point
    # never counts); the windows summed in small integers
    window_ok = np.zeros(len(y), dtype=bool)
    if len(y) >= 3:
        near = close.view(np.int8)  # (booleans are bytes of 0 and 1)
        side = np.nan_to_num(rel).astype(np.int8)
        in_band = near[2:] + near[1:-1] + near[:-2]
        same_side = side[2:] + side[1:-1] + side[:-2]
        window_ok[2:] = (in_band >= 2) & (np.abs(same_side) == 3) & (pos[2:] >= 2)
    two_in_three = close & spread_back(window_ok, pos, 3)

    # shift: `shift` consecutive points on the same side
    shift_end = run_length_here(rel, seg, first) >= shift
    shift_end &= rel != 0
    shift_end &= ~np.isnan(rel)
    in_shift = spread_back(shift_end, pos, shift)

    code = np.zeros(len(y), dtype=np.int8)  # "Common Cause"; later rules first, so the
    above = rel > 0  # earlier ones overwrite them (the order of precedence)
    code[in_shift] = np.where(above[in_shift], SHIFT_ABOVE, SHIFT_BELOW)
    code[two_in_three] = np.where(above[two_in_three], TWO_ABOVE, TWO_BELOW)
    code[at] = np.where(direction == 1, TREND_UP, TREND_DOWN)
    code[outside] = np.where(rel[outside] == 1, ABOVE_UCL, BELOW_LCL)
    return code


def outside_code(rel: FloatArray, outside: np.ndarray) -> np.ndarray:
    """The special-cause code from the limits rule alone."""
    code = np.full(len(rel), COMMON, dtype=np.int8)
    code[outside] = np.where(rel[outside] == 1, ABOVE_UCL, BELOW_LCL)
    return code


def labels(code: np.ndarray, *, shift: int, trend: int) -> pd.Categorical:
    """ptd ``special_cause_type`` text of each special-cause code, as a categorical."""
    return pd.Categorical.from_codes(code, dtype=_labels_dtype(shift, trend))


@lru_cache(maxsize=64)
def _labels_dtype(shift: int, trend: int) -> pd.CategoricalDtype:
    """The categories of :func:`labels` (made once: making them costs more than the
    labels of a short series)."""
    text = [
        "Common Cause",
        "Above UCL",
        "Below LCL",
        f"{trend} Point Trend (Increasing)",
        f"{trend} Point Trend (Decreasing)",
        "2 in 3 Above CL",
        "2 in 3 Below CL",
        f"{shift} Points Above CL",
        f"{shift} Points Below CL",
    ]
    return pd.CategoricalDtype(text)


def point_type(code: np.ndarray, improvement: str) -> pd.Categorical:
    """ptd ``point_type`` from the special-cause code and the improvement direction."""
    d = DIRECTION[improvement]
    v = SIDE[code] if d == 0 else SIDE[code] * d
    return pd.Categorical.from_codes(v + 1, dtype=_POINT_TYPES[d == 0])


#: the categories of :func:`point_type`: with an improvement direction, and without
_POINT_TYPES = {
    False: pd.CategoricalDtype(
        ["special_cause_concern", "common_cause", "special_cause_improvement"]
    ),
    True: pd.CategoricalDtype(
        ["special_cause_neutral_low", "common_cause", "special_cause_neutral_high"]
    ),
}


def assurance(target: FloatArray, lcl: FloatArray, ucl: FloatArray, improvement: str) -> np.ndarray:
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


def explain(points: pd.DataFrame, improvement: str | None = None) -> pd.DataFrame:
    """What the Making Data Count signals of ``points`` mean: ``signal_kind`` and
    ``signal_text``.

    The kind is read from ``point_type``, which already holds the improvement
    direction the chart was computed with (so ``improvement`` is not used):
    ``special_cause_improvement`` → "improvement", ``special_cause_concern`` →
    "concern", ``special_cause_neutral_*`` → "neutral". The words are the rule that
    fired (``special_cause``, e.g. "7 Points Below CL").
    """
    pt = points["point_type"].astype(str).to_numpy()
    kind = np.where(
        pt == "special_cause_improvement",
        "improvement",
        np.where(
            pt == "special_cause_concern",
            "concern",
            np.where(np.char.startswith(pt.astype(str), "special_cause"), "neutral", ""),
        ),
    ).astype(object)
    words = np.where(kind != "", points["special_cause"].astype(str).to_numpy(), "")
    return signals_frame(points, kind, words)
