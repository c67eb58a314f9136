"""From a file as a trust exports it to the upload table the validator checks.

:func:`read_upload` reads every sheet (:func:`qi.store.reading.read_sheets`) and shapes
the data into the six upload columns (team, measure, period, group, numerator,
denominator), with a saved :class:`~qi.store.layouts.Layout` or, without one, by
automatic detection of the ordinary mess:

* **the data sheet and header row**: the header is the row (among the first 30) whose
  cells name the most upload columns (:mod:`qi.store.columns`); title lines above it
  and notes sheets before it are passed over, and the messages say which sheet and row
  were read. Two sheets that look equally like data are refused, never chosen between;
* **column names**: synonyms, case- and space-insensitive (``Ward``, ``Ethnicity``,
  ``Bed days``…); two columns that both could be one column are refused;
* **months (or groups) as columns**: headers that are months (``Apr-24``, ``2024-04``,
  an Excel date) or groups (``White``, ``Black``) are turned into rows; a column whose
  cells say ``Numerator`` / ``Denominator`` (or ``Count`` / ``Bed days``) splits the
  values into the two;
* **cells**: thousands separators (``1,234``), ``NULL`` from SQL Server, non-breaking
  and trailing spaces; team and measure names in another letter case or spacing (and
  measure display names) are read as the registered name when exactly one matches,
  and said so; suppressed cells (``*``, ``<5``, ``c``, ``[c]``, ``..``) are one problem
  that explains why the collaborative needs the real counts;
* notes below the table (one cell, after the last row of data) are skipped, and said so.

The table it returns numbers its rows with an internal id (one file row can become
several upload rows); :meth:`Intake.translate` turns every problem back into the
file's own row and column (``Apr-24``, ``Ethnicity``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from qi.store.columns import (
    INVISIBLE,
    REQUIRED,
    SYNONYMS,
    column_of,
    header_key,
    map_headers,
    match_names,
    name_key,
    nearest_header,
)
from qi.store.groups import ALL, normalise
from qi.store.layouts import Layout
from qi.store.messages import rows_text
from qi.store.reading import Problem, Sheet, Table, read_sheets

#: Rows searched for the header, from the first non-blank one.
HEADER_SEARCH = 30

_MONTH_NAMES = (
    "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|"
    "july|august|september|october|november|december"
)
_MONTH_HEADER = re.compile(
    rf"^(?:\d{{4}}-\d{{1,2}}(?:-\d{{1,2}})?|(?:{_MONTH_NAMES})[-\s']+\d{{2}}(?:\d{{2}})?"
    r"|\d{1,2}/\d{1,2}/\d{4}|(?:19|20)\d{2}(?:0[1-9]|1[0-2]))$",
    re.IGNORECASE,
)
_SUPPRESSED = re.compile(r"^(?:\*+|<\s*=?\s*\d+|c|\[c\]|\.\.|~)$", re.IGNORECASE)
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_SPACED_THOUSANDS = re.compile(r"^-?\d{1,3}(?:[ \u00a0\u202f\u2009]\d{3})+(?:\.\d+)?$")
_ROW_REF = re.compile(r"\brow (\d+)\b")
#: Cell values that say a value is a numerator or a denominator (a "by" column).
_NUM_WORDS = {header_key(k) for tier in SYNONYMS["numerator"] for k in tier}
_DEN_WORDS = {header_key(k) for tier in SYNONYMS["denominator"] for k in tier}
#: Headers of a column holding values that another column says are numerator or denominator.
_VALUE_HEADERS = {"value", "values", "measure value", "count", "amount", "number", "total", "n"}
TEXT_COLUMNS = ("team", "measure", "period", "group")


@dataclass
class Intake:
    """An upload shaped into the six columns, with what was noticed on the way."""

    name: str
    table: Table | None
    problems: list[Problem] = field(default_factory=list)
    #: how the file was read, in words (sheet, header row, columns, names matched)
    notes: list[str] = field(default_factory=list)
    #: (spreadsheet row, column label) of each internal row id and upload column
    _rows: np.ndarray | None = None
    _cell_rows: dict[str, np.ndarray] = field(default_factory=dict)
    _labels: dict[str, object] = field(default_factory=dict)
    #: cells already reported (suppressed): the validator's own message for them is dropped
    _covered: set[tuple[int, str]] = field(default_factory=set)
    #: whether the table's row ids are the file's own rows (nothing unpivoted or paired)
    _identity: bool = False

    def translate(self, problems: list[Problem]) -> list[Problem]:
        """Problems of the shaped table, in the file's own rows and column names."""
        if self._rows is None:
            return list(problems)
        if self._identity:
            return self._relabel(problems)
        rows = self._rows.tolist()
        cell_rows = {k: v.tolist() for k, v in self._cell_rows.items()}
        labels = {
            k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in self._labels.items()
        }
        messages: dict[str, str] = {}
        out = []
        for p in problems:
            if p.row is None:
                out.append(p)
                continue
            i = int(p.row)
            if self._covered and (i, p.column or "") in self._covered:
                continue
            row = cell_rows.get(p.column, rows)[i]
            label = labels.get(p.column, p.column)
            if isinstance(label, list):
                label = label[i]
            message = messages.get(p.message)
            if message is None:
                message = p.message
                if "row " in message:
                    message = _ROW_REF.sub(lambda m: f"row {rows[int(m.group(1))]}", message)
                messages[p.message] = message
            out.append(Problem(p.file, row, label, message))
        return out

    def _relabel(self, problems: list[Problem]) -> list[Problem]:
        """Problems whose rows are the file's: only column names to give back."""
        labels = self._labels
        if not labels and not self._covered:
            return list(problems)
        return [
            Problem(p.file, p.row, labels.get(p.column, p.column), p.message)
            if p.column in labels
            else p
            for p in problems
            if p.row is None or (p.row, p.column or "") not in self._covered
        ]

    def file_rows(self, ids: pd.Series) -> pd.Series:
        """The spreadsheet rows of internal row ids."""
        if self._rows is None or self._identity:
            return ids
        return pd.Series(self._rows[ids.to_numpy(dtype=np.int64)], index=ids.index)

    def reading_note(self) -> list[Problem]:
        """One file-level line saying how the file was read (when that was not plain)."""
        if not self.notes:
            return []
        return [Problem(self.name, None, None, "read as follows: " + "; ".join(self.notes))]


