"""The data behind a chart or the summary matrix, ready to download as CSV or Excel.

Two rules hold for every file written here:

* **Formula-like text is neutralised**: a text cell starting with ``=``, ``+``, ``-``
  or ``@`` is written so that a spreadsheet shows it as typed instead of running it
  (:mod:`qi.store.export`).
* **Small numbers are suppressed** by the one disclosure rule,
  :func:`qi.disclosure.suppress_points` (re-exported here with :data:`THRESHOLD` and
  :data:`SUPPRESSED`): a count from 1 to 7 is shown as ``*``, with what would give it
  back (the point's value, its limits, and one more count of its line where ``All``
  would return it by subtraction); the ``suppressed`` column says why. Statistics are
  computed on the true counts, as everywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from qi.disclosure import SUPPRESSED, THRESHOLD, hidden_counts, suppress_points
from qi.figures import explain_signals
from qi.store.export import table_bytes, write_table

__all__ = [
    "SUPPRESSED",
    "THRESHOLD",
    "chart_data",
    "chart_hidden",
    "matrix_data",
    "suppress_points",
    "table_bytes",
    "write_table",
]


def chart_data(
    points: pd.DataFrame,
    series: pd.DataFrame,
    *,
    keys: Sequence[str] = ("unit", "measure", "group"),
    improvement: str | None = None,
    summary: pd.DataFrame | None = None,
    threshold: int = THRESHOLD,
    rules: str,
    context: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The data behind a chart: one row per point, suppressed and ready to write.

    Parameters
    ----------
    points : ``qi.spc(...).points`` of the chart (its ``by`` columns among ``keys``).
    series : the counts it was computed from (:func:`qi.series.series_frame` rows:
        ``keys``, ``period``, ``numerator``, ``denominator``).
    improvement : the measure's direction, for naming signals.
    summary : :func:`qi.mdc.summary` of the same series (Making Data Count rules):
        adds each series' ``variation``, ``variation_text``, ``assurance`` and
        ``assurance_text`` to its rows.
    rules : the rule set the points were computed with (``SPCResult.rules``), which
        says what each signal means.
    context : the counts of every group of the chart's unit and measure (``keys``,
        ``period``, ``numerator``, ``denominator``), when the chart shows only some
        groups: small numbers are then hidden as in the whole table
        (:func:`qi.disclosure.suppress_points`).

    Returns columns: ``keys``, ``period`` (``YYYY-MM``), ``numerator``,
    ``denominator``, ``value``, ``centre``, ``lower``, ``upper``, ``target``,
    ``phase``, ``signal`` (improvement, concern, neutral or empty), ``signal_text``
    (the rule that fired), the series' variation and assurance, and ``suppressed``.
    """
    keys = [k for k in keys if k in points]
    signals = explain_signals(points, improvement, rules=rules)
    table = _counted(points, series, keys)
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
    context = _as_months(context, keys)
    return suppress_points(table, line=line, threshold=threshold, context=context)


def chart_hidden(
    points: pd.DataFrame,
    series: pd.DataFrame,
    *,
    keys: Sequence[str] = ("unit", "measure", "group"),
    threshold: int = THRESHOLD,
    context: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Which cells of each point :func:`chart_data` hides, without writing the file (a
    chart drawn for a reader not allowed small numbers leaves out what its file hides).

    Takes :func:`chart_data`'s arguments; returns one row per point of ``points``, in
    their order, with ``value`` (a count of the point is hidden, so its value is) and
    ``limits`` (its denominator is hidden, so its control limits are), booleans: the
    cells :func:`chart_data` shows as :data:`SUPPRESSED` (tested to agree).
    """
    keys = [k for k in keys if k in points]
    table = _counted(points, series, keys)
    table["period"] = table["period"].dt.strftime("%Y-%m")
    line = [k for k in keys if k != "group"] + ["period"]
    context = _as_months(context, keys)
    each = hidden_counts(table, line=line, threshold=threshold, context=context)
    return pd.DataFrame({"value": each.any(axis=1).to_numpy(),
                         "limits": each["denominator"].to_numpy()})  # fmt: skip


def _counted(points: pd.DataFrame, series: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The points' ``keys`` and ``period`` with their counts from ``series``."""
    table = pd.DataFrame({k: points[k].to_numpy() for k in keys})
    table["period"] = pd.to_datetime(points["x"]).to_numpy()
    counts = series[[*keys, "period", "numerator", "denominator"]]
    return table.merge(counts, on=[*keys, "period"], how="left")


def _as_months(context: pd.DataFrame | None, keys: list[str]) -> pd.DataFrame | None:
    """``context``'s counts with periods written as the file writes them."""
    if context is None:
        return None
    return context[[*keys, "period", "numerator", "denominator"]].assign(
        period=pd.to_datetime(context["period"]).dt.strftime("%Y-%m")
    )


def matrix_data(table: pd.DataFrame, *, threshold: int = THRESHOLD) -> pd.DataFrame:
    """The summary matrix (:func:`qi.board.matrix`) as a table to download: each
    series' latest complete month, value, counts, variation and assurance (in words),
    and a later provisional month (not every team has sent it) with its value, counts
    and how many teams sent it; small numbers suppressed in both (the index of
    ``table`` is kept, so a screen can take the rows it shows)."""
    cols = [
        "unit", "level", "measure", "measure_name", "group", "period", "value", "target",
        "numerator", "denominator", "variation", "variation_text", "assurance",
        "assurance_text", "provisional_period", "provisional_value", "provisional_numerator",
        "provisional_denominator", "provisional_teams",
    ]  # fmt: skip
    out = table[[c for c in cols if c in table]].copy()
    index = out.index
    out["period"] = pd.to_datetime(out["period"]).dt.strftime("%Y-%m")
    line = ["unit", "measure", "period"]
    done = suppress_points(out, line=line, threshold=threshold)
    if "provisional_period" in out:
        out["provisional_period"] = pd.to_datetime(out["provisional_period"]).dt.strftime("%Y-%m")
        later = suppress_points(
            out.rename(columns={"period": "complete_period", "provisional_period": "period"}),
            line=line, counts=("provisional_numerator", "provisional_denominator"),
            values=("provisional_value",), threshold=threshold,
        )  # fmt: skip
        for col in ("provisional_numerator", "provisional_denominator", "provisional_value"):
            done[col] = later[col].to_numpy()
        reason = np.where(done["suppressed"] != "", done["suppressed"], later["suppressed"])
        done["suppressed"] = reason
        done["provisional_period"] = out["provisional_period"].to_numpy()
    done.index = index
    return done
