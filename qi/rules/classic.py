"""Two more rule sets QI teams use: IHI run chart rules and the Western Electric rules.

Both are computed on the same segments (series × phase) as every rule set, over
the included points, and label each point with the first rule that flags it;
:func:`explain` says what a label means for the chart's improvement direction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from qi._patterns import position, run_length_here, spread_back, window_sum
from qi._segments import BoolArray, FloatArray, IntArray, run_lengths
from qi.rules._explain import kind_by_side, signals_frame

#: The runs table of the IHI run chart rules: for a number of useful observations
#: (points not on the median), the fewest and the most runs expected by chance
#: (Perla, Provost & Murray 2011, Table 1, after Swed & Eisenhart 1943). A number
#: of runs below the first or above the second is a signal. ``n`` outside the
#: table is not judged.
IHI_RUNS_TABLE: dict[int, tuple[int, int]] = {
    10: (3, 9), 11: (3, 10), 12: (3, 11), 13: (4, 11), 14: (4, 12), 15: (5, 12),
    16: (5, 13), 17: (5, 13), 18: (6, 14), 19: (6, 15), 20: (6, 16), 21: (7, 16),
    22: (7, 17), 23: (7, 17), 24: (8, 18), 25: (8, 18), 26: (9, 19), 27: (10, 19),
    28: (10, 20), 29: (10, 20), 30: (11, 21), 31: (11, 22), 32: (11, 22), 33: (11, 23),
    34: (12, 23), 35: (13, 24), 36: (13, 24), 37: (13, 25), 38: (14, 26), 39: (14, 26),
    40: (15, 27), 41: (16, 27), 42: (16, 28), 43: (17, 28), 44: (17, 29), 45: (17, 30),
    46: (17, 31), 47: (18, 31), 48: (18, 32), 49: (19, 32), 50: (19, 33), 51: (20, 33),
    52: (21, 33), 53: (21, 34), 54: (22, 34), 55: (22, 35), 56: (23, 35), 57: (23, 36),
    58: (24, 36), 59: (24, 37), 60: (25, 37),
}  # fmt: skip

IHI_LABELS = (
    "Common Cause",
    "Astronomical point",
    "Shift above CL",
    "Shift below CL",
    "Trend (Increasing)",
    "Trend (Decreasing)",
)
WE_LABELS = (
    "Common Cause",
    "Beyond 3 sigma (rule 1)",
    "2 of 3 beyond 2 sigma (rule 2)",
    "4 of 5 beyond 1 sigma (rule 3)",
    "8 on one side (rule 4)",
)


def _compress(mask: BoolArray, seg: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Indices where ``mask`` holds, their segments and their positions within them."""
    idx = np.flatnonzero(mask)
    s = seg[idx]
    return idx, s, position(s)