def read_upload(
    source, name: str | None = None, *, catalogue=None, layout: Layout | None = None
) -> Intake:
    """Read an upload and shape it into the six upload columns (see the module doc)."""
    sheets, problems, name = read_sheets(source, name)
    if sheets is None:
        return Intake(name, None, problems)
    return shape(sheets, name, catalogue=catalogue, layout=layout)


def shape(sheets: list[Sheet], name: str, *, catalogue=None, layout: Layout | None = None):
    """Shape the cells of a file (its sheets) into the upload table."""
    layout = layout or Layout()
    intake = Intake(name, None)
    known_groups = _group_keys(catalogue)
    picked = _pick_sheet(sheets, name, layout, known_groups, intake)
    if picked is None:
        return intake
    sheet, start = picked
    first = next(i for i, rec in enumerate(sheet.records) if not _blank(rec))
    where = _where(sheet, start, len(sheets)) if start > first or len(sheets) > 1 else ""
    frame, header = _frame(sheet.records, start, name, layout, where, intake)
    if frame is None:
        return intake
    frame = _filter(frame, layout, name, where, intake)
    if frame is None:
        return intake
    _build(frame, header, name, where, catalogue, layout, known_groups, intake)
    return intake


# ---------------------------------------------------------------------- sheet and header
def _group_keys(catalogue) -> set[str]:
    keys = {normalise(ALL)}
    if catalogue is not None:
        keys |= set(catalogue.aliases["alias"]) if len(catalogue.aliases) else set()
        for groups in catalogue.measures.get("groups", pd.Series(dtype=object)):
            keys |= {normalise(g) for g in groups}
    return keys


def _is_month(header: object) -> bool:
    return bool(_MONTH_HEADER.match(str(header).strip()))


def _score(cells: list[object], layout: Layout, known_groups: set[str]) -> int:
    """How much a row looks like the header: the upload columns its cells name."""
    texts = [str(c).strip() for c in cells if str(c).strip()]
    if len(texts) < 2:
        return 0
    named = {hit[0] for t in texts if (hit := column_of(t))}
    keys = {header_key(t) for t in texts}
    wanted = [*layout.columns.values(), *layout.filters]
    if layout.values:
        wanted += [layout.values["column"], layout.values["by"]]
    score = len(named) + sum(header_key(w) in keys for w in wanted)
    if sum(_is_month(t) for t in texts) >= 2:
        score += 1
    if sum(normalise(t) in known_groups for t in texts) >= 2:
        score += 1
    return score


def _blank(rec: list[object]) -> bool:
    for v in rec:  # noqa: SIM110 (returns at the first filled cell: quick for a data row)
        if v != "" and (not isinstance(v, str) or v.strip()):
            return False
    return True


def _find_header(records, layout: Layout, known_groups) -> tuple[int | None, int]:
    """(index of the header row, its score); the first non-blank row if none scores."""
    first = next((i for i, rec in enumerate(records) if not _blank(rec)), None)
    if first is None:
        return None, 0
    best, best_score = first, 0
    seen = 0
    for i in range(first, len(records)):
        if _blank(records[i]):
            continue
        score = _score(records[i], layout, known_groups)
        if score > best_score:
            best, best_score = i, score
        seen += 1
        if seen >= HEADER_SEARCH:
            break
    return (best if best_score >= 2 else first), best_score


