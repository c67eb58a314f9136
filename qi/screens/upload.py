"""The Upload page's preview of a checked file, before it is stored."""

from __future__ import annotations

import pandas as pd

from qi.periods import labels
from qi.store.uploads import replacement_table


def upload_preview(clean: pd.DataFrame, measures: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per team × measure of a validated file (:meth:`qi.store.Store.validate`): its
    first and last month (``2024-04``) and how many rows it holds. With the catalogue
    (``measures``), periods are written for each measure's frequency, and the columns
    say "period" when a measure is quarterly or annual (``2024/25 Q1``, ``2024/25``)."""
    table = (
        clean.groupby(["team", "measure"])["period"]
        .agg(["min", "max", "count"])
        .rename(columns={"min": "first", "max": "last", "count": "rows"})
        .reset_index()
    )
    frequency = pd.Series("month", index=table.index)
    if measures is not None and "frequency" in measures and len(table):
        frequency = table["measure"].map(measures.set_index("id")["frequency"]).fillna("month")
    noun = "month" if (frequency == "month").all() else "period"
    for col in ("first", "last"):
        table[col] = [labels([p], f)[0] for p, f in zip(table[col], frequency, strict=True)]
    return table.rename(columns={"first": f"first {noun}", "last": f"last {noun}"})


def replacement_preview(replacements: pd.DataFrame) -> pd.DataFrame:
    """The stored values a file replaces, old → new, as the Upload page lists them
    (:func:`qi.store.uploads.replacement_table`)."""
    return replacement_table(replacements)
