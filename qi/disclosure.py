"""The one small-number disclosure rule: counts that could identify people are hidden.

Pure pandas and numpy, so everything that publishes counts applies the same rule: the
downloads (:mod:`qi.exports`), the board pack, and the store's export
(:meth:`qi.store.Store.export`). :func:`suppress_points` applies it point by point, as
NHS disclosure control asks of published counts (the table version, with totals and
rounding, is :func:`qi.equality.suppress`):

1. *Primary*: a numerator or denominator from 1 to :data:`THRESHOLD` (7) is shown as
   :data:`SUPPRESSED` (``*``); 0 is shown.
2. *What would give it back*: where a count is hidden, the point's value (the rate or
   proportion, which with the other count returns the hidden one) is hidden too, and
   where the denominator is hidden so are the point's control limits (for a p or u
   chart they are a function of the denominator).
3. *Secondary*: the ``All`` group is the sum of the groups, so in each line — one
   unit × measure × month, across its groups and ``All`` — a single hidden count could
   be worked out by subtraction. Where a line has exactly one hidden numerator (or
   denominator), the smallest non-zero shown one of the line is hidden too (a group's,
   or else ``All``'s), and its value with it. A line without its ``All`` row is left as
   it is (nothing to subtract from).

The ``suppressed`` column says why a row has hidden cells: ``small number`` (primary)
or ``secondary``. Statistics (signals, centre lines, variation and assurance) are
computed on the true counts, as everywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["SUPPRESSED", "THRESHOLD", "hidden", "suppress_points"]

#: What a hidden cell shows.
SUPPRESSED = "*"
#: Counts from 1 to this are hidden.
THRESHOLD = 7
#: The group whose row is the sum of a line's groups.
ALL = "All"


def suppress_points(
    frame: pd.DataFrame,
    *,
    line: Sequence[str],
    group: str = "group",
    counts: Sequence[str] = ("numerator", "denominator"),
    values: Sequence[str] = ("value",),
    limits: Sequence[str] = ("lower", "upper"),
    threshold: int = THRESHOLD,
    marker: str = SUPPRESSED,
    context: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``frame`` with small counts, and what would give them back, shown as ``marker``.

    Parameters
    ----------
    frame : one row per point (or per series' latest point).
    line : the columns of one line of the secondary rule, without the group (e.g.
        ``["unit", "measure", "period"]``); its rows across ``group`` sum to its
        ``All`` row.
    counts : count columns to check (those present are used).
    values : columns hidden wherever a count of the row is hidden.
    limits : columns hidden wherever the row's denominator is hidden.
    context : every row of the lines ``frame``'s rows belong to (all groups and
        ``All``, with ``line``, ``group`` and ``counts``), when ``frame`` shows only some
        of them (a chart of two groups): which counts are hidden is decided on the whole
        lines, so every table cut from them hides the same cells.

    Returns a copy: hidden cells hold ``marker`` (their columns become text-and-number
    object columns), and a ``suppressed`` column says ``small number``, ``secondary``
    or nothing.
    """
    out = frame.copy().reset_index(drop=True)
    counts = [c for c in counts if c in out]
    if context is not None and len(out):
        return _as_in(out, context, line=line, group=group, counts=counts, values=values,
                      limits=limits, threshold=threshold, marker=marker)  # fmt: skip
    primary = np.zeros(len(out), dtype=bool)
    hidden: dict[str, np.ndarray] = {}
    for col in counts:
        v = pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=float)
        small = (v >= 1) & (v <= threshold)
        primary |= small
        hidden[col] = small.copy()
    have_lines = group in out and all(c in out for c in line)
    if have_lines and len(out):
        # one integer per line (grouped, never a string built row by row)
        keys = out.groupby(list(line), sort=False, dropna=False).ngroup().to_numpy()
        is_all = (out[group] == ALL).to_numpy()
        has_all = np.isin(keys, keys[is_all])
        for col in counts:
            v = pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=float)
            _secondary(hidden[col], v, keys, is_all, has_all)
    any_hidden = np.zeros(len(out), dtype=bool)
    for col in counts:
        any_hidden |= hidden[col]
    reason = np.where(primary, "small number", np.where(any_hidden, "secondary", ""))
    for col in counts:
        out[col] = out[col].astype(object).where(~hidden[col], marker)
    for col in values:
        if col in out:
            out[col] = out[col].astype(object).where(~any_hidden, marker)
    if "denominator" in hidden:
        for col in limits:
            if col in out:
                out[col] = out[col].astype(object).where(~hidden["denominator"], marker)
    out["suppressed"] = reason
    return out