def _pick_sheet(sheets, name, layout, known_groups, intake):
    """(sheet, header index) to read, or None with a problem."""
    if layout.sheet is not None:
        names = [s.name for s in sheets]
        if isinstance(layout.sheet, int):
            chosen = sheets[layout.sheet - 1] if layout.sheet <= len(sheets) else None
        else:
            chosen = next(
                (s for s in sheets if name_key(s.name or "") == name_key(layout.sheet)), None
            )
        if chosen is None:
            if all(n is None for n in names):
                have = "this is a CSV file, which has no sheets: leave sheet out of the layout"
            else:
                have = f"its sheets are {', '.join(repr(n) for n in names)}"
            intake.problems.append(
                Problem(name, None, None,
                        f"the layout reads sheet {layout.sheet!r}, which this file does not "
                        f"have: {have}")
            )  # fmt: skip
            return None
        sheets = [chosen]
    if layout.header_row is not None:
        sheet = sheets[0]
        index = layout.header_row - 1
        if index >= len(sheet.records) or _blank(sheet.records[index]):
            intake.problems.append(
                Problem(name, layout.header_row, None,
                        f"the layout says the header is on row {layout.header_row}"
                        f"{_in_sheet(sheet, len(sheets))}, but that row is empty")
            )  # fmt: skip
            return None
        return sheet, index
    found = []
    for sheet in sheets:
        index, score = _find_header(sheet.records, layout, known_groups)
        if index is not None:
            found.append((score, sheet, index))
    if not found:
        intake.problems.append(Problem(name, None, None, "the file is empty: nothing was uploaded"))
        return None
    top = max(score for score, _, _ in found)
    best = [(sheet, index) for score, sheet, index in found if score == top]
    if top >= 2 and len(best) > 1:
        listed = ", ".join(f"'{s.name}' (header on row {i + 1})" for s, i in best)
        intake.problems.append(
            Problem(name, None, None,
                    f"more than one sheet looks like the data: {listed}; keep one of them in "
                    "the file, or save a layout that names the sheet (qi layout add)")
        )  # fmt: skip
        return None
    sheet, index = best[0]
    if len(sheets) > 1:
        intake.notes.append(f"sheet '{sheet.name}' (of {', '.join(repr(s.name) for s in sheets)})")
    first = next(i for i, rec in enumerate(sheet.records) if not _blank(rec))
    if index > first:
        intake.notes.append(f"header on row {index + 1}; the rows above it are titles, not data")
    return sheet, index


def _in_sheet(sheet: Sheet, count: int) -> str:
    return f" of sheet '{sheet.name}'" if sheet.name is not None and count > 1 else ""


def _where(sheet: Sheet, start: int, count: int) -> str:
    """ "(sheet 'Data', header on row 4)" for file-level messages."""
    parts = []
    if sheet.name is not None and count > 1:
        parts.append(f"sheet '{sheet.name}'")
    parts.append(f"header on row {start + 1}")
    return " (" + ", ".join(parts) + ")"


# ---------------------------------------------------------------------- the table
def _frame(records, start, name, layout, where, intake):
    """The rows below the header as a frame of cells, named by the header as written."""
    raw = [INVISIBLE.sub(" ", str(v)).strip() for v in records[start]]
    while raw and raw[-1] == "":
        raw.pop()
    used = {header_key(h) for h in [*layout.columns.values(), *layout.filters]}
    if layout.values:
        used |= {header_key(layout.values["column"]), header_key(layout.values["by"])}
    header, seen = [], {}
    for j, cell in enumerate(raw):
        text = cell or f"column {j + 1}"
        key = header_key(text)
        if key in seen:
            if column_of(text) is not None or key in used:
                intake.problems.append(
                    Problem(name, start + 1, cell.lower() if cell == cell.lower() else cell,
                            f"the column '{cell}' appears twice in the header{where}")
                )  # fmt: skip
            text = f"{text} ({seen[key] + 1})"
            seen[key] += 1
        else:
            seen[key] = 1
        header.append(text)
    if any(p.row == start + 1 for p in intake.problems):
        return None, None
    width = len(header)
    is_csv = all(isinstance(v, str) for v in records[start])
    data, rows = [], []
    for i in range(start + 1, len(records)):
        rec = records[i]
        if _blank(rec):
            continue
        if len(rec) > width and any(v != "" and str(v).strip() for v in rec[width:]):
            if is_csv:
                why = "check for a stray delimiter or an unquoted comma in a value"
            else:
                why = "give that column a header, or clear the cell"
            intake.problems.append(
                Problem(name, i + 1, None,
                        f"this row has {len(rec)} cells but the header has {width}: {why}")
            )  # fmt: skip
            continue
        data.append(rec if len(rec) == width else list(rec[:width]) + [""] * (width - len(rec)))
        rows.append(i + 1)
    # notes under the table: rows of one cell after the last row of data
    notes = []
    while data and width >= 3 and sum(str(v).strip() != "" for v in data[-1]) == 1:
        notes.append(rows.pop())
        data.pop()
    if notes:
        intake.notes.append(f"row(s) {rows_text(sorted(notes))} below the table read as notes")
    from qi.store.reading import MAX_ROWS

    if len(data) > MAX_ROWS:
        intake.problems.append(
            Problem(name, None, None, f"the file has {len(data):,} rows; the limit is {MAX_ROWS:,}")
        )
        return None, None
    if not data:
        if not any(p.row is not None for p in intake.problems):
            intake.problems.append(
                Problem(name, None, None, f"the file has a header but no data rows{where}")
            )
        return None, None
    frame = pd.DataFrame(data, columns=header, dtype=object)
    frame["_row"] = np.asarray(rows, dtype=np.int64)
    return frame, header


