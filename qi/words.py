"""Tables in words: what a screen shows a person, from what the engine computes.

The engine's frames keep their column names (``n_obs``, ``lcl_95``, ``sigma_signals``),
and the data downloads keep them too; a table on screen is for a ward manager or a
board member: its columns are named in words, months read "Nov 2026", numbers are
rounded to what the measure needs, counts are whole, and an empty cell is blank — never
``None``, ``NaT`` or ``nan``.

:func:`table` turns a frame into such a table from a list of :class:`Column` specs;
the specs for the engine's usual frames are here, beside the words for the engine's
vocabulary (:data:`VARIATION`, :data:`GAINS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: What a table cell shows for a missing value.
BLANK = ""


@dataclass(frozen=True)
class Column:
    """One column of a table in words.

    Attributes
    ----------
    source : the engine's column.
    label : the heading people read.
    kind : ``"text"``, ``"month"`` ("Nov 2026"), ``"date"`` ("3 Dec 2026"), ``"time"``
        ("3 Dec 2026 10:05"),
        ``"number"`` (rounded to ``decimals``), ``"count"`` (whole, thousands
        separated), ``"percent"`` (a share 0–1 as "29%"), ``"yes"`` (True → "yes") or
        ``"words"`` (mapped through ``words``).
    decimals : for numbers.
    words : for ``kind="words"``: value → words (unknown values shown as they are).
    """

    source: str
    label: str
    kind: str = "text"
    decimals: int = 1
    words: Mapping[str, str] | None = None


def _month(v) -> str:
    return BLANK if v is None or pd.isna(v) else f"{pd.Timestamp(v):%b %Y}"


def _date(v) -> str:
    return BLANK if v is None or pd.isna(v) else f"{pd.Timestamp(v):%-d %b %Y}"


def _time(v) -> str:
    return BLANK if v is None or pd.isna(v) else f"{pd.Timestamp(v):%-d %b %Y %H:%M}"


def _number(v, decimals: int) -> str:
    if isinstance(v, str):  # a hidden small number ("*") or text already
        return v
    if v is None or pd.isna(v) or not np.isfinite(float(v)):
        return BLANK
    return f"{float(v):,.{decimals}f}"


def _count(v) -> str:
    if isinstance(v, str):
        return v
    if v is None or pd.isna(v) or not np.isfinite(float(v)):
        return BLANK
    return f"{round(float(v)):,}"


def _text(v) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return BLANK
    return str(v)


def cell(value, column: Column) -> str:
    """One value as the table shows it."""
    kind = column.kind
    if kind == "month":
        return _month(value)
    if kind == "date":
        return _date(value)
    if kind == "time":
        return _time(value)
    if kind == "number":
        return _number(value, column.decimals)
    if kind == "count":
        return _count(value)
    if kind == "percent":
        return BLANK if value is None or pd.isna(value) else f"{float(value):.0%}"
    if kind == "yes":
        return BLANK if value is None or pd.isna(value) else ("yes" if bool(value) else "no")
    if kind == "words":
        text = _text(value)
        return (column.words or {}).get(text, text)
    return _text(value)


def table(frame: pd.DataFrame, columns: Sequence[Column]) -> pd.DataFrame:
    """``frame`` as a table in words: the columns given (those present), in order,
    under their labels, every cell text."""
    out = {}
    for col in columns:
        if col.source in frame:
            out[col.label] = [cell(v, col) for v in frame[col.source]]
    return pd.DataFrame(out, index=frame.index).reset_index(drop=True)


def decimals_for(unit: str, values: pd.Series | None = None) -> int:
    """Decimal places a measure's values need: none for counts and whole days, one for
    rates per 1,000 and percentages, two for small ratios."""
    unit = (unit or "").lower()
    if values is not None:
        finite = pd.to_numeric(values, errors="coerce").dropna()
        if len(finite) and (finite.abs() < 10).all() and "%" not in unit:
            return 2
    if "count" in unit:
        return 0
    return 1


#: Making Data Count point types in words.
VARIATION = {
    "common_cause": "common cause",
    "special_cause_improvement": "special cause: improvement",
    "special_cause_concern": "special cause: concern",
    "special_cause_neutral_high": "special cause: higher",
    "special_cause_neutral_low": "special cause: lower",
}
#: Making Data Count assurance in words.
ASSURANCE = {
    "consistent_pass": "will consistently pass the target",
    "consistent_fail": "will consistently fail the target",
    "inconsistent": "will hit and miss the target",
}


def summary_columns(rules: str, decimals: int = 1) -> list[Column]:
    """The Team charts page's "summary by group and phase" (``qi.spc(...).summary``)."""
    cols = [
        Column("group", "Group"),
        Column("phase", "Phase", "count"),
        Column("n_obs", "Months", "count"),
        Column("cl", "Centre", "number", decimals),
        Column("lcl", "Lower limit (average)", "number", decimals),
        Column("ucl", "Upper limit (average)", "number", decimals),
        Column("sigma_signals", "Months outside the limits", "count"),
    ]
    if rules == "anhoej":
        cols += [
            Column("longest_run", "Longest run", "count"),
            Column("longest_run_max", "Longest run expected at most", "count"),
            Column("n_crossings", "Crossings", "count"),
            Column("n_crossings_min", "Crossings expected at least", "count"),
            Column("runs_signal", "Unusual run or too few crossings", "yes"),
        ]
    if rules == "mdc":
        cols += [
            Column("special_cause_improvement", "Months of improvement", "count"),
            Column("special_cause_concern", "Months of concern", "count"),
            Column("variation", "Latest month", "words", words=VARIATION),
            Column("assurance", "Assurance", "words", words=ASSURANCE),
        ]
    return cols


