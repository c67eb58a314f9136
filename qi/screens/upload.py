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