def _resolve(wanted: str, header: list[str]) -> str | None:
    key = header_key(wanted)
    return next((h for h in header if header_key(h) == key), None)


def _missing_header(what: str, wanted: str, header: list[str], where: str) -> str:
    found = ", ".join(f"'{h}'" for h in header if not h.startswith("column "))
    return f"the layout's {what} '{wanted}' is not a column of this file{where}: found {found}"


def _filter(frame, layout, name, where, intake):
    header = [c for c in frame.columns if c != "_row"]
    for wanted, kept in layout.filters.items():
        column = _resolve(wanted, header)
        if column is None:
            intake.problems.append(
                Problem(name, None, None, _missing_header("filter column", wanted, header, where))
            )
            return None
        keys = {name_key(v) for v in kept}
        cells = per_distinct(frame[column], name_key).isin(keys)
        if not cells.any():
            found = frame[column].astype(str).str.strip().value_counts().index[:8].tolist()
            intake.problems.append(
                Problem(name, None, None,
                        f"no row has {column} = {', '.join(map(repr, kept))}{where}: the values "
                        f"found are {', '.join(map(repr, found))}")
            )  # fmt: skip
            return None
        dropped = int((~cells).sum())
        frame = frame[cells.to_numpy()]
        if dropped:
            intake.notes.append(
                f"kept the rows whose {column} is {' or '.join(map(repr, kept))} "
                f"({dropped:,} other rows left out)"
            )
    return frame


def _build(frame, header, name, where, catalogue, layout, known_groups, intake):
    """Map, unpivot, split and clean: fills ``intake.table`` or its problems."""
    header = [c for c in frame.columns if c != "_row"]
    before = len(intake.problems)

    def refused() -> bool:
        return len(intake.problems) > before

    mapped: dict[str, str] = {}
    for column, wanted in layout.columns.items():
        found = _resolve(wanted, header)
        if found is None:
            intake.problems.append(
                Problem(
                    name, None, None, _missing_header(f"{column} column", wanted, header, where)
                )
            )
        else:
            mapped[column] = found
    value_column = by_column = None
    if layout.values:
        value_column = _resolve(layout.values["column"], header)
        by_column = _resolve(layout.values["by"], header)
        for what, got, wanted in (
            ("values column", value_column, layout.values["column"]),
            ("values 'by' column", by_column, layout.values["by"]),
        ):
            if got is None:
                intake.problems.append(
                    Problem(name, None, None, _missing_header(what, wanted, header, where))
                )  # fmt: skip
    if refused():
        return

    # months or groups as columns
    wide_to, wide_cols = None, []
    if layout.wide:
        wide_to = layout.wide["to"]
        if layout.wide["columns"]:
            for wanted in layout.wide["columns"]:
                found = _resolve(wanted, header)
                if found is None:
                    intake.problems.append(
                        Problem(
                            name, None, None, _missing_header("wide column", wanted, header, where)
                        )
                    )  # fmt: skip
                wide_cols.append(found)
            if refused():
                return
        else:
            wide_cols = _wide_candidates(header, wide_to, known_groups)
            if not wide_cols:
                what = "a month" if wide_to == "period" else "a group"
                intake.problems.append(
                    Problem(name, None, None,
                            f"the layout turns columns into {wide_to}s, but no header{where} is "
                            f"{what}: name the columns in [wide] columns")
                )  # fmt: skip
                return
    skip = set(mapped.values()) | set(wide_cols) | {value_column, by_column} - {None}
    found, clashes = map_headers(header, skip=skip)
    for column, header_name in found.items():
        if column in mapped or column in layout.constants:
            continue
        if column in ("numerator", "denominator") and layout.values:
            continue
        if wide_to == column:
            continue
        mapped[column] = header_name
    if not layout.wide:
        has = set(mapped) | set(layout.constants)
        months = _wide_candidates(header, "period", known_groups, skip=skip)
        groups = _wide_candidates(header, "group", known_groups, skip=skip)
        if "period" not in has and len(months) >= 2 and len(groups) >= 2:
            intake.problems.append(
                Problem(name, None, None,
                        f"both months and groups are columns{where}: save a layout that says "
                        "which to read (qi layout add)")
            )  # fmt: skip
            return
        if "period" not in has and len(months) >= 2:
            wide_to, wide_cols = "period", months
        elif "group" not in has and len(groups) >= 2:
            wide_to, wide_cols = "group", groups
    for column, headers in clashes.items():
        if column in mapped or column in layout.constants or column == wide_to:
            continue
        if layout.values and column in ("numerator", "denominator"):
            continue
        intake.problems.append(
            Problem(name, None, None,
                    f"the columns {' and '.join(repr(h) for h in headers)} could each be the "
                    f"{column}{where}: rename the one that is not, or save a layout that says "
                    "which (qi layout add)")
        )  # fmt: skip
    if refused():
        return

    frame = frame.reset_index(drop=True)
    labels: dict[str, object] = {}
    if wide_to:
        frame, mapped, labels = _unpivot(frame, wide_cols, wide_to, mapped, layout, intake)
    # numerator and denominator as rows, told apart by a column
    if not layout.values and "numerator" not in mapped and "denominator" not in mapped:
        by_column, value_column = _detect_by(frame, header, mapped, wide_to, skip)
    if by_column is None and wide_to and "numerator" not in mapped:
        mapped["numerator"] = "_value"
    cell_rows: dict[str, np.ndarray] = {}
    if by_column is not None and wide_to:
        value_column = "_value"
    if by_column is not None:
        frame, labels, cell_rows = _split(
            frame, by_column, value_column, mapped, layout, labels, wide_to, name, where, intake
        )
        if frame is None:
            return
        mapped["numerator"], mapped["denominator"] = "_numerator", "_denominator"

    missing = [c for c in REQUIRED if c not in mapped and c not in layout.constants]
    if missing and missing != ["denominator"]:
        intake.problems.append(Problem(name, None, None, _missing_message(missing, header, where)))
        return

    data = {}
    for column in REQUIRED:
        if column in layout.constants:
            data[column] = pd.Series(layout.constants[column], index=frame.index, dtype=object)
            labels.setdefault(column, f"{column} (the layout's constant)")
        elif column in mapped:
            data[column] = frame[mapped[column]]
            source = mapped[column]
            if not source.startswith("_") and header_key(source) != column:
                labels.setdefault(column, source)
        else:
            data[column] = pd.Series("", index=frame.index, dtype=object)
    table = pd.DataFrame(data)
    renamed = {c: labels[c] for c in REQUIRED if isinstance(labels.get(c), str)}
    if any(c in renamed for c in REQUIRED):
        shown = ", ".join(f"{c} ← '{h}'" for c, h in renamed.items() if "constant" not in h)
        if shown:
            intake.notes.append(f"columns {shown}")
    for column, value in layout.constants.items():
        intake.notes.append(f"{column} = '{value}' for every row (the layout)")
    _recode(table, layout)
    _clean(table, catalogue, intake, name)
    rows = frame["_row"].to_numpy(dtype=np.int64)
    # one upload row per file row: the row ids are the file's rows; else internal ids
    identity = not wide_to and by_column is None
    ids = rows if identity else np.arange(len(table), dtype=np.int64)
    intake._identity = identity
    intake._rows = rows
    intake._cell_rows = cell_rows
    intake._labels = labels
    _suppressed(table, intake, name, rows, ids, cell_rows, labels)
    intake.table = Table(name, table, pd.Series(ids, dtype="int64"))