def _as_in(out, context, *, line, group, counts, values, limits, threshold, marker):
    """``out`` suppressed as its rows are in the whole lines of ``context``."""
    keys = [*line, group]
    whole = suppress_points(
        context[[*keys, *counts]], line=line, group=group, counts=counts, values=(),
        limits=(), threshold=threshold, marker=marker,
    )  # fmt: skip
    flags = pd.DataFrame({k: whole[k].astype(object).fillna("").astype(str) for k in keys})
    for col in counts:
        flags[f"_hide_{col}"] = (whole[col].astype(object) == marker).to_numpy()
    flags["_reason"] = whole["suppressed"].to_numpy()
    flags = flags.drop_duplicates(keys)
    mine = pd.DataFrame({k: out[k].astype(object).fillna("").astype(str) for k in keys})
    found = mine.merge(flags, on=keys, how="left")
    any_hidden = np.zeros(len(out), dtype=bool)
    for col in counts:
        hide = found[f"_hide_{col}"].fillna(False).to_numpy(dtype=bool, copy=True)
        v = pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=float)
        hide |= (v >= 1) & (v <= threshold)  # a row the context lacks: the primary rule
        any_hidden |= hide
        out[col] = out[col].astype(object).where(~hide, marker)
        if col == "denominator":
            for lim in limits:
                if lim in out:
                    out[lim] = out[lim].astype(object).where(~hide, marker)
    for col in values:
        if col in out:
            out[col] = out[col].astype(object).where(~any_hidden, marker)
    reason = found["_reason"].fillna("").to_numpy(dtype=object)
    out["suppressed"] = np.where(any_hidden, np.where(reason == "", "small number", reason), "")
    return out


def hidden(
    frame: pd.DataFrame,
    *,
    line: Sequence[str],
    group: str = "group",
    counts: Sequence[str] = ("numerator", "denominator"),
    threshold: int = THRESHOLD,
) -> np.ndarray:
    """Per row of ``frame``: whether :func:`suppress_points` hides its value (a count of
    the row is hidden, by the primary or the secondary rule). What a screen draws or
    tabulates for a reader not allowed small numbers leaves these values out, exactly
    as the downloads do. ``threshold=0`` hides nothing."""
    if threshold <= 0 or frame.empty:
        return np.zeros(len(frame), dtype=bool)
    cols = [c for c in (*line, group, *counts) if c in frame]
    out = suppress_points(frame[cols], line=line, group=group, counts=counts, values=(),
                          limits=(), threshold=threshold)  # fmt: skip
    return (out["suppressed"] != "").to_numpy()


def _secondary(
    hidden: np.ndarray, v: np.ndarray, keys: np.ndarray, is_all: np.ndarray, has_all: np.ndarray
) -> None:
    """Hide one more entry of every line (with an All row) that has exactly one hidden:
    the smallest non-zero shown one, a group's before ``All``'s (the first row of the
    line among equals); none when every other entry is 0 or missing. Vectorised: a
    line's entries are the rows sharing its key (``keys``: integers from 0)."""
    rows = np.flatnonzero(has_all)
    if not len(rows):
        return
    line = keys[rows]
    count = np.bincount(line, weights=hidden[rows].astype(float))
    vals = v[rows]
    with np.errstate(invalid="ignore"):
        candidate = (count[line] == 1) & ~hidden[rows] & np.isfinite(vals) & (vals > 0)
    cand = rows[candidate]
    if not len(cand):
        return
    # per line: the candidates ordered by (All last, value, row), the first one hidden
    order = np.lexsort((cand, v[cand], is_all[cand], keys[cand]))
    cand = cand[order]
    first = np.r_[True, keys[cand][1:] != keys[cand][:-1]]
    hidden[cand[first]] = True