CYCLE_COLUMNS = [
    Column("team", "Team"),
    Column("measure_name", "Measure"),
    Column("group", "Group it aims at"),
    Column("change_idea", "Change idea"),
    Column("cycle", "Cycle", "count"),
    Column("stage", "Stage"),
    Column("start", "Start", "date"),
    Column("end", "End", "date"),
    Column("learning", "What was learnt"),
    Column("lived_experience", "People with lived experience were"),
    Column("tag", "Change package tag"),
]

ACTION_COLUMNS = [
    Column("team", "Team"),
    Column("measure_name", "Measure"),
    Column("period", "Month reviewed", "month"),
    Column("raised_by", "Raised by"),
    Column("decision", "Decision"),
    Column("action", "Action"),
    Column("owner", "Owner"),
    Column("due", "Due", "date"),
    Column("done", "Done", "date"),
    Column("days_overdue", "Days overdue", "count"),
]

GAINS = {
    "sustained": "improvement sustained",
    "holding": "improvement holding",
    "at risk": "improvement at risk",
    "no improvement": "no improvement yet",
}

GAINS_COLUMNS = [
    Column("team", "Team"),
    Column("measure_name", "Measure"),
    Column("group", "Group"),
    Column("change_idea", "Change idea"),
    Column("start", "Change started", "month"),
    Column("improved_from", "Improved from", "month"),
    Column("months_held", "Months held", "count"),
    Column("concern_from", "Concern from", "month"),
    Column("status", "Status", "words", words=GAINS),
]

REVIEW_COLUMNS = [
    Column("team", "Team"),
    Column("measure_name", "Measure"),
    Column("owner", "Owner"),
    Column("sponsor", "Executive sponsor"),
    Column("review_every_months", "Review every (months)", "count"),
    Column("since", "Owner since", "date"),
    Column("last_review", "Last review", "date"),
    Column("next_review", "Next review due", "date"),
    Column("overdue", "Overdue", "yes"),
]

STATUS_COLUMNS = [
    Column("team", "Team"),
    Column("period", "Month", "month"),
    Column("status", "Status"),
    Column("due", "Due by", "date"),
    Column("first_uploaded_at", "First arrived", "date"),
    Column("days_late", "Days late", "count"),
    Column("versions", "Versions", "count"),
    Column("measures", "Measures sent", "count"),
]

def gap_columns(decimals: int = 1) -> list[Column]:
    """The equality gaps (:data:`qi.screens.equality.LATEST_COLUMNS`) in words: the
    group's and the reference's rate, their ratio and difference with 95% intervals."""
    return [
        Column("group", "Group"),
        Column("period", "Month", "month"),
        Column("value", "Rate", "number", decimals),
        Column("ref_value", "Reference rate", "number", decimals),
        Column("ratio", "Ratio to reference", "number", 2),
        Column("ratio_lower", "Ratio, lower 95%", "number", 2),
        Column("ratio_upper", "Ratio, upper 95%", "number", 2),
        Column("p_value", "p value", "number", 3),
        Column("difference", "Difference", "number", decimals),
        Column("difference_lower", "Difference, lower 95%", "number", decimals),
        Column("difference_upper", "Difference, upper 95%", "number", decimals),
        Column("note", "Note"),
    ]


UPLOAD_COLUMNS = [
    Column("id", "Upload"),
    Column("file_name", "File"),
    Column("uploaded_at", "Uploaded", "time"),
    Column("uploaded_by", "By"),
    Column("row_count", "Rows", "count"),
    Column("note", "Note"),
    Column("rolled_back_at", "Rolled back", "time"),
    Column("rolled_back_by", "Rolled back by"),
]


def with_measure_names(frame: pd.DataFrame, measures: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``measure_name`` beside its ``measure`` id (a catalogue frame)."""
    if "measure" not in frame:
        return frame
    names = dict(zip(measures["id"], measures["name"], strict=True))
    return frame.assign(measure_name=frame["measure"].map(names).fillna(frame["measure"]))
