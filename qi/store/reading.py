"""Reading an uploaded table (CSV or Excel) into rows of text, with spreadsheet row numbers.

A file is read whole, and everything that stops it being read is reported as a
:class:`Problem` rather than raised, so that a user sees every problem at once.

* CSV: UTF-8 with or without a byte-order mark, or Windows-1252 (what Excel writes on
  a UK Windows machine); the delimiter, comma, semicolon or tab, is the one the
  header line uses most.
* Excel: the first worksheet of an ``.xlsx`` workbook.

Rows are numbered as a spreadsheet shows them: the header is row 1, so the first
data row is row 2, and blank lines keep their numbers (but are not data).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from qi.store import limits
from qi.store.text import explained, visible

#: Files above this size are refused before they are read (bytes).
MAX_BYTES = 50 * 1024 * 1024
#: Tables above this many data rows are refused (checked while reading: :mod:`qi.store.limits`).
MAX_ROWS = limits.MAX_ROWS

_XLSX_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an uploaded file. ``row``/``column`` are None for the whole file."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __post_init__(self) -> None:
        # invisible characters shown (Willow<U+200B>Ward), never printed raw
        object.__setattr__(self, "file", visible(self.file))
        object.__setattr__(self, "message", explained(self.message))
        if self.column is not None:
            object.__setattr__(self, "column", visible(self.column))


PROBLEM_COLUMNS = ("file", "row", "column", "message")


def problems_frame(problems: list[Problem]) -> pd.DataFrame:
    """The problems as a table: file, row (spreadsheet numbering), column, message."""
    frame = pd.DataFrame(
        [(p.file, p.row, p.column or "", p.message) for p in problems], columns=PROBLEM_COLUMNS
    )
    frame["row"] = frame["row"].astype("Int64")
    return frame.sort_values(["file", "row", "column"], na_position="first", kind="stable")


@dataclass(frozen=True)
class Table:
    """The data rows of a file as text (or, from Excel, cell values), keyed by lower-case header."""

    name: str
    data: pd.DataFrame  # object columns, named by the header cells (stripped, lower case)
    rows: pd.Series  # spreadsheet row number of each data row


def read_table(
    source: str | Path | bytes, name: str | None = None, *, max_bytes: int | None = None
) -> tuple[Table | None, list[Problem]]:
    """Read ``source`` (a path, or the bytes of an uploaded file called ``name``).

    ``max_bytes`` defaults to :data:`MAX_BYTES` (read when called).
    """
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    if isinstance(source, bytes):
        content, name = source, name or "upload"
    else:
        path = Path(source)
        name = name or str(source)
        try:
            size = path.stat().st_size
        except OSError as exc:
            return None, [Problem(name, None, None, f"cannot open the file: {exc.strerror}")]
        if size > max_bytes:
            return None, [_too_big(name, size, max_bytes)]
        content = path.read_bytes()
    if len(content) > max_bytes:
        return None, [_too_big(name, len(content), max_bytes)]
    if not content.strip():
        return None, [Problem(name, None, None, "the file is empty: nothing was uploaded")]
    try:  # every limit is checked while the file is read (qi.store.limits)
        if content.startswith(_XLSX_MAGIC) or name.lower().endswith((".xlsx", ".xlsm")):
            return _read_xlsx(content, name)
        return _read_csv(content, name)
    except limits.LimitExceeded as exc:
        return None, [exc.problem]


def _too_big(name: str, size: int, limit: int) -> Problem:
    return Problem(
        name,
        None,
        None,
        f"the file is too big ({size / 2**20:.1f} MB; the limit is {limit / 2**20:.0f} MB): "
        "split it into smaller files, for example one per team or per year",
    )


def _decode(content: bytes) -> str | None:
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp1252")
    except UnicodeDecodeError:
        return None


def _read_csv(content: bytes, name: str) -> tuple[Table | None, list[Problem]]:
    text = _decode(content)
    if text is None or "\x00" in text:
        return None, [
            Problem(
                name,
                None,
                None,
                "this is not a table: save it as CSV (UTF-8 or Windows) or as an Excel .xlsx file",
            )
        ]
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    lines = limits.Lines(text)
    reader = csv.reader(lines, delimiter=delimiter)
    records: list[list[str]] = []
    try:
        for record in limits.rows(reader, name, fraction=lines.fraction):
            records.append(record)
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise limits.cell_too_long(name, len(records) + 1, "a cell of this row") from exc
        return None, [
            Problem(
                name,
                len(records) + 1,  # the record being read when the quote ran off
                None,
                "this row cannot be read as CSV (an unbalanced quote mark?): check the quotes "
                "from this row on",
            )
        ]
    return _to_table(records, name)


def _cell(value: object) -> object:
    """An Excel cell as the text a user would have typed (numbers stay numbers)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _read_xlsx(content: bytes, name: str) -> tuple[Table | None, list[Problem]]:
    from qi.store.xlsx import Sheet  # the archive's parts checked before any is unpacked

    sheet = Sheet(content, name)  # cells as _cell gives them
    records = list(limits.rows(sheet, name, fraction=sheet.fraction, texts=False))
    return _to_table(records, name)


def _to_table(records: list[list[object]], name: str) -> tuple[Table | None, list[Problem]]:
    # the header is the first non-blank line; rows keep their spreadsheet numbers
    def blank(rec: list[object]) -> bool:
        return all(str(v).strip() == "" for v in rec)

    start = next((i for i, rec in enumerate(records) if not blank(rec)), None)
    if start is None:
        return None, [Problem(name, None, None, "the file is empty: nothing was uploaded")]
    header = [str(v).strip().lstrip("\ufeff").lower() for v in records[start]]
    while header and header[-1] == "":
        header.pop()
    problems: list[Problem] = []
    seen: set[str] = set()
    for col in header:
        if col and col in seen:
            problems.append(
                Problem(name, start + 1, col, f"the column '{col}' appears twice in the header")
            )
        seen.add(col)
    if problems:  # columns cannot be told apart: nothing below could be checked sensibly
        return None, problems
    width = len(header)
    data, rows = [], []
    for i in range(start + 1, len(records)):
        rec = records[i]
        if blank(rec):
            continue
        if len(rec) > width and any(str(v).strip() for v in rec[width:]):
            problems.append(
                Problem(
                    name,
                    i + 1,
                    None,
                    f"this row has {len(rec)} cells but the header has {width}: "
                    "check for a stray delimiter or an unquoted comma in a value",
                )
            )
            continue
        data.append(list(rec[:width]) + [""] * (width - len(rec)))
        rows.append(i + 1)
    if len(data) > MAX_ROWS:
        problems.append(
            Problem(name, None, None, f"the file has {len(data):,} rows; the limit is {MAX_ROWS:,}")
        )
    if not data and not problems:
        problems.append(Problem(name, None, None, "the file has a header but no data rows"))
    frame = pd.DataFrame(data, columns=[c or f"column {j + 1}" for j, c in enumerate(header)])
    return Table(name, frame, pd.Series(rows, dtype="int64")), problems
