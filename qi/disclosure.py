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

__all__ = ["SUPPRESSED", "THRESHOLD", "hidden", "hidden_counts", "suppress_points"]

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
        hide, reason = _decided_in(out, context, line=line, group=group, counts=counts,
                                   threshold=threshold)  # fmt: skip
    else:
        hide, primary = _rule(out, line=line, group=group, counts=counts, threshold=threshold)
        reason = _why(hide, primary, len(out))
    any_hidden = _any(hide, len(out))
    for col in counts:
        out[col] = out[col].astype(object).where(~hide[col], marker)
    for col in values:
        if col in out:
            out[col] = out[col].astype(object).where(~any_hidden, marker)
    if "denominator" in hide:
        for col in limits:
            if col in out:
                out[col] = out[col].astype(object).where(~hide["denominator"], marker)
    out["suppressed"] = reason
    return out


def hidden_counts(
    frame: pd.DataFrame,
    *,
    line: Sequence[str],
    group: str = "group",
    counts: Sequence[str] = ("numerator", "denominator"),
    threshold: int = THRESHOLD,
    context: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per row of ``frame`` and per count column of ``counts`` it has: whether
    :func:`suppress_points` (with the same arguments) hides that count, by the primary
    or the secondary rule; without writing the table. One boolean column per count, in
    ``frame``'s row order (its index is not kept). ``threshold=0`` hides nothing."""
    counts = [c for c in counts if c in frame]
    if threshold <= 0 or frame.empty:
        return pd.DataFrame({c: np.zeros(len(frame), dtype=bool) for c in counts})
    if context is not None:
        hide, _ = _decided_in(frame, context, line=line, group=group, counts=counts,
                              threshold=threshold)  # fmt: skip
    else:
        hide, _ = _rule(frame, line=line, group=group, counts=counts, threshold=threshold)
    return pd.DataFrame(hide)


def hidden(
    frame: pd.DataFrame,
    *,
    line: Sequence[str],
    group: str = "group",
    counts: Sequence[str] = ("numerator", "denominator"),
    threshold: int = THRESHOLD,
    context: pd.DataFrame | None = None,
) -> np.ndarray:
    """Per row of ``frame``: whether :func:`suppress_points` hides its value (a count of
    the row is hidden, by the primary or the secondary rule; decided on the whole lines
    of ``context`` when given). What a screen draws or tabulates for a reader not
    allowed small numbers leaves these values out, exactly as the downloads do.
    ``threshold=0`` hides nothing."""
    each = hidden_counts(frame, line=line, group=group, counts=counts, threshold=threshold,
                         context=context)  # fmt: skip
    return each.any(axis=1).to_numpy() if each.shape[1] else np.zeros(len(frame), dtype=bool)


def _rule(
    frame: pd.DataFrame, *, line, group, counts, threshold
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Which of ``counts`` the rule hides in each row of ``frame``, decided on its own
    lines (per count column: the primary rule, then the secondary), and which rows have
    a count hidden by the primary rule."""
    primary = np.zeros(len(frame), dtype=bool)
    hide: dict[str, np.ndarray] = {}
    numbers = {c: pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float) for c in counts}
    for col in counts:
        v = numbers[col]
        small = (v >= 1) & (v <= threshold)
        primary |= small
        hide[col] = small.copy()
    if group in frame and all(c in frame for c in line) and len(frame):
        # one integer per line (grouped, never a string built row by row)
        keys = frame.groupby(list(line), sort=False, dropna=False).ngroup().to_numpy()
        is_all = (frame[group] == ALL).to_numpy()
        has_all = np.isin(keys, keys[is_all])
        for col in counts:
            _secondary(hide[col], numbers[col], keys, is_all, has_all)
    return hide, primary


def _decided_in(
    out: pd.DataFrame, context: pd.DataFrame, *, line, group, counts, threshold
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Which of ``counts`` are hidden in each row of ``out`` as its row is in the whole
    lines of ``context`` (a row ``context`` lacks: the primary rule alone), and why
    (``small number``, ``secondary`` or empty)."""
    keys = [*line, group]
    whole, primary = _rule(context, line=line, group=group, counts=counts, threshold=threshold)
    # each row of ``out`` finds the first row of ``context`` with the same keys
    # (compared as text: a key may be read as a number on one side, text on the other)
    at = _first_match(out[keys], context[keys])
    found = at >= 0
    where = np.where(found, at, 0)
    hide: dict[str, np.ndarray] = {}
    for col in counts:
        h = (whole[col][where] & found) if len(context) else np.zeros(len(out), dtype=bool)
        v = pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=float)
        h |= (v >= 1) & (v <= threshold)  # a row the context lacks: the primary rule
        hide[col] = h
    said = _why(whole, primary, len(context))[where] if len(context) else np.full(len(out), "")
    said = np.where(found, said, "")
    reason = np.where(_any(hide, len(out)), np.where(said == "", "small number", said), "")
    return hide, reason


def _any(hide: dict[str, np.ndarray], rows: int) -> np.ndarray:
    """Rows with a count hidden."""
    out = np.zeros(rows, dtype=bool)
    for mask in hide.values():
        out |= mask
    return out


def _why(hide: dict[str, np.ndarray], primary: np.ndarray, rows: int) -> np.ndarray:
    """Why each row has hidden cells: ``small number``, ``secondary`` or empty."""
    return np.where(primary, "small number", np.where(_any(hide, rows), "secondary", ""))


def _first_match(rows: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
    """For each row of ``rows``: the position of the first row of ``table`` with the same
    values (as text; missing as empty), or -1."""
    n = len(table)
    code = np.zeros(n + len(rows), dtype=np.int64)
    for col in rows.columns:
        text = np.concatenate([_as_text(table[col]), _as_text(rows[col])])
        codes, uniques = pd.factorize(text)
        # combined with the columns before, renumbered so the codes stay small
        code, _ = pd.factorize(code * len(uniques) + codes)
    mine, theirs = code[n:], code[:n]
    first = np.full(len(rows) + n, -1, dtype=np.int64)
    kinds, at = np.unique(theirs, return_index=True)  # each kind's first row
    first[kinds] = at
    return first[mine]


def _as_text(values: pd.Series) -> np.ndarray:
    return values.astype(object).fillna("").astype(str).to_numpy(dtype=object)


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
