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
    frequency = _frequencies(table["measure"], measures)
    noun = "month" if (frequency == "month").all() else "period"
    for col in ("first", "last"):
        table[col] = [labels([p], f)[0] for p, f in zip(table[col], frequency, strict=True)]
    return table.rename(columns={"first": f"first {noun}", "last": f"last {noun}"})


def _frequencies(measure: pd.Series, measures: pd.DataFrame | None) -> pd.Series:
    """Each row's measure frequency from the catalogue (month when it is not known)."""
    if measures is None or "frequency" not in measures or not len(measure):
        return pd.Series("month", index=measure.index)
    return measure.map(measures.set_index("id")["frequency"]).fillna("month")


def replacement_preview(replacements: pd.DataFrame) -> pd.DataFrame:
    """The stored values a file replaces, old → new, as the Upload page lists them
    (:func:`qi.store.uploads.replacement_table`)."""
    return replacement_table(replacements)


def stored_rows(
    clean: pd.DataFrame, measures: pd.DataFrame | None = None, n: int = 20
) -> pd.DataFrame:
    """The first ``n`` rows of a validated file as they will be stored: the file's row,
    team, measure, period (written for the measure's frequency when the catalogue
    ``measures`` is given: ``2024-04``, ``2024/25 Q1``), group (and the broad group it
    counts in), numerator and denominator."""
    head = clean.head(n)
    frequency = _frequencies(head["measure"], measures)
    periods = pd.to_datetime(head["period"])
    return pd.DataFrame(
        {
            "file row": head["row"],
            "team": head["team"],
            "measure": head["measure"],
            "period": [labels([p], f)[0] for p, f in zip(periods, frequency, strict=True)],
            "group": head["group"],
            "broad group": head["broad_group"],
            "numerator": head["numerator"],
            "denominator": head["denominator"],
        }
    )
