"""Reading an uploaded table (CSV or Excel) into rows of text, with spreadsheet row numbers.

A file is read whole, and everything that stops it being read is reported as a
:class:`Problem` rather than raised, so that a user sees every problem at once.

* CSV: UTF-8 with or without a byte-order mark, Windows-1252 (what Excel writes on
  a UK Windows machine), or UTF-16 (Excel's "Unicode text"); the delimiter, comma,
  semicolon or tab, is the one that splits the first lines most consistently (a
  title line above the table does not decide it).
* Excel: an ``.xlsx`` workbook, read as a stream (:mod:`qi.store.xlsx`), every limit of
  :mod:`qi.store.limits` checked while it is read. :func:`read_table` takes the first
  sheet; :func:`read_sheets` gives every sheet to :mod:`qi.store.intake`, which finds
  the data sheet and the header row of an upload.

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


@dataclass(frozen=True)
class Sheet:
    """The cells of one worksheet (or of a CSV file), row by row, as read."""

    name: str | None  # None for a CSV file
    records: list[list[object]]


def read_table(
    source: str | Path | bytes, name: str | None = None, *, max_bytes: int | None = None
) -> tuple[Table | None, list[Problem]]:
    """Read ``source`` (a path, or the bytes of an uploaded file called ``name``): its
    first sheet, with the header on the first non-blank line.

    ``max_bytes`` defaults to :data:`MAX_BYTES` (read when called). Uploads of
    observations go through :func:`qi.store.intake.read_upload` instead, which finds
    the data sheet and the header row and maps the columns.
    """
    sheets, problems, name = read_sheets(source, name, max_bytes=max_bytes)
    if sheets is None:
        return None, problems
    return _to_table(sheets[0].records, name)


def read_sheets(
    source: str | Path | bytes,
    name: str | None = None,
    *,
    max_bytes: int | None = None,
    first_lines: int | None = None,
) -> tuple[list[Sheet] | None, list[Problem], str]:
    """Every sheet of ``source`` as rows of cells: (sheets or None, problems, file name).

    A CSV file is one sheet. Nothing is raised for a bad file: it is a problem.
    ``first_lines``: read only this many lines of each sheet (a look at the top of a
    file, as the layout maker takes: the limits of the rest are not checked)."""
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    if isinstance(source, bytes):
        content, name = source, name or "upload"
    else:
        path = Path(source)
        name = name or str(source)
        try:
            size = path.stat().st_size
        except OSError as exc:
            return None, [Problem(name, None, None, f"cannot open the file: {exc.strerror}")], name
        if size > max_bytes:
            return None, [_too_big(name, size, max_bytes)], name
        content = path.read_bytes()
    if len(content) > max_bytes:
        return None, [_too_big(name, len(content), max_bytes)], name
    if _blank_content(content):
        return None, [Problem(name, None, None, "the file is empty: nothing was uploaded")], name
    try:  # every limit is checked while the file is read (qi.store.limits)
        if content.startswith(_XLSX_MAGIC) or name.lower().endswith((".xlsx", ".xlsm")):
            sheets, problems = _read_xlsx_sheets(content, name, first_lines)
        else:
            sheets, problems = _read_csv_records(content, name, first_lines)
    except limits.LimitExceeded as exc:
        return None, [exc.problem], name
    return sheets, problems, name


def _blank_content(content: bytes) -> bool:
    """Whether the file holds nothing but white space (UTF-16 text included)."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        content = content[2:].replace(b"\x00", b"")
    return not content.strip()


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
    elif content.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_utf16(content):
        # Excel's "Unicode text" (and SQL Server's Unicode exports) are UTF-16
        bom = content[:2] in (b"\xff\xfe", b"\xfe\xff")
        try:
            return content.decode("utf-16" if bom else "utf-16-le").lstrip("\ufeff")
        except UnicodeDecodeError:
            return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp1252")
    except UnicodeDecodeError:
        return None


def _looks_utf16(content: bytes) -> bool:
    """UTF-16 little-endian text without a byte-order mark: a zero byte after nearly
    every character of the first few hundred bytes, and none before one."""
    head = content[:400]
    if len(head) < 8:
        return False
    odd = head[1::2]
    return odd.count(0) > 0.9 * len(odd) and head[0::2].count(0) == 0


def _delimiter(text: str) -> str:
    """The delimiter (comma, semicolon or tab) that splits the first lines into the same
    number of cells most often: a title line above the table does not decide it."""
    lines = [line for line in text[:20_000].splitlines()[:60] if line.strip()]
    best, best_score = ",", (0, 0)
    for delimiter in (",", ";", "\t"):
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:
            continue
        wide = [c for c in counts if c > 1]
        if not wide:
            continue
        modal = max(set(wide), key=lambda c: (wide.count(c), c))
        score = (wide.count(modal), modal)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _read_csv_records(
    content: bytes, name: str, first_lines: int | None = None
) -> tuple[list[Sheet] | None, list[Problem]]:
    text = _decode(content)
    if text is None or "\x00" in text:
        return None, [
            Problem(
                name,
                None,
                None,
                "this is not a table: save it as CSV (UTF-8, Windows or Unicode text) or as an "
                "Excel .xlsx file",
            )
        ]
    lines = limits.Lines(text)
    reader = csv.reader(lines, delimiter=_delimiter(text))
    records: list[list[str]] = []
    try:
        for record in limits.rows(reader, name, fraction=lines.fraction, first_lines=first_lines):
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
    return [Sheet(None, records)], []


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


def _read_xlsx_sheets(
    content: bytes, name: str, first_lines: int | None = None
) -> tuple[list[Sheet] | None, list[Problem]]:
    """Every worksheet, read as a stream (:mod:`qi.store.xlsx`: the archive's parts are
    checked before any is unpacked, and every limit while the rows go by)."""
    from qi.store import xlsx

    start_memory = limits.resident_bytes()
    book = xlsx.Workbook(content, name)
    sheets = []
    for index, sheet_name in enumerate(book.sheet_names):
        sheet = book.sheet(index)  # cells as _cell gives them
        rows = limits.rows(
            sheet,
            name,
            fraction=sheet.fraction,
            texts=False,
            start_memory=start_memory,
            first_lines=first_lines,
        )
        sheets.append(Sheet(sheet_name, list(rows)))
    return sheets, []


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