def _wide_candidates(header, to, known_groups, skip=()) -> list[str]:
    skip = set(skip)
    if to == "period":
        return [h for h in header if h not in skip and _is_month(h)]
    return [
        h for h in header if h not in skip and column_of(h) is None and normalise(h) in known_groups
    ]


def _unpivot(frame, wide_cols, to, mapped, layout, intake):
    """Months (or groups) as columns → one row per cell; labels name each value's column."""
    # a column named twice (two spellings of one header) is read once
    wide_cols = list(dict.fromkeys(wide_cols))
    keep = [c for c in frame.columns if c not in wide_cols]
    # row by row, each row's cells in the order of their columns, the cells kept as
    # they were read (objects, as in a long file): a melt, then a sort, costs far more
    by_row = np.argsort(frame["_row"].to_numpy(), kind="stable")
    k = len(wide_cols)
    long = frame[keep].iloc[np.repeat(by_row, k)].reset_index(drop=True)
    cells = {
        "_wide": np.tile(np.asarray(wide_cols, dtype=object), len(frame)),
        "_value": frame[wide_cols].to_numpy(dtype=object)[by_row].reshape(-1),
    }
    for column, values in cells.items():
        long[column] = pd.Series(values, index=long.index, dtype=object)
    long["_order"] = np.tile(np.arange(k, dtype=np.int64), len(frame))
    empty = per_distinct(long["_value"], lambda v: str(v).strip() == "")
    if empty.any():  # a month not (yet) reported in a wide sheet: no data, not a zero
        intake.notes.append(f"{int(empty.sum()):,} empty cells under the {to} columns skipped")
    long = long[~empty.to_numpy(dtype=bool)].reset_index(drop=True)
    mapped = dict(mapped)
    mapped[to] = "_wide"
    shown = ", ".join(wide_cols[:3]) + (f" … {wide_cols[-1]}" if len(wide_cols) > 3 else "")
    intake.notes.append(f"{len(wide_cols)} {to} columns ({shown}) read as rows")
    labels = {"numerator": long["_wide"].to_numpy(dtype=object)}
    labels[to] = long["_wide"].to_numpy(dtype=object)
    return long, mapped, labels


