"""Periods of a measure's frequency: months, financial quarters, financial years.

A measure is counted per month (the default), per financial quarter (Q1 is April to
June) or per financial year (April to March), its catalogue's ``frequency``. A period
is stored and charted as its first day: 2024-04-01 is the month April 2024, the
quarter 2024/25 Q1 or the financial year 2024/25, by the measure's frequency.

This module is the arithmetic only (pure pandas, importable by the store and the
screens alike); reading what people write in a file is
:func:`qi.store.validation.parse_periods`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

#: The frequencies a measure may have.
FREQUENCIES = ("month", "quarter", "year")
#: Months in a period of each frequency.
MONTHS = {"month": 1, "quarter": 3, "year": 12}
#: What a period of each frequency is called in words.
NOUNS = {"month": "month", "quarter": "quarter", "year": "financial year"}
#: How a measure of each frequency is described ("a quarterly measure").
ADJECTIVES = {"month": "monthly", "quarter": "quarterly", "year": "annual (financial year)"}
#: Spellings accepted in the catalogue's ``frequency`` column.
SPELLINGS = {
    "": "month", "month": "month", "monthly": "month", "m": "month",
    "quarter": "quarter", "quarterly": "quarter", "q": "quarter", "financial quarter": "quarter",
    "year": "year", "annual": "year", "yearly": "year", "financial year": "year", "fy": "year",
}  # fmt: skip
#: The first month of the financial year.
FY_START = 4


def frequency_of(text: object) -> str | None:
    """The frequency a catalogue cell names (``"quarterly"`` → ``"quarter"``), or None."""
    key = " ".join(str(text or "").strip().lower().replace("_", " ").split())
    return SPELLINGS.get(key)


def check(frequency: str) -> str:
    if frequency not in FREQUENCIES:
        raise ValueError(f"frequency must be one of {', '.join(FREQUENCIES)}; got {frequency!r}")
    return frequency


def _month_index(when: pd.Series) -> np.ndarray:
    """Months since year 0 (January = 0) of datetimes."""
    return when.dt.year.to_numpy(dtype="int64") * 12 + when.dt.month.to_numpy(dtype="int64") - 1


def _from_month_index(index: np.ndarray) -> pd.DatetimeIndex:
    return pd.to_datetime(
        {"year": index // 12, "month": index % 12 + 1, "day": np.ones_like(index)}
    ).pipe(pd.DatetimeIndex)


def starts(values, frequency: str = "month") -> pd.Series:
    """The first day of the period (of ``frequency``) holding each date of ``values``."""
    check(frequency)
    when = pd.Series(pd.to_datetime(pd.Series(values)).to_numpy(), dtype="datetime64[ns]")
    index = values.index if isinstance(values, pd.Series) else None
    out = pd.Series(pd.NaT, index=when.index, dtype="datetime64[ns]")
    ok = when.notna().to_numpy()
    if ok.any():
        months = _month_index(when[ok])
        size = MONTHS[frequency]
        offset = 0 if size == 1 else FY_START - 1
        first = (months - offset) // size * size + offset
        out[ok] = _from_month_index(first).to_numpy()
    if index is not None:
        out.index = index
    return out


def start(value, frequency: str = "month") -> pd.Timestamp:
    """The first day of the period (of ``frequency``) holding the date ``value``."""
    t = pd.Timestamp(value)
    size = MONTHS[check(frequency)]
    offset = 0 if size == 1 else FY_START - 1
    first = (t.year * 12 + t.month - 1 - offset) // size * size + offset
    return pd.Timestamp(first // 12, first % 12 + 1, 1)


def is_start(values, frequency: str = "month") -> pd.Series:
    """Whether each date is the first day of a period of ``frequency``."""
    when = pd.Series(pd.to_datetime(pd.Series(values)).to_numpy())
    return when.eq(starts(when, frequency)) & when.notna()


def next_start(value, frequency: str = "month") -> pd.Timestamp:
    """The first day of the period after the one holding ``value``."""
    return start(value, frequency) + pd.DateOffset(months=MONTHS[check(frequency)])


def end(value, frequency: str = "month") -> pd.Timestamp:
    """The last day of the period holding ``value``."""
    return next_start(value, frequency) - pd.Timedelta(days=1)


def ends_period(value, frequency: str = "month") -> bool:
    """Whether the date ``value`` is the last day of a period of ``frequency``."""
    following = pd.Timestamp(value) + pd.Timedelta(days=1)
    return start(following, frequency) == following


def is_end(values, frequency: str = "month") -> pd.Series:
    """Whether each date is the last day of a period of ``frequency``."""
    when = pd.Series(pd.to_datetime(pd.Series(values)).to_numpy())
    following = when + pd.Timedelta(days=1)
    return is_start(following, frequency) & when.notna()


def period_range(first, last, frequency: str = "month") -> pd.DatetimeIndex:
    """The first days of every period from the one holding ``first`` to the one holding
    ``last`` (empty when ``last`` is earlier)."""
    a, b = start(first, frequency), start(last, frequency)
    if b < a:
        return pd.DatetimeIndex([])
    return pd.date_range(a, b, freq=pd.DateOffset(months=MONTHS[frequency]))


def label(value, frequency: str = "month") -> str:
    """A period as people write it: ``2024-04``, ``2024/25 Q1`` or ``2024/25``."""
    return labels([value], frequency)[0]


def labels(values: Iterable, frequency: str = "month") -> list[str]:
    """:func:`label` of each date (the period holding it); empty text for a missing one."""
    check(frequency)
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    codes, uniques = pd.factorize(pd.to_datetime(series))  # a file has few distinct periods
    written = [_label(t, frequency) for t in starts(pd.Series(uniques), frequency)]
    return list(np.asarray([*written, ""], dtype=object)[codes])


def _label(t: pd.Timestamp, frequency: str) -> str:
    """One period's first day as people write the period."""
    if frequency == "month":
        return f"{t.year:04d}-{t.month:02d}"
    fy = t.year if t.month >= FY_START else t.year - 1
    text = f"{fy:04d}/{(fy + 1) % 100:02d}"
    return text + (f" Q{(t.month - FY_START) % 12 // 3 + 1}" if frequency == "quarter" else "")


def financial_year(year: int, quarter: int | None = None) -> pd.Timestamp:
    """The first day of the financial year starting in April ``year`` (or of its quarter
    ``quarter``, 1 to 4)."""
    months = 0 if quarter is None else (quarter - 1) * 3
    return pd.Timestamp(year, FY_START, 1) + pd.DateOffset(months=months)
