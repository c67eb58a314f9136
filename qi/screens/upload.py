"""The Upload page's preview of a checked file, before it is stored."""

from __future__ import annotations

import pandas as pd

from qi.periods import labels
from qi.store.uploads import replacement_table


def upload_preview(clean: pd.DataFrame, measures: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per team × measure of a validated file (:meth:`qi.store.Store.validate`): its
    first and last period and how many rows it holds. With the catalogue
    (``measures``), periods are written for each measure's frequency (``2024/25 Q1``)."""
    table = (
        clean.groupby(["team", "measure"])["period"]
        .agg(["min", "max", "count"])
        .rename(columns={"min": "first month", "max": "last month", "count": "rows"})
        .reset_index()
    )
    if measures is None or "frequency" not in measures or table.empty:
        return table
    frequency = table["measure"].map(measures.set_index("id")["frequency"]).fillna("month")
    if (frequency == "month").all():
        return table
    for col, new in (("first month", "first period"), ("last month", "last period")):
        table[new] = [labels([p], f)[0] for p, f in zip(table[col], frequency, strict=True)]
    return table[["team", "measure", "first period", "last period", "rows"]]


def replacement_preview(replacements: pd.DataFrame) -> pd.DataFrame:
    """The stored values a file replaces, old → new, as the Upload page lists them
    (:func:`qi.store.uploads.replacement_table`)."""
    return replacement_table(replacements)
