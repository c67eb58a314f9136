"""The Upload page's preview of a checked file, before it is stored."""

from __future__ import annotations

import pandas as pd


def upload_preview(clean: pd.DataFrame) -> pd.DataFrame:
    """Per team × measure of a validated file (:meth:`qi.store.Store.validate`): its
    first and last month and how many rows it holds."""
    return (
        clean.groupby(["team", "measure"])["period"]
        .agg(["min", "max", "count"])
        .rename(columns={"min": "first month", "max": "last month", "count": "rows"})
        .reset_index()
    )


def stored_rows(clean: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The first ``n`` rows of a validated file as they will be stored: the file's row,
    team, measure, month, group (and the broad group it counts in), numerator and
    denominator."""
    head = clean.head(n)
    return pd.DataFrame(
        {
            "file row": head["row"],
            "team": head["team"],
            "measure": head["measure"],
            "period": pd.to_datetime(head["period"]).dt.strftime("%Y-%m"),
            "group": head["group"],
            "broad group": head["broad_group"],
            "numerator": head["numerator"],
            "denominator": head["denominator"],
        }
    )