def _detect_by(frame, header, mapped, wide_to, skip):
    """A column whose cells all say numerator or denominator, and the values it labels."""
    value = "_value" if wide_to else None
    if value is None:
        value = next(
            (h for h in header if header_key(h) in _VALUE_HEADERS and h not in mapped.values()),
            None,
        )
    if value is None:
        return None, None
    for h in header:
        if h in mapped.values() or h in skip or h == value or h not in frame.columns:
            continue
        keys = set(per_distinct(frame[h], header_key).unique())
        if keys and keys <= (_NUM_WORDS | _DEN_WORDS) and keys & _NUM_WORDS and keys & _DEN_WORDS:
            return h, value
    return None, None


def _split(frame, by, value, mapped, layout, labels, wide_to, name, where, intake):
    """Rows labelled numerator / denominator (by the ``by`` column) → one row with both."""
    if layout.values:
        num_keys = {name_key(v) for v in layout.values["numerator"]}
        den_keys = {name_key(v) for v in layout.values["denominator"]}
        kind = per_distinct(frame[by], name_key)
    else:
        num_keys, den_keys = _NUM_WORDS, _DEN_WORDS
        kind = per_distinct(frame[by], header_key)
    is_num, is_den = kind.isin(num_keys), kind.isin(den_keys)
    other = ~(is_num | is_den)
    if other.any():
        values = list(dict.fromkeys(frame.loc[other, by].astype(str)))[:5]
        if layout.values:  # rows of other measures in an extract: left out, and said so
            intake.notes.append(
                f"{int(other.sum()):,} rows whose {by} is neither numerator nor denominator "
                f"left out ({', '.join(map(repr, values))}…)"
            )
        else:
            intake.problems.append(
                Problem(name, int(frame.loc[other, "_row"].iloc[0]), by,
                        f"{by} should say numerator or denominator{where}; found "
                        f"{', '.join(map(repr, values))}")
            )  # fmt: skip
            return None, None, None
    keys = [c for c in ("team", "measure", "period", "group") if c in mapped]
    key_cols = [mapped[c] for c in keys]
    label = labels.get("numerator")
    frame = frame.assign(_label=label if label is not None else value, _pos=np.arange(len(frame)))
    # rows pair up whatever the letter case or spacing of their names
    match = [f"_key_{k}" for k in key_cols]
    frame = frame.assign(
        **{m: per_distinct(frame[k], name_key) for m, k in zip(match, key_cols, strict=True)}
    )
    num = frame[is_num.to_numpy()]
    den = frame[is_den.to_numpy()]
    carried = [value, "_row", "_label", "_pos"]
    pairs = num[[*match, *key_cols, *carried]].merge(
        den[[*match, *key_cols, *carried]], on=match, how="outer", suffixes=("_n", "_d"),
        sort=False,
    )  # fmt: skip
    for k in key_cols:  # the numerator row's own spelling, or the denominator's
        pairs[k] = pairs[f"{k}_n"].where(pairs[f"{k}_n"].notna(), pairs[f"{k}_d"])
    key_cols = match
    both = pairs.duplicated(key_cols, keep=False)
    if both.any():
        first = pairs[both].iloc[0]
        row = int(first["_row_n"]) if pd.notna(first["_row_n"]) else int(first["_row_d"])
        intake.problems.append(
            Problem(name, row, by,
                    f"more than one numerator or denominator row for the same "
                    f"{', '.join(keys)}{where}: each may appear once")
        )  # fmt: skip
        return None, None, None
    row_n = pairs["_row_n"].to_numpy(dtype=float)
    row_d = pairs["_row_d"].to_numpy(dtype=float)
    rows = np.where(np.isnan(row_n), row_d, row_n).astype(np.int64)
    pos = pairs["_pos_n"].fillna(pairs["_pos_d"]).to_numpy(dtype=float)
    out = pairs[[mapped[c] for c in keys]].copy()
    out["_numerator"] = pairs[f"{value}_n"].where(pairs[f"{value}_n"].notna(), "")
    out["_denominator"] = pairs[f"{value}_d"].where(pairs[f"{value}_d"].notna(), "")
    out["_row"] = rows
    order = np.lexsort((pos, rows))
    out = out.iloc[order].reset_index(drop=True)
    cell_rows = {
        "numerator": np.where(np.isnan(row_n), row_d, row_n).astype(np.int64)[order],
        "denominator": np.where(np.isnan(row_d), row_n, row_d).astype(np.int64)[order],
    }
    src = value if not value.startswith("_") else None
    lab_n = pairs["_label_n"].where(pairs["_label_n"].notna(), pairs["_label_d"])
    lab_d = pairs["_label_d"].where(pairs["_label_d"].notna(), pairs["_label_n"])
    lab_n = lab_n.fillna(src or "numerator").to_numpy(dtype=object)[order]
    lab_d = lab_d.fillna(src or "denominator").to_numpy(dtype=object)[order]
    labels = {k: v for k, v in labels.items() if not isinstance(v, np.ndarray)}
    if wide_to:  # the month (or group) of each value is the header of its column
        labels[wide_to] = lab_n
    labels["numerator"], labels["denominator"] = lab_n, lab_d
    intake.notes.append(f"numerator and denominator told apart by the column '{by}'")
    return out, labels, cell_rows


