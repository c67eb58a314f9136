"""The limits of one upload, checked while it is read, before the expensive work.

A file is read as a stream of rows (:func:`rows`); each limit is checked as the rows
go by, and the first one passed stops the reading at once with one clear
:class:`~qi.store.reading.Problem` naming the limit and how to split the file. So a
file of 40 million tiny rows stops at row 1,000,002, not after building them all,
and lists no row problems: nothing below the limit is worth checking in a file that
cannot be stored.

====================  ==========================================================
limit                 value (and why)
====================  ==========================================================
:data:`MAX_ROWS`      1,000,000 rows of data (non-blank rows below the header)
:data:`MAX_LINES`     2,000,001 lines, blank ones included
:data:`MAX_COLUMNS`   1,000 cells in a row (an upload needs 6 columns)
:data:`MAX_CELLS`     20,000,000 filled cells in the file
:data:`MAX_CELL_CHARS` 32,767 characters in a cell (the most an Excel cell holds)
:data:`MAX_MEMORY`    1 GiB more memory than the process held when reading began
====================  ==========================================================

The size of an ``.xlsx`` workbook's parts is checked before any of it is unpacked
(:mod:`qi.store.xlsx`); the size of a file is checked before it is read
(:data:`qi.store.reading.MAX_BYTES`).

While a file is read, the function set with :func:`reporting` (if any) is told how far
the reading has got, every :data:`REPORT_EVERY` lines: the Upload page shows it as a
progress bar.

Every limit is read when it is checked, so a test may lower one with ``monkeypatch``.
"""

from __future__ import annotations

import contextvars
import io
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

#: Rows of data (non-blank rows below the header) in one upload.
MAX_ROWS = 1_000_000
#: Lines (spreadsheet rows) of a file, blank ones included.
MAX_LINES = 2 * MAX_ROWS + 1
#: Cells in one row.
MAX_COLUMNS = 1_000
#: Filled cells in one file (what the memory of reading it grows with).
MAX_CELLS = 20_000_000
#: Characters in one cell: the most an Excel cell holds.
MAX_CELL_CHARS = 32_767
#: Memory that reading one file may add to the process (bytes of resident memory).
MAX_MEMORY = 1024 * 2**20
#: How often (in lines) memory is measured and progress reported.
REPORT_EVERY = 16_384

SPLIT = "split it into smaller files, for example one per year or one per team"

#: Distinct cell texts shared between rows (one string object for each repeated value),
#: at most this many; later new values are kept as they are.
_SHARE_AT_MOST = 200_000
_BLANK: list = []  # every blank line is this one (empty) list: no memory per blank line

Progress = Callable[[float | None, int], None]
_progress: contextvars.ContextVar[Progress | None] = contextvars.ContextVar(
    "qi_read_progress", default=None
)


class LimitExceeded(Exception):
    """A limit was passed; ``problem`` says which, and how to split the file."""

    def __init__(self, problem):
        super().__init__(problem.message)
        self.problem = problem


def _problem(name: str, message: str, row: int | None = None, column: str | None = None):
    from qi.store.reading import Problem  # reading imports this module

    return Problem(name, row, column, message)


def refuse(name: str, message: str, row: int | None = None, column: str | None = None):
    """Stop reading ``name`` with one problem (raises :class:`LimitExceeded`)."""
    raise LimitExceeded(_problem(name, message, row, column))


def too_many_rows(name: str, line: int) -> LimitExceeded:
    return LimitExceeded(
        _problem(
            name,
            f"the file has more than {MAX_ROWS:,} rows of data (reading stopped at row "
            f"{line:,}); the limit is {MAX_ROWS:,} rows: {SPLIT}",
        )
    )


def cell_too_long(name: str, row: int | None, where: str) -> LimitExceeded:
    return LimitExceeded(
        _problem(
            name,
            f"{where} has more than {MAX_CELL_CHARS:,} characters, the most a spreadsheet "
            "cell holds: an unbalanced quote mark makes a cell run on (check the quotes from "
            "this row on), or else shorten the text",
            row,
        )
    )


def too_many_columns(name: str, row: int, cells: int | None = None) -> LimitExceeded:
    has = f"{cells:,} cells" if cells else f"more than {MAX_COLUMNS:,} cells"
    return LimitExceeded(
        _problem(
            name,
            f"this row has {has}; the limit is {MAX_COLUMNS:,} columns: delete the columns "
            "that are not needed (an upload needs only team, measure, period, group, "
            "numerator and denominator), or split the file into several with fewer columns",
            row,
        )
    )


# ---------------------------------------------------------------------- problems
#: Problems described for one file; past this many they are counted, not built (a
#: million rows with five mistakes each would be a list of a gigabyte; what a person
#: reads is summarised from these by :mod:`qi.store.messages`).
MAX_PROBLEMS = 100_000
#: Words of the note that counts the problems past those described (:func:`listed`).
MORE_PROBLEMS = "more problems were found after the first"


