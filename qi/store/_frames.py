"""Reading a query's rows into columns without making a Python object of every row.

:func:`read_columns` gives the columns of a large read (every observation of a national
collaborative, every upload's months) as numpy arrays, text as integer codes into its
few distinct values. On SQLite the driver's rows are taken straight from its cursor a
block at a time (no SQLAlchemy row objects) and each text column is coded as it
arrives; on PostgreSQL the server writes the result as CSV (``COPY (SELECT …) TO
STDOUT``), which pyarrow parses into columns, so no row ever exists as Python objects.
Either way the memory of a read is about that of its result.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Select

#: rows taken from SQLite's cursor at a time: a block this small stays in the
#: processor's cache while its tuples are made and turned into columns (a read of 1.44 M
#: rows of eight columns: 1.8 s in blocks of 5,000 to 10,000, 2.6 s in blocks of 100,000)
CURSOR_BLOCK = 10_000


@dataclass(frozen=True)
class Coded:
    """A text column as ``codes`` (int64, one per row) into ``values`` (its distinct
    texts, in the order first met)."""

    codes: np.ndarray
    values: list[str]

    def strings(self) -> pd.api.extensions.ExtensionArray:
        """The column as text (pandas' ``str``), one value per row."""
        return pd.array(np.asarray(self.values, dtype=object), dtype="str").take(self.codes)

    def ranks(self) -> np.ndarray:
        """Each row's place in the sorted order of the values (what sorting by the text
        would give: Python's order of ``str``, by code point, as pandas and Arrow sort)."""
        order = sorted(range(len(self.values)), key=self.values.__getitem__)
        rank = np.empty(len(self.values), dtype=np.int64)
        rank[order] = np.arange(len(order))
        return rank[self.codes]


#: what :func:`read_columns` makes of a column: ``int`` (int64, no NULL), ``float``
#: (float64, NULL as NaN) or ``text`` (:class:`Coded`; no NULL)
KINDS = ("int", "float", "text")


def read_columns(
    conn: Connection,
    query: Select,
    kinds: Mapping[str, str],
    *,
    block: int | None = None,
) -> dict[str, np.ndarray | Coded]:
    """The columns of ``query`` (named as the keys of ``kinds``, in the query's order),
    each as its kind says (:data:`KINDS`), in the order the database gives the rows."""
    if conn.dialect.driver == "psycopg":
        return _copy_columns(conn, query, kinds)
    return _cursor_columns(conn, query, kinds, block or CURSOR_BLOCK)


def _cursor_columns(
    conn: Connection, query: Select, kinds: Mapping[str, str], block: int
) -> dict[str, np.ndarray | Coded]:
    """The driver's rows a block at a time, straight from its cursor, into columns."""
    names = list(kinds)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    seen: dict[str, dict[object, int]] = {n: {} for n in names if kinds[n] == "text"}
    result = conn.execute(query)
    try:
        cursor = result.cursor  # the DBAPI cursor: its rows are plain tuples
        with _collection_paused():
            while rows := cursor.fetchmany(block):
                for name, cells in zip(names, zip(*rows, strict=True), strict=True):
                    kind = kinds[name]
                    if kind == "int":
                        parts[name].append(np.array(cells, dtype=np.int64))
                    elif kind == "float":
                        parts[name].append(np.array(cells, dtype=np.float64))  # None: NaN
                    else:  # coded in the block, then mapped to the read's codes
                        values = np.array(cells, dtype=object)  # (no dtype guessed)
                        codes, uniques = pd.factorize(values)
                        if len(codes) and codes.min() < 0:  # a NULL: a value of its own
                            codes, uniques = pd.factorize(values, use_na_sentinel=False)
                        known = seen[name]
                        into = [known.setdefault(u, len(known)) for u in uniques.tolist()]
                        parts[name].append(np.array(into, dtype=np.int64)[codes])
    finally:
        result.close()
    out: dict[str, np.ndarray | Coded] = {}
    for name in names:
        kind = kinds[name]
        empty = np.empty(0, dtype=np.float64 if kind == "float" else np.int64)
        column = np.concatenate(parts[name]) if parts[name] else empty
        out[name] = Coded(column.astype(np.int64), list(seen[name])) if kind == "text" else column
    return out


@contextmanager
def _collection_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a read makes its millions of row
    tuples (none of which can form a cycle): left running, it walks every tuple still
    held many times over, which costs more than making them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _copy_columns(
    conn: Connection, query: Select, kinds: Mapping[str, str]
) -> dict[str, np.ndarray | Coded]:
    """PostgreSQL: the result written by the server as CSV and parsed by pyarrow."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv

    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    # the texts the server writes: ISO dates, and floats that read back exactly (any
    # setting above 0 is the shortest exact text from PostgreSQL 12; 3 is exact before)
    conn.exec_driver_sql("SET LOCAL DateStyle = ISO")
    conn.exec_driver_sql("SET LOCAL extra_float_digits = 3")
    driver = conn.connection.driver_connection
    with driver.cursor() as cur:
        sql = f"COPY ({compiled}) TO STDOUT (FORMAT csv, ENCODING 'UTF8')"
        data = bytearray()  # (grown in place: the server sends a row at a time)
        with cur.copy(sql, compiled.params) as copy:
            for chunk in copy:
                data += chunk
    names = list(kinds)
    if not data:  # no rows
        return {
            n: Coded(np.empty(0, dtype=np.int64), [])
            if kinds[n] == "text"
            else np.empty(0, dtype=np.float64 if kinds[n] == "float" else np.int64)
            for n in names
        }
    arrow = {"int": pa.int64(), "float": pa.float64(), "text": pa.large_string()}
    table = csv.read_csv(
        pa.BufferReader(pa.py_buffer(data)),  # (read where it lies, not copied)
        read_options=csv.ReadOptions(column_names=names),
        parse_options=csv.ParseOptions(newlines_in_values=True),
        convert_options=csv.ConvertOptions(
            column_types={n: arrow[kinds[n]] for n in names},
            null_values=[""],  # an unquoted empty field is NULL; a quoted one is ""
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    del data
    out: dict[str, np.ndarray | Coded] = {}
    for name in names:
        column = table.column(name)
        if kinds[name] == "text":
            values = pc.unique(column)
            codes = pc.index_in(column, value_set=values).to_numpy(zero_copy_only=False)
            out[name] = Coded(codes.astype(np.int64), values.to_pylist())
        elif kinds[name] == "int":
            out[name] = column.to_numpy().astype(np.int64)
        else:
            out[name] = column.to_numpy().astype(np.float64)  # NULL: NaN
    return out
