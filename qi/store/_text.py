"""Checks of free text before it is stored (private helpers of the store's parts).

Each check of a small table's cells returns a :class:`~qi.store.reading.Problem` per bad
cell, named by file, row and column, so a person fixes a file from the whole list; they
run before any write, so the database never refuses half-way.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from qi.store.reading import Problem


def _plain(value: str, what: str) -> str:
    """Short free text (a display name): any characters, stored as typed, at most 200."""
    text_ = str(value or "").strip()
    if len(text_) > 200:
        raise ValueError(f"the {what} is longer than 200 characters")
    return text_


def _too_long(frame: pd.DataFrame, name: str, limits: dict[str, int]) -> list[Problem]:
    """A problem for each cell longer than its column holds (checked before any write,
    so the database never refuses half-way)."""
    problems = []
    for col, limit in limits.items():
        for r in frame.loc[frame[col].str.len() > limit, "_row"]:
            problems.append(Problem(name, int(r), col, f"{col} is longer than {limit} characters"))
    return problems


def _required_text(frame: pd.DataFrame, name: str, columns: Iterable[str]) -> list[Problem]:
    problems = []
    for col in columns:
        for r in frame.loc[frame[col].eq(""), "_row"]:
            problems.append(Problem(name, int(r), col, f"{col} is empty"))
    return problems
