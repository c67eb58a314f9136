"""Small-number suppression of a table of counts for publication: :func:`suppress`.

The rule, as NHS statistical disclosure control guidance applies it (NHS
Digital, *Hospital Episode Statistics analysis guide*, "small numbers";
ONS, *Disclosure control guidance for tables produced from administrative
sources*):

1. **Primary suppression**: a count from 1 to ``threshold`` (7) is not shown.
   0 is shown (it discloses nothing about a person).
2. **Rounding**: totals are shown rounded to the nearest ``rounding`` (5).
   Cells above the threshold are shown as they are (``round_cells=True``
   rounds them too).
3. **Secondary suppression**: a suppressed cell must not be recoverable by
   subtraction. In every line of the table (each row with its row total, each
   column with its column total, and the totals row and column with the grand
   total) the number of hidden entries is never exactly one: where it is, the
   smallest non-zero shown cell of that line is hidden too (or, if it has none,
   the line's total), and this is repeated until no line has a single hidden
   entry. Totals from 1 to ``threshold`` are suppressed like cells.

Statistics are always computed on the true counts elsewhere; this only decides
what may be shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd

__all__ = ["TOTAL", "SuppressionResult", "suppress"]

TOTAL = "Total"


@dataclass(frozen=True)
class SuppressionResult:
    """The result of :func:`suppress`.

    Attributes
    ----------
    values : pandas.DataFrame
        The table as it may be shown (float; NaN where suppressed), with a
        ``"Total"`` row and column when totals were added: cells as they are
        (rounded with ``round_cells``), totals rounded.
    mask : pandas.DataFrame
        True where a value is suppressed (primary or secondary); same shape.
    primary : pandas.DataFrame
        True where a value is suppressed because it is small (1..threshold).
    true : pandas.DataFrame
        The true counts and totals (for computing, never for showing).
    threshold, rounding : int
        As used.
    """

    values: pd.DataFrame
    mask: pd.DataFrame
    primary: pd.DataFrame
    true: pd.DataFrame
    threshold: int
    rounding: int

    @property
    def secondary(self) -> pd.DataFrame:
        """True where a value is hidden only so that a small one cannot be derived."""
        return self.mask & ~self.primary

    def display(self, marker: str = "*") -> pd.DataFrame:
        """The table as text for a report: counts as whole numbers, ``marker`` where hidden."""
        shown = self.values.map(lambda v: "" if pd.isna(v) else f"{v:,.0f}")
        return shown.mask(self.mask, marker)


def suppress(
    table: pd.DataFrame,
    *,
    count_cols: Sequence[str] | None = None,
    index: str | Sequence[str] | None = None,
    columns: str | None = None,
    values: str | None = None,
    threshold: int = 7,
    rounding: int = 5,
    totals: bool = True,
    round_cells: bool = False,
) -> SuppressionResult:
    """Suppress small counts in a table, with secondary suppression and rounded totals.

    Parameters
    ----------
    table : pandas.DataFrame
        Either a wide table of counts (rows e.g. teams, columns e.g. ethnic
        groups), or long data to be summed into one with ``index``,
        ``columns`` and ``values``.
    count_cols : list of str, optional
        Wide table: the columns of counts (default: every numeric column; the
        others are ignored). The row index labels the rows.
    index, columns, values : str, optional
        Long data: the row key(s), the column key and the count column; the
        table is ``pivot_table(..., aggfunc="sum", fill_value=0)``.
    threshold : int
        Counts from 1 to ``threshold`` are suppressed (NHS guidance: 7).
    rounding : int
        Totals are rounded to the nearest multiple (5; 1 means no rounding);
        halves round up.
    totals : bool
        Add a ``"Total"`` row (when there are 2+ rows) and column (2+ count
        columns), and a grand total where both are added.
    round_cells : bool
        Round the cells above the threshold too.

    Returns
    -------
    SuppressionResult
        ``.values`` (what may be shown; NaN where hidden), ``.mask``,
        ``.primary``, ``.secondary``, ``.true`` and ``.display(marker)``.

    Raises
    ------
    ValueError
        For missing, negative, non-integer or non-numeric counts, a missing
        column, or a threshold or rounding that is not a positive whole number
        (threshold may be 0: nothing primary).
    """
    for name, v, low in (("threshold", threshold, 0), ("rounding", rounding, 1)):
        if isinstance(v, bool) or not isinstance(v, Integral) or v < low:
            raise ValueError(
                f"The '{name}' argument of qi.equality.suppress must be a whole number ≥ {low}; "
                f"got {v!r}."
            )
    counts = _counts(table, count_cols, index, columns, values)
    arr = counts.to_numpy(dtype=float)
    n_rows, n_cols = arr.shape
    add_col = totals and n_cols > 1
    add_row = totals and n_rows > 1
    full = arr
    if add_col:
        full = np.column_stack([full, full.sum(axis=1)])
    if add_row:
        full = np.vstack([full, full.sum(axis=0)])
    is_total = np.zeros(full.shape, dtype=bool)
    if add_col:
        is_total[:, -1] = True
    if add_row:
        is_total[-1, :] = True

    primary = (full >= 1) & (full <= threshold)
    hidden = primary.copy()
    lines = _lines(n_rows, n_cols, add_row, add_col)
    changed = True
    while changed:
        changed = False
        for members, total in lines:
            unknown = int(hidden[members].sum()) + int(hidden[total])
            if unknown != 1:
                continue
            _hide_one_more(full, hidden, members, total)
            changed = True

    shown = full.copy()
    roundable = is_total | round_cells
    if rounding > 1:
        rounded = np.floor(full / rounding + 0.5) * rounding
        shown = np.where(roundable, rounded, shown)
    shown = np.where(hidden, np.nan, shown)

    row_labels = list(counts.index) + ([TOTAL] if add_row else [])
    col_labels = list(counts.columns) + ([TOTAL] if add_col else [])
    idx = pd.Index(row_labels, name=counts.index.name)
    cols = pd.Index(col_labels, name=counts.columns.name)

    def frame(a: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(a, index=idx, columns=cols)

    return SuppressionResult(
        values=frame(shown),
        mask=frame(hidden),
        primary=frame(primary),
        true=frame(full),
        threshold=int(threshold),
        rounding=int(rounding),
    )


def _counts(
    table: pd.DataFrame,
    count_cols: Sequence[str] | None,
    index: str | Sequence[str] | None,
    columns: str | None,
    values: str | None,
) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise ValueError(
            f"qi.equality.suppress needs a pandas DataFrame as table; got {type(table).__name__}."
        )
    long_args = (index, columns, values)
    if any(a is not None for a in long_args):
        if any(a is None for a in long_args):
            raise ValueError(
                "qi.equality.suppress: give all of 'index', 'columns' and 'values' for long data, "
                "or none of them for a wide table."
            )
        keys = [index] if isinstance(index, str) else list(index or [])
        for arg, col in [*(("index", k) for k in keys), ("columns", columns), ("values", values)]:
            if col not in table.columns:
                raise ValueError(
                    f"The '{arg}' argument of qi.equality.suppress names column {col!r}, "
                    f"which is not in table (columns: {list(table.columns)})."
                )
        _check_values(table[[values]], [values])
        counts = table.pivot_table(
            index=keys, columns=columns, values=values, aggfunc="sum", fill_value=0, observed=True
        )
        return counts.astype(float)
    if count_cols is None:
        count_cols = [
            c
            for c in table.columns
            if pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])
        ]
        if not count_cols:
            raise ValueError("qi.equality.suppress: the table has no numeric columns to suppress.")
    count_cols = list(count_cols)
    for c in count_cols:
        if c not in table.columns:
            raise ValueError(
                f"The 'count_cols' argument of qi.equality.suppress names column {c!r}, which is "
                f"not in table (columns: {list(table.columns)})."
            )
    _check_values(table, count_cols)
    return table[count_cols].astype(float)


def _check_values(table: pd.DataFrame, cols: list[str]) -> None:
    for c in cols:
        s = pd.to_numeric(table[c], errors="coerce")
        bad = s.isna() | (s < 0) | (s % 1 != 0) | ~np.isfinite(s.to_numpy(dtype=float))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"qi.equality.suppress: column {c!r} must hold whole, non-negative counts; "
                f"row {table.index[i]!r} holds {table[c].iloc[i]!r}."
            )


Cell = tuple[int, int]


def _lines(
    n_rows: int, n_cols: int, add_row: bool, add_col: bool
) -> list[tuple[tuple[np.ndarray, np.ndarray], Cell]]:
    """Every line of the table that has a total: (member cells, total cell)."""
    out = []
    r_all = n_rows + (1 if add_row else 0)  # rows incl. the totals row
    if add_col:  # each row (the totals row too) sums to its last cell
        for i in range(r_all):
            out.append(((np.full(n_cols, i), np.arange(n_cols)), (i, n_cols)))
    if add_row:  # each column (the totals column too) sums to its last cell
        c_all = n_cols + (1 if add_col else 0)
        for j in range(c_all):
            out.append(((np.arange(n_rows), np.full(n_rows, j)), (n_rows, j)))
    return out


def _hide_one_more(
    full: np.ndarray,
    hidden: np.ndarray,
    members: tuple[np.ndarray, np.ndarray],
    total: Cell,
) -> None:
    """Hide the smallest non-zero shown member of the line, else its total, else a zero."""
    vals = full[members]
    shown = ~hidden[members]
    candidates = shown & (vals > 0)
    if candidates.any():
        k = int(np.flatnonzero(candidates)[np.argmin(vals[candidates])])
        hidden[members[0][k], members[1][k]] = True
    elif not hidden[total]:
        hidden[total] = True
    elif shown.any():
        k = int(np.flatnonzero(shown)[0])
        hidden[members[0][k], members[1][k]] = True
