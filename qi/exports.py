"""The data behind a chart or the summary matrix, ready to download as CSV or Excel.

Two rules hold for every file written here:

* **Formula-like text is neutralised**: a text cell starting with ``=``, ``+``, ``-``
  or ``@`` is written so that a spreadsheet shows it as typed instead of running it
  (:mod:`qi.store.export`).
* **Small numbers are suppressed** (:func:`suppress_points`), point by point, as NHS
  disclosure control asks of published counts (the table version, with totals and
  rounding, is :func:`qi.equality.suppress`):

  1. *Primary*: a numerator or denominator from 1 to 7 is shown as ``*``; 0 is shown.
  2. *What would give it back*: where a count is hidden, the point's value (the rate or
     proportion, which with the other count returns the hidden one) is hidden too,
     and where the denominator is hidden so are the point's control limits (for a p
     or u chart they are a function of the denominator).
  3. *Secondary*: the ``All`` group is the sum of the groups, so in each line — one
     unit × measure × month, across its groups and ``All`` — a single hidden count
     could be worked out by subtraction. Where a line has exactly one hidden
     numerator (or denominator), the smallest non-zero shown one of the line is
     hidden too (a group's, or else ``All``'s), and its value with it. A line without
     its ``All`` row is left as it is (nothing to subtract from).

  The ``suppressed`` column says why a row has hidden cells: ``small number``
  (primary) or ``secondary``. Statistics (signals, centre lines, variation and
  assurance) are computed on the true counts, as everywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from qi.figures import explain_signals
from qi.store.export import table_bytes, write_table

__all__ = [
    "SUPPRESSED",
    "THRESHOLD",
    "chart_data",
    "matrix_data",
    "suppress_points",
    "table_bytes",
    "write_table",
]

#: What a hidden cell shows.
SUPPRESSED = "*"
#: Counts from 1 to this are hidden.
THRESHOLD = 7
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

    Returns a copy: hidden cells hold ``marker`` (their columns become text-and-number
    object columns), and a ``suppressed`` column says ``small number``, ``secondary``
    or nothing.
    """
    out = frame.copy().reset_index(drop=True)
    counts = [c for c in counts if c in out]
    primary = np.zeros(len(out), dtype=bool)
    hidden: dict[str, np.ndarray] = {}
    for col in counts:
        v = pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=float)
        small = (v >= 1) & (v <= threshold)
        primary |= small
        hidden[col] = small.copy()
    have_lines = group in out and all(c in out for c in line)
    if have_lines and len(out):
        keys = out[list(line)].astype(str).agg("\x1f".join, axis=1)
        is_all = (out[group] == ALL).to_numpy()
        has_all = keys.isin(set(keys[is_all])).to_numpy()
        for col in counts:
            v = pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=float)
            _secondary(hidden[col], v, keys.to_numpy(), is_all, has_all)
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


def _secondary(
    hidden: np.ndarray, v: np.ndarray, keys: np.ndarray, is_all: np.ndarray, has_all: np.ndarray
) -> None:
    """Hide one more entry of every line (with an All row) that has exactly one hidden."""
    rows = np.flatnonzero(has_all)
    if not len(rows):
        return
    order = pd.Series(rows).groupby(keys[rows], sort=False).agg(list)
    for members in order:
        members = np.asarray(members)
        while hidden[members].sum() == 1:
            shown = members[~hidden[members] & np.isfinite(v[members]) & (v[members] > 0)]
            if not len(shown):
                break  # every other entry is 0 or missing: the hidden one is all there is
            groups_first = sorted(shown, key=lambda i: (bool(is_all[i]), v[i]))
            hidden[groups_first[0]] = True


def chart_data(
    points: pd.DataFrame,
    series: pd.DataFrame,
    *,
    keys: Sequence[str] = ("unit", "measure", "group"),
    improvement: str | None = None,
    summary: pd.DataFrame | None = None,
    threshold: int = THRESHOLD,
    rules: str | None = None,
) -> pd.DataFrame:
    """The data behind a chart: one row per point, suppressed and ready to write.

    Parameters
    ----------
    points : ``qi.spc(...).points`` of the chart (its ``by`` columns among ``keys``).
    series : the counts it was computed from (:func:`qi.board.series_frame` rows:
        ``keys``, ``period``, ``numerator``, ``denominator``).
    improvement : the measure's direction, for naming signals.
    summary : :func:`qi.mdc.summary` of the same series (Making Data Count rules):
        adds each series' ``variation``, ``variation_text``, ``assurance`` and
        ``assurance_text`` to its rows.
    rules : the rule set the points were computed with (``SPCResult.rules``), which
        says what each signal means (guessed from the columns when None).

    Returns columns: ``keys``, ``period`` (``YYYY-MM``), ``numerator``,
    ``denominator``, ``value``, ``centre``, ``lower``, ``upper``, ``target``,
    ``phase``, ``signal`` (improvement, concern, neutral or empty), ``signal_text``
    (the rule that fired), the series' variation and assurance, and ``suppressed``.
    """
    keys = [k for k in keys if k in points]
    signals = explain_signals(points, improvement, rules=rules)
    table = pd.DataFrame({k: points[k].to_numpy() for k in keys})
    table["period"] = pd.to_datetime(points["x"]).to_numpy()
    counts = series[[*keys, "period", "numerator", "denominator"]]
    table = table.merge(counts, on=[*keys, "period"], how="left")
    table["value"] = points["y"].to_numpy()
    table["centre"] = points["cl"].to_numpy()
    table["lower"] = points["lcl"].to_numpy()
    table["upper"] = points["ucl"].to_numpy()
    table["target"] = points["target"].to_numpy() if "target" in points else np.nan
    table["phase"] = points["phase"].to_numpy()
    table["signal"] = signals["signal_kind"].to_numpy()
    table["signal_text"] = signals["signal_text"].to_numpy()
    cols = ["variation", "variation_text", "assurance", "assurance_text"]
    if summary is not None:
        table = table.merge(summary[[*keys, *cols]], on=keys, how="left")
    else:
        for col in cols:
            table[col] = None
    table["period"] = table["period"].dt.strftime("%Y-%m")
    line = [k for k in keys if k != "group"] + ["period"]
    return suppress_points(table, line=line, threshold=threshold)


def matrix_data(table: pd.DataFrame, *, threshold: int = THRESHOLD) -> pd.DataFrame:
    """The summary matrix (:func:`qi.board.matrix`) as a table to download: each
    series' latest month, value, counts, variation and assurance (in words), with
    small numbers suppressed."""
    cols = [
        "unit", "level", "measure", "measure_name", "group", "period", "value", "target",
        "numerator", "denominator", "variation", "variation_text", "assurance",
        "assurance_text",
    ]  # fmt: skip
    out = table[[c for c in cols if c in table]].copy()
    out["period"] = pd.to_datetime(out["period"]).dt.strftime("%Y-%m")
    return suppress_points(out, line=["unit", "measure", "period"], threshold=threshold)
