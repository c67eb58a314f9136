"""The board's matrix: every unit × measure × group at a glance.

:func:`matrix` charts every series of a :func:`qi.series.series_frame` with the Making
Data Count rules (through :func:`qi.measures.chart_rows`: one grouped :func:`qi.spc`
call per chart type and improvement direction, not one per series) and returns one row
per series with its latest value, variation and assurance icons, target, and the
recent values for a sparkline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from qi.measures import chart_rows

__all__ = ["MATRIX_COLUMNS", "matrix"]

#: Columns of :func:`matrix`.
MATRIX_COLUMNS = (
    "unit", "level", "measure", "measure_name", "group", "chart", "improvement", "target",
    "period", "value", "numerator", "denominator", "variation", "assurance",
    "variation_icon", "assurance_icon", "variation_text", "assurance_text", "sparkline",
)  # fmt: skip


def matrix(series: pd.DataFrame, *, spark_points: int = 24) -> pd.DataFrame:
    """One row per unit × measure × group: latest value, MDC variation and assurance.

    ``series`` is :func:`qi.series.series_frame`'s output. Months with a zero or
    missing denominator (a ward closed for a month) have no value and are left out of
    the analysis; a measure without a target has no assurance.
    """
    keys = ["unit", "measure", "group"]
    charted = chart_rows(series, by=keys, rules="mdc")
    if not charted.results:
        return pd.DataFrame(columns=MATRIX_COLUMNS)
    table = charted.icons
    points = charted.points
    recent = points.groupby(keys, sort=False, observed=True).tail(spark_points)
    recent = recent[np.isfinite(recent["y"].to_numpy(dtype=float))]
    spark = recent.groupby(keys, sort=False, observed=True)["y"].agg(list).rename("sparkline")
    table = table.join(spark, on=keys)
    facts = series.drop_duplicates("measure").set_index("measure")[["chart", "improvement"]]
    table = table.join(facts, on="measure")
    last = (
        series.sort_values("period")
        .groupby(keys, sort=False)
        .tail(1)
        .set_index(keys)[["level", "measure_name", "numerator", "denominator"]]
    )
    table = table.join(last, on=keys).rename(columns={"x": "period", "y": "value"})
    return table[list(MATRIX_COLUMNS)].sort_values(keys, ignore_index=True)
