"""Reading period-like text (``"2024-03"``, ``"Mar-24"``, ``"01/03/2024"``) as dates, for
:func:`qi.spc`: months given as text must be read as months, never sorted as words."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for name in names
}
_NAME = "|".join(sorted(_MONTHS, key=len, reverse=True))
#: Spellings of a month or a day, each a pattern and how to read its groups.
_SPELLINGS = (
    (re.compile(r"^(\d{4})-(\d{1,2})$"), "ym"),  # 2024-03
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), "ymd"),  # 2024-03-01
    (re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"), "ymd"),  # 2024/03/01
    (re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$"), "dmy"),  # 01/03/2024 (day first)
    (re.compile(rf"^({_NAME})[-\s](\d{{2}}|\d{{4}})$", re.I), "my"),  # Mar-24, March 2024
)


def looks_like_period(text: str) -> bool:
    """``text`` is spelled like a month or a day (whether or not it is a real one)."""
    t = text.strip()
    return any(p.match(t) for p, _ in _SPELLINGS)


def _one(text: str) -> pd.Timestamp | None:
    t = text.strip()
    for pattern, kind in _SPELLINGS:
        m = pattern.match(t)
        if not m:
            continue
        g = m.groups()
        try:
            if kind == "ym":
                return pd.Timestamp(int(g[0]), int(g[1]), 1)
            if kind == "ymd":
                return pd.Timestamp(int(g[0]), int(g[1]), int(g[2]))
            if kind == "dmy":
                return pd.Timestamp(int(g[2]), int(g[1]), int(g[0]))
            year = int(g[1]) + (2000 if len(g[1]) == 2 else 0)
            return pd.Timestamp(year, _MONTHS[g[0].lower()], 1)
        except ValueError:
            return None
    return None


def parse_period_text(labels: pd.Index, arg: str) -> np.ndarray | None:
    """Dates for text labels that are all spelled as months or days; None when none of
    them is (ordinary text, such as team names). Raises ValueError when some are and
    some are not, or when one is spelled as a month but is no month ("2024-13")."""
    period_like = np.array([looks_like_period(str(v)) for v in labels], dtype=bool)
    if not period_like.any():
        return None
    if not period_like.all():
        odd = [str(v) for v in labels[~period_like]][:3]
        raise ValueError(
            f"The x column of qi.spc ({arg!r}) holds months written as text, but "
            f"{', '.join(map(repr, odd))} is not one: write every x as a month (2024-03) "
            "or pass dates (pandas datetime64)."
        )
    dates = [_one(str(v)) for v in labels]
    bad = [str(v) for v, d in zip(labels, dates, strict=True) if d is None][:3]
    if bad:
        raise ValueError(
            f"The x column of qi.spc ({arg!r}) holds months written as text, but "
            f"{', '.join(map(repr, bad))} is not a real month or day."
        )
    return np.array(dates, dtype="datetime64[ns]")