def _missing_message(missing, header, where) -> str:
    found = [h for h in header if not h.startswith("column ")]
    hints = []
    for column in missing:
        guess = nearest_header(column, found)
        if guess:
            hints.append(f"{column}: '{guess}'?")
    listed = ", ".join(f"'{h}'" for h in found) or "none"
    text = (
        f"the file has no column {', '.join(repr(c) for c in missing)}{where}: the header must "
        f"name the columns {', '.join(REQUIRED)} (in any order, or a usual name such as Ward, "
        f"Month, Ethnicity, Count, Bed days); the columns found are {listed}"
    )
    if hints:
        text += "; nearest: " + ", ".join(hints)
    text += (
        ". A file that is all one measure or one team, or in another shape, can be read with "
        "a saved layout (qi layout add NAME FILE, then qi import FILE --layout NAME)"
    )
    return text


def _recode(table: pd.DataFrame, layout: Layout) -> None:
    for column, mapping in layout.recode.items():
        by_key = {name_key(k): v for k, v in mapping.items()}
        cells = table[column].astype(str).str.strip()
        table[column] = [mapping.get(v, by_key.get(name_key(v), v)) for v in cells]


def _text(values: pd.Series) -> pd.Series:
    """Cells as stripped text, invisible spaces inside left as they are."""
    codes, uniques = pd.factorize(values.astype(object).where(values.notna(), ""))
    text = pd.Series([str(u).strip(" \t\r\n\u00a0\u202f\ufeff") for u in uniques], dtype=object)
    return pd.Series(text.to_numpy()[codes] if len(text) else [], index=values.index, dtype=object)


def _clean(table: pd.DataFrame, catalogue, intake: Intake, name: str) -> None:
    """Spaces, letter case, measure names, thousands separators and NULL."""
    for column in TEXT_COLUMNS:
        table[column] = _text(table[column])
    for column in ("group", "period"):  # a non-breaking space here means a space
        table[column] = _by_value(table[column], lambda v: INVISIBLE.sub(" ", v))
    if catalogue is not None:
        team_map = match_names(table["team"].unique(), catalogue.teams)
        if team_map:
            table["team"] = _by_value(table["team"], lambda v: team_map.get(v, v))
            intake.notes.append("team names read as registered: " + _pairs(team_map))
        measure_map = _measure_names(table["measure"].unique(), catalogue.measures)
        if measure_map:
            table["measure"] = _by_value(table["measure"], lambda v: measure_map.get(v, v))
            intake.notes.append("measures read as their ids: " + _pairs(measure_map))
    changed: list[bool] = []
    for column in ("numerator", "denominator"):
        table[column] = _by_value(table[column], lambda v: _number_text(v, changed))
    if changed:
        intake.notes.append("thousands separators in numbers read (1,234 as 1234)")


def _by_value(values: pd.Series, fn) -> pd.Series:
    """``fn`` applied once to each distinct value of ``values`` (files repeat values)."""
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=False)
    mapped = np.empty(len(uniques), dtype=object)
    mapped[:] = [fn(u) for u in uniques]
    return pd.Series(mapped[codes], index=values.index, dtype=object)


def per_distinct(values: pd.Series, fn: Callable[[object], object]) -> pd.Series:
    """``values.map(fn)``, with ``fn`` called once per distinct text rather than once
    per cell: a 200,000-row file repeats its few team, measure and group names, and
    comparing a name (:func:`~qi.store.columns.name_key`) costs more than the rest of
    its reading.

    Only a column of texts (and missing cells) is taken a distinct value at a time:
    there equal values are the same text, so ``fn`` cannot tell them apart. Missing
    cells are passed to ``fn`` one by one, as ``map`` passes them (``None`` and NaN may
    differ to ``fn``), and any other column is mapped cell by cell."""
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        return values.map(fn)
    codes, uniques = pd.factorize(values)  # (a column of pandas' text type natively)
    if len(uniques) and (codes >= 0).all():  # no missing cell: the answers taken by code
        mapped = pd.Series([fn(u) for u in uniques], dtype=object).infer_objects()
        return mapped.take(codes).set_axis(values.index).rename(values.name)
    out = np.empty(len(values), dtype=object)
    if len(uniques):
        mapped = np.empty(len(uniques), dtype=object)
        mapped[:] = [fn(u) for u in uniques]
        known = codes >= 0
        out[known] = mapped[codes[known]]
    for i in np.flatnonzero(codes < 0):  # missing cells
        out[i] = fn(values.iat[i])
    return pd.Series(out, index=values.index, name=values.name).infer_objects()


def _number_text(value: object, changed: list) -> object:
    """A number cell as a number reads it: NULL empty, thousands separators dropped."""
    if not isinstance(value, str):
        return value
    text = value.strip(" \t\r\n\u00a0\u202f")
    if text in ("NULL", "null"):
        return ""
    if _THOUSANDS.match(text) or _SPACED_THOUSANDS.match(text):
        changed.append(True)
        return re.sub(r"[,\s\u00a0\u202f\u2009]", "", text)
    return text


