"""``qi.store``: a collaborative's data behind one interface (SQLite or PostgreSQL).

* :class:`Store` — teams, measure catalogue, versioned uploads with rollback and
  as-of reads, change ideas and PDSA cycles, annotations, audit log;
* :func:`load` — observations as a tidy DataFrame ready for :func:`qi.spc`;
* :mod:`qi.store.reading` and :mod:`qi.store.validation` — reading and checking an
  upload, every problem at once, without a database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from qi.store.core import ImportResult, StoreBusy, StoreError, UploadRejected, default_url
from qi.store.reading import Problem, problems_frame, read_table
from qi.store.store import Store
from qi.store.uploads import OBSERVATION_COLUMNS


def load(
    *,
    teams: Iterable[str] | None = None,
    measures: Iterable[str] | None = None,
    groups: Iterable[str] | None = None,
    periods: tuple[str | dt.date | None, str | dt.date | None] | None = None,
    as_of: str | dt.datetime | dt.date | None = None,
    url: str | None = None,
    store: Store | None = None,
) -> pd.DataFrame:
    """Observations shown now (or as of a UTC instant), one row per team × measure ×
    period × group, with :data:`OBSERVATION_COLUMNS` — ready for ``qi.spc(data,
    y="numerator", n="denominator", x="period", by=[...])``.

    ``periods`` is ``(first, last)`` month, either end open with None. The store is
    ``store`` if given, else the one at ``url`` (default ``QI_DATABASE_URL`` or the
    SQLite file in the user's data folder).
    """
    start, end = periods if periods is not None else (None, None)
    if store is not None:
        return store.observations(
            teams=teams, measures=measures, groups=groups, start=start, end=end, as_of=as_of
        )
    with Store.open(url) as opened:
        return opened.observations(
            teams=teams, measures=measures, groups=groups, start=start, end=end, as_of=as_of
        )


__all__ = [
    "OBSERVATION_COLUMNS",
    "ImportResult",
    "Problem",
    "Store",
    "StoreBusy",
    "StoreError",
    "UploadRejected",
    "default_url",
    "load",
    "problems_frame",
    "read_table",
]
