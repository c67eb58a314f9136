"""Writing tables for spreadsheets, safely: a text cell never runs as a formula.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) is
what spreadsheet programs treat as a formula (CSV injection). In CSV such a cell is
written with a leading apostrophe, which Excel and LibreOffice show as text; in
``.xlsx`` it is written as a string cell, which every spreadsheet shows as typed.
Numbers are numbers and are never touched.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """A text value made safe for a CSV cell; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def as_typed(values: pd.Series) -> pd.Series:
    """Text cells as typed before :func:`neutralise`: the apostrophe that a CSV export
    puts before ``=``, ``+``, ``-`` or ``@`` taken off again, so that a file
    ``qi export`` wrote is read back as the same names."""
    text = values.astype(str)
    escaped = text.str.startswith("'") & text.str[1:2].isin(FORMULA_START) & text.str.len().gt(1)
    return text.where(~escaped, text.str[1:])


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``frame`` as CSV (UTF-8 with a byte-order mark, for Excel) or ``.xlsx``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        path.write_bytes(table_bytes(frame, "xlsx"))
    elif suffix in (".csv", ".txt", ""):
        path.write_bytes(table_bytes(frame, "csv"))
    else:
        raise ValueError(f"{path}: the output must end in .csv or .xlsx (not {suffix})")


def table_bytes(frame: pd.DataFrame, format: str) -> bytes:
    """``frame`` as the bytes of a ``"csv"`` or ``"xlsx"`` file (for a download button),
    with formula-like text neutralised as :func:`write_table` does."""
    if format == "xlsx":
        return _xlsx_bytes(frame)
    if format != "csv":
        raise ValueError(f"format must be 'csv' or 'xlsx'; got {format!r}")
    safe = frame.copy()
    for col in safe.columns:
        if safe[col].dtype == object or pd.api.types.is_string_dtype(safe[col]):
            safe[col] = _neutralised(safe[col])
    safe.columns = [neutralise(str(c)) for c in safe.columns]
    return safe.to_csv(index=False).encode("utf-8-sig")


def _neutralised(values: pd.Series) -> pd.Series:
    """:func:`neutralise` of every cell, looking at each cell only where its text (as
    pandas writes it) starts like a formula: a whole column at once, not cell by cell."""
    if pd.api.types.is_string_dtype(values) and values.dtype != object:
        risky = values.str.startswith(FORMULA_START).fillna(False).to_numpy(dtype=bool)
    else:  # numbers and text mixed: only text is neutralised ("-3" the number stays)
        risky = values.astype(str).str.startswith(FORMULA_START).to_numpy(dtype=bool)
    if not risky.any():
        return values
    out = values.astype(object)
    out[risky] = [neutralise(v) for v in out[risky]]
    return out


def _xlsx_bytes(frame: pd.DataFrame) -> bytes:
    """An ``.xlsx`` workbook of ``frame``, written with XlsxWriter in constant memory:
    text is always written as a text cell (never a formula, a link or a number), numbers
    as numbers, missing values as empty cells."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer,
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
         "strings_to_numbers": False, "nan_inf_to_errors": True, "remove_timezone": True,
         "default_date_format": "yyyy-mm-dd hh:mm:ss"},
    )  # fmt: skip
    sheet = book.add_worksheet("data")
    sheet.write_row(0, 0, [str(c) for c in frame.columns])
    columns = [_xlsx_column(frame[c]) for c in frame.columns]
    for r, row in enumerate(zip(*columns, strict=True), start=1):
        sheet.write_row(r, 0, row)
    book.close()
    return buffer.getvalue()


def _xlsx_column(values: pd.Series) -> list[object]:
    """A column as Python values XlsxWriter writes as they are (None: an empty cell)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return [None if pd.isna(v) else v.to_pydatetime() for v in values]
    out = values.astype(object).to_numpy()
    missing = pd.isna(values).to_numpy()
    if missing.any():
        out = out.copy()
        out[missing] = None
    return [v.item() if hasattr(v, "item") else v for v in out]