def _pairs(mapping: dict[str, str], k: int = 4) -> str:
    from qi.store.columns import visible

    items = list(mapping.items())
    shown = ", ".join(f"'{visible(a)}' as '{b}'" for a, b in items[:k])
    return shown + (f" and {len(items) - k} more" if len(items) > k else "")


def _measure_names(values, measures: pd.DataFrame) -> dict[str, str]:
    """A measure given by its display name, or its id in another case, → its id."""
    ids = list(measures.index)
    exact = set(ids)
    by_key: dict[str, set[str]] = {}
    for mid in ids:
        by_key.setdefault(name_key(mid), set()).add(mid)
    if "name" in measures.columns:
        for mid, display in measures["name"].items():
            by_key.setdefault(name_key(display), set()).add(mid)
    out = {}
    for value in values:
        if value in exact or not value:
            continue
        hits = by_key.get(name_key(value), set())
        if len(hits) == 1:
            out[value] = next(iter(hits))
    return out


def _suppressed(table, intake, name, rows, ids, cell_rows, labels) -> None:
    """One problem for every suppressed cell of the file, and the rows it is on."""
    found = []
    for column in ("numerator", "denominator"):
        codes, uniques = pd.factorize(table[column].astype(object), use_na_sentinel=False)
        marked = np.array(
            [isinstance(u, str) and bool(_SUPPRESSED.match(u)) for u in uniques], dtype=bool
        )
        if not marked.any():
            continue
        for i in np.flatnonzero(marked[codes]):
            text = uniques[codes[i]]
            found.append((int(cell_rows.get(column, rows)[i]), column, text, int(i)))
    if not found:
        return
    for _, column, _, i in found:
        intake._covered.add((int(ids[i]), column))
    found.sort()
    first_row, column, _, i = found[0]
    label = labels.get(column, column)
    label = label[i] if isinstance(label, np.ndarray) else label
    marks = ", ".join(repr(m) for m in dict.fromkeys(v for _, _, v, _ in found))
    at = sorted({r for r, _, _, _ in found})
    at_text = ("rows " if len(at) > 1 else "row ") + rows_text(at)
    cells = f"{len(found):,} cells hold" if len(found) > 1 else "1 cell holds"
    intake.problems.append(
        Problem(name, first_row, label,
                f"{cells} a suppressed count ({marks}; {at_text}): the collaborative needs the "
                "real, unsuppressed counts to chart and compare groups; it suppresses small "
                "numbers itself on everything it shows or exports (counts from 1 to 7 are "
                "shown as *). Send the figures from before suppression")
    )  # fmt: skip


#: Type of :meth:`Intake.translate`, for callers that keep it.
Translate = Callable[[list[Problem]], list[Problem]]


#: Lines of each sheet read to find a file's shape for the layout maker.
SHAPE_LINES = 5_000


@dataclass(frozen=True)
class FileShape:
    """What a layout is made from: a file's sheets, the header row found in one, its
    columns, the upload column each seems to be, and a few values of each column."""

    sheets: tuple[str, ...]
    sheet: str | None
    header_row: int  # as the spreadsheet numbers it
    columns: tuple[str, ...]
    guessed: dict[str, str]  # upload column -> header, by synonyms
    values: dict[str, tuple[str, ...]]  # header -> up to 30 distinct values
    months: tuple[str, ...]  # headers that are months


def file_shape(
    source, name: str | None = None, *, sheet: str | None = None, header_row: int | None = None
) -> FileShape | None:
    """The shape of a file, to build a layout from (None if it cannot be read), from
    its first :data:`SHAPE_LINES` lines (a look at its top: the rest is not read)."""
    sheets, _, name = read_sheets(source, name, first_lines=SHAPE_LINES)
    if not sheets:
        return None
    chosen = next((s for s in sheets if s.name == sheet), None) if sheet is not None else None
    if chosen is None:
        picked = Intake(name, None)
        found = _pick_sheet(sheets, name, Layout(), {normalise(ALL)}, picked)
        chosen, index = found if found else (sheets[0], 0)
    else:
        index, _ = _find_header(chosen.records, Layout(), {normalise(ALL)})
        index = index or 0
    if header_row is not None and 1 <= header_row <= len(chosen.records):
        index = header_row - 1
    header = [INVISIBLE.sub(" ", str(v)).strip() for v in chosen.records[index]]
    while header and header[-1] == "":
        header.pop()
    header = [h or f"column {j + 1}" for j, h in enumerate(header)]
    below = [r for r in chosen.records[index + 1 : index + 2001] if not _blank(r)]
    values = {}
    for j, h in enumerate(header):
        cells = (str(r[j]).strip() for r in below if j < len(r))
        values[h] = tuple(dict.fromkeys(c for c in cells if c))[:30]
    guessed, _ = map_headers(header)
    return FileShape(
        sheets=tuple(s.name or "" for s in sheets),
        sheet=chosen.name,
        header_row=index + 1,
        columns=tuple(header),
        guessed=guessed,
        values=values,
        months=tuple(h for h in header if _is_month(h)),
    )