def ihi(
    y: FloatArray,
    cl: FloatArray,
    outside: BoolArray,
    include: BoolArray,
    seg: IntArray,
    n_seg: int,
    *,
    shift: int,
    trend: int,
    table: dict[int, tuple[int, int]],
) -> dict[str, np.ndarray]:
    """IHI run chart rules: per point code and per segment runs statistics."""
    m = len(y)
    with np.errstate(invalid="ignore"):
        side = np.sign(y - cl)
    present = include & ~np.isnan(y)

    # shift: points on the centre line neither add to nor break a run
    useful = present & ~np.isnan(side) & (side != 0)
    idx, s, pos = _compress(useful, seg)
    rl = run_length_here(side[idx], s)
    in_shift = np.zeros(m, dtype=bool)
    in_shift[idx] = spread_back(rl >= shift, pos, shift)

    # trend: like values neither make nor break a trend, so repeats are dropped first
    pidx = np.flatnonzero(present)
    ps = seg[pidx]
    py = y[pidx]
    repeat = np.zeros(len(pidx), dtype=bool)
    repeat[1:] = (py[1:] == py[:-1]) & (ps[1:] == ps[:-1])
    tidx, ts, tpos = pidx[~repeat], ps[~repeat], position(ps[~repeat])
    ty = y[tidx]
    step = np.full(len(tidx), np.nan)
    if len(tidx) > 1:
        step[1:] = np.sign(ty[1:] - ty[:-1])
    step[tpos == 0] = np.nan
    trl = run_length_here(step, ts)
    trend_end = trl >= trend - 1
    in_up = np.zeros(m, dtype=bool)
    in_down = np.zeros(m, dtype=bool)
    in_up[tidx] = spread_back(trend_end & (step == 1), tpos, trend)
    in_down[tidx] = spread_back(trend_end & (step == -1), tpos, trend)

    # runs: too few or too many for the number of useful observations
    n_useful = np.bincount(s, minlength=n_seg)
    _, n_runs, _ = run_lengths(side[idx].astype(np.int8), s, n_seg)
    lower = np.array([table.get(int(k), (np.nan, np.nan))[0] for k in n_useful], dtype=float)
    upper = np.array([table.get(int(k), (np.nan, np.nan))[1] for k in n_useful], dtype=float)
    with np.errstate(invalid="ignore"):
        runs_signal = (n_runs < lower) | (n_runs > upper)

    code = np.zeros(m, dtype=np.int8)
    code[in_down] = 5
    code[in_up] = 4  # a peak shared by a rise and a fall is labelled with the rise
    code[in_shift] = np.where(side[in_shift] > 0, 2, 3)
    code[outside & include] = 1
    return {
        "code": code,
        "n_useful": n_useful.astype(np.int64),
        "n_runs": np.where(n_useful > 0, n_runs, 0).astype(np.int64),
        "runs_lower": lower,
        "runs_upper": upper,
        "runs_signal": runs_signal,
    }


def western_electric(
    y: FloatArray,
    cl: FloatArray,
    lcl: FloatArray,
    ucl: FloatArray,
    lcl_95: FloatArray,
    ucl_95: FloatArray,
    include: BoolArray,
    seg: IntArray,
    *,
    run: int,
) -> np.ndarray:
    """Western Electric rules 1–4: the code of the first rule that flags each point."""
    idx, s, pos = _compress(include & ~np.isnan(y), seg)
    yy, c = y[idx], cl[idx]
    with np.errstate(invalid="ignore"):
        one_up = c + (ucl_95[idx] - c) / 2
        one_down = c - (c - lcl_95[idx]) / 2
        zones = {
            2: (yy > ucl_95[idx], yy < lcl_95[idx], 3, 2),
            3: (yy > one_up, yy < one_down, 5, 4),
        }
        side = np.sign(yy - c)
        beyond = (yy > ucl[idx]) | (yy < lcl[idx])
    sub = np.zeros(len(idx), dtype=np.int8)
    rl = run_length_here(side, s)
    eight = spread_back((rl >= run) & (side != 0) & ~np.isnan(side), pos, run)
    sub[eight] = 4
    for rule in (3, 2):
        up, down, width, need = zones[rule]
        for flags in (up, down):
            f = flags.astype(float)
            hit = window_sum(f, pos, width) >= need
            sub[flags & spread_back(hit, pos, width)] = rule
    sub[beyond] = 1
    code = np.zeros(len(y), dtype=np.int8)
    code[idx] = sub
    return code


def labels(code: np.ndarray, names: tuple[str, ...]) -> pd.Categorical:
    return pd.Categorical.from_codes(code, categories=list(names))


def explain(points: pd.DataFrame, improvement: str | None = None) -> pd.DataFrame:
    """What the IHI or Western Electric signals of ``points`` mean: ``signal_kind``
    and ``signal_text``.

    A point whose ``special_cause`` is not "Common Cause" fired; its kind is an
    improvement or a concern by its side of the centre line (neutral without an
    ``improvement`` direction), and its words are the rule's label.
    """
    label = points["special_cause"].astype(str).to_numpy()
    fired = label != "Common Cause"
    kind = kind_by_side(points, fired, improvement).astype(object)
    words = np.where(fired, label, "")
    return signals_frame(points, kind, words)
