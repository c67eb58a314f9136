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
            safe[col] = safe[col].map(neutralise)
    safe.columns = [neutralise(str(c)) for c in safe.columns]
    return safe.to_csv(index=False).encode("utf-8-sig")


def _xlsx_bytes(frame: pd.DataFrame) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("data")
    sheet.append([_text_cell(sheet, str(c)) for c in frame.columns])
    for rec in frame.itertuples(index=False):
        sheet.append([_xlsx_value(sheet, v) for v in rec])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _text_cell(sheet, value: str):
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"  # a string, even when it looks like "=SUM(A1)"
    return cell


def _xlsx_value(sheet, value: object):
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None  # NaN, and pandas' NA and NaT, which openpyxl cannot write
    if isinstance(value, str):
        return _text_cell(sheet, value)
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value
