"""Problems that help at scale: one line for a problem many rows share, and a short list.

A file with one systematic problem (a period column written the same wrong way on
every row, a team column holding the trust's name) must not print a line per row.
:func:`summarise` groups problems that say the same thing about the same column —
the same message once the quoted values and numbers in it are set aside — and writes
each group of more than a few rows as one :class:`~qi.store.reading.Problem`: its
first row, its column, the first row's message, how many rows share it, which rows
(the first few) and how many different values they hold. The whole list is cut at
:data:`LIMIT` lines, the last of which says how much more there is.
"""

from __future__ import annotations

import re
from collections import defaultdict

from qi.store.limits import MORE_PROBLEMS
from qi.store.reading import Problem

#: At most this many problems are returned for a file (the last one says what is left).
LIMIT = 50
#: A group of more rows than this is written as one line.
SAME = 3

_QUOTED = re.compile(r"'[^']*'")
_NUMBER = re.compile(r"(?<![\w'])-?\d[\d,]*(?:\.\d+)?")


def template(message: str) -> str:
    """What a message says once its quoted values and numbers are set aside."""
    return _NUMBER.sub("#", _QUOTED.sub("'…'", message))


def rows_text(rows: list[int], shown: int = 5) -> str:
    """``2, 3, 4, 5, 6 and 199,995 more``."""
    head = ", ".join(str(r) for r in rows[:shown])
    rest = len(rows) - shown
    return head + (f" and {rest:,} more" if rest > 0 else "")


def summarise(problems: list[Problem], *, same: int = SAME, limit: int = LIMIT) -> list[Problem]:
    """The problems with each group of more than ``same`` alike rows written as one line,
    file-level problems first, then by row; at most ``limit`` lines per file. A problem
    said twice of one cell (a file row that became several rows: groups or months as
    columns) is said once."""
    problems = list(dict.fromkeys(problems))
    if len(problems) <= same:
        return list(problems)
    exact: dict[tuple, list[Problem]] = defaultdict(list)
    for p in problems:  # most rows share their message exactly: template each once
        exact[(p.file, p.column, p.row is None, p.message)].append(p)
    groups: dict[tuple, list[Problem]] = defaultdict(list)
    for (file, column, whole, message), items in exact.items():
        key = (file, column, whole, message if whole else template(message))
        groups[key].extend(items)
    out: list[Problem] = []
    for (file, column, whole, _), items in groups.items():
        if whole or len(items) <= same:
            out.extend(items)
            continue
        first = min(items, key=lambda p: p.row)
        rows = sorted({p.row for p in items})
        distinct = dict.fromkeys(p.message for p in items)  # few: a file repeats its values
        values = list(dict.fromkeys(v for m in distinct for v in _QUOTED.findall(m)[:1]))
        detail = f"rows {rows_text(rows)}"
        if len(values) > 1:
            shown = ", ".join(values[:3])
            more = f" and {len(values) - 3:,} more" if len(values) > 3 else ""
            detail += f"; {len(values):,} different values: {shown}{more}"
        message = f"{len(rows):,} rows like this: {first.message} ({detail})"
        out.append(Problem(file, first.row, column, message))
    # file-level problems first, then by row; the count of problems past those described
    # (:func:`qi.store.limits.listed`) last, after the problems it follows
    out.sort(key=lambda p: (p.file, MORE_PROBLEMS in p.message, p.row is not None, p.row or 0))
    return _cut(out, limit)


def _cut(problems: list[Problem], limit: int) -> list[Problem]:
    by_file: dict[str, list[Problem]] = defaultdict(list)
    for p in problems:
        by_file[p.file].append(p)
    out = []
    for file, items in by_file.items():
        if len(items) <= limit:
            out.extend(items)
            continue
        out.extend(items[: limit - 1])
        left = len(items) - (limit - 1)
        out.append(
            Problem(
                file,
                None,
                None,
                f"and {left:,} more problems not listed: fix the ones above and check the "
                "file again",
            )
        )
    return out