def listed(problems: list, name: str, unlisted: int = 0) -> list:
    """The first :data:`MAX_PROBLEMS` of ``problems``, and then one more saying how many
    others were found (``unlisted`` of them never built) and what to do."""
    extra = max(len(problems) - MAX_PROBLEMS, 0) + unlisted
    if not extra:
        return problems
    kept = problems[:MAX_PROBLEMS]
    kept.append(
        _problem(
            name,
            f"{extra:,} {MORE_PROBLEMS} {MAX_PROBLEMS:,} and are not described here (the "
            "counts above are of those first ones): the same mistake is probably on many "
            "rows, so fix the ones described and check the file again",
        )
    )
    return kept


# ---------------------------------------------------------------------- memory
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int:
    """This process's resident memory now (bytes); its peak where /proc is missing."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):  # not Linux: the peak is the best there is
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def out_of_memory(name: str) -> LimitExceeded:
    return LimitExceeded(
        _problem(
            name,
            f"reading this file needs more than {MAX_MEMORY / 2**20:,.0f} MB of memory, the "
            f"most one upload may use: {SPLIT}",
        )
    )


# ---------------------------------------------------------------------- progress
@contextmanager
def reporting(progress: Progress | None) -> Iterator[None]:
    """Within this block, reading tells ``progress(fraction, rows)`` how far it has
    got (``fraction`` of the file read, None when unknown; ``rows`` read so far)."""
    token = _progress.set(progress)
    try:
        yield
    finally:
        _progress.reset(token)


def report(fraction: float | None, rows: int) -> None:
    """Tell whoever listens (:func:`reporting`) how far the reading has got."""
    listener = _progress.get()
    if listener is not None:
        listener(None if fraction is None else min(max(fraction, 0.0), 1.0), rows)


# ---------------------------------------------------------------------- rows
class Lines:
    """The lines of a text, for :func:`csv.reader`, counting how much has been read
    (so that :func:`rows` can report the fraction done)."""

    def __init__(self, text: str):
        self.total = max(len(text), 1)
        self.read = 0
        self._lines = iter(io.StringIO(text, newline=""))  # as csv.reader reads a file

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.read += len(line)
        return line

    def fraction(self) -> float:
        return self.read / self.total


def rows(
    records: Iterable[list],
    name: str,
    *,
    fraction: Callable[[], float] | None = None,
    texts: bool = True,
    start_memory: int | None = None,
    first_lines: int | None = None,
) -> Iterator[list]:
    """``records`` (the rows of a file, in order, one per spreadsheet row) with every
    limit checked as they go by: raises :class:`LimitExceeded` at the first row that
    passes one, having kept nothing of the rows after it.

    ``texts``: every cell is text (CSV). Otherwise cells may be text, numbers or dates
    (Excel: :mod:`qi.store.xlsx` checks each cell's length and column itself).

    ``start_memory``: the resident memory when reading the file began (when it has
    several sheets, each read with this function); by default, now. ``first_lines``:
    stop quietly after this many lines (to look at a file's top, not check it).

    Each row comes out as read, but for empty cells after the last column allowed,
    which are dropped. (Invisible characters in names are dealt with, and said, by
    :mod:`qi.store.intake`.) A blank row comes out as
    an empty list. Repeated cell texts share one string object, so a million rows of a
    few teams and months take little memory.
    """
    shared: dict[str, str] = {}
    max_rows, max_lines, max_columns = MAX_ROWS + 1, MAX_LINES, MAX_COLUMNS  # + header
    max_cells, max_chars = MAX_CELLS, MAX_CELL_CHARS
    every, ceiling = REPORT_EVERY, MAX_MEMORY
    if start_memory is None:
        start_memory = resident_bytes()
    line = filled = cells = 0
    last = first_lines if first_lines is not None else float("inf")
    for record in records:
        line += 1
        if line > last:
            return
        if line % every == 0:
            if resident_bytes() - start_memory > ceiling:
                raise out_of_memory(name)
            report(fraction() if fraction is not None else None, filled)
        if line > max_lines:
            refuse(
                name,
                f"the file has more than {max_lines:,} lines, counting blank ones; the limit "
                f"is {max_lines:,}: delete the blank lines, or {SPLIT}",
            )
        if texts:
            joined = "".join(record)
            if not joined.strip():
                yield _BLANK
                continue
            if len(joined) > max_chars:
                longest = max(range(len(record)), key=lambda j: len(record[j]))
                if len(record[longest]) > max_chars:
                    raise cell_too_long(name, line, f"cell {longest + 1} of this row")
        else:  # the reader (qi.store.xlsx) has checked each cell's length
            for v in record:
                if v != "" and v is not None and not (type(v) is str and v.isspace()):
                    break
            else:
                yield _BLANK
                continue
        filled += 1
        if filled > max_rows:
            raise too_many_rows(name, line)
        if len(record) > max_columns:
            if any(v not in ("", None) for v in record[max_columns:]):
                raise too_many_columns(name, line, len(record))
            record = record[:max_columns]
        cells += len(record)
        if cells > max_cells:
            refuse(
                name,
                f"the file has more than {max_cells:,} cells (reading stopped at row "
                f"{line:,}); the limit is {max_cells:,}: delete the columns that are not "
                f"needed, or {SPLIT}",
            )
        # (map with the dict's bound methods: no Python frame per cell)
        if texts and len(shared) < _SHARE_AT_MOST:
            record = list(map(shared.setdefault, record, record))
        elif texts:
            record = list(map(shared.get, record, record))
        yield record
    report(1.0, filled)
