"""Reading a query's rows into a DataFrame a block at a time.

A large read (every observation of a national collaborative) is fetched in blocks of
rows, each turned into columns as it arrives, so that the rows never exist all at
once as Python objects: the memory of a read is about that of its result.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import Connection, Select

#: rows fetched and turned into columns at a time
BLOCK = 100_000


def read_frame(
    conn: Connection, query: Select, columns: Sequence[str], *, block: int | None = None
) -> pd.DataFrame:
    """The rows of ``query`` as a DataFrame with ``columns`` (the query's, in order),
    fetched ``block`` rows at a time (default :data:`BLOCK`)."""
    block = block or BLOCK
    result = conn.execution_options(stream_results=True, yield_per=block).execute(query)
    parts = [
        pd.DataFrame.from_records([tuple(row) for row in rows], columns=list(columns))
        for rows in result.partitions()
    ]
    if not parts:
        return pd.DataFrame.from_records([], columns=list(columns))
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
