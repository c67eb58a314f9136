"""Argument checks shared by the equality functions (:mod:`qi.equality`).

Each raises a ValueError that names the function called (``qi.equality.<fn>``) and
the argument or column at fault, so a user sees what to change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd


def check_multiplier(multiplier: object, fn: str) -> float:
    """The multiplier as a float; a ValueError naming ``qi.equality.<fn>`` otherwise."""
    if (
        isinstance(multiplier, bool)
        or not isinstance(multiplier, Real)
        or not np.isfinite(float(multiplier))
        or float(multiplier) <= 0
    ):
        raise ValueError(
            f"The 'multiplier' argument of qi.equality.{fn} must be a positive number; "
            f"got {multiplier!r}."
        )
    return float(multiplier)


def check_conf(conf: object, fn: str, allow_one: bool = False) -> float:
    """The confidence level as a float, in (0, 1) (or (0, 1] with ``allow_one``)."""
    ok = isinstance(conf, Real) and not isinstance(conf, bool) and conf > 0
    ok = ok and (conf <= 1 if allow_one else conf < 1)
    if not ok:
        between = "in (0, 1]" if allow_one else "strictly between 0 and 1"
        raise ValueError(
            f"The 'conf' argument of qi.equality.{fn} must be a level {between} "
            f"(0.95, not 95); got {conf!r}."
        )
    return float(conf)


def as_float(values: Any, name: str, fn: str) -> np.ndarray:
    """An array-like argument as a one-dimensional float array."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"qi.equality.{fn}: '{name}' must be numeric ({err}).") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"qi.equality.{fn}: '{name}' must be one-dimensional; got {arr.ndim}-d.")
    return arr


def check_counts(
    x: np.ndarray, n: np.ndarray, fn: str, xname: str, nname: str, proportion: bool
) -> None:
    """Counts x and n of the same length, finite and not negative (x ≤ n for a proportion)."""
    if x.shape != n.shape:
        raise ValueError(
            f"qi.equality.{fn}: '{xname}' and '{nname}' must have the same length; "
            f"got {x.size} and {n.size}."
        )
    for arr, name in ((x, xname), (n, nname)):
        bad = np.flatnonzero(arr < 0)
        if bad.size:
            raise ValueError(
                f"qi.equality.{fn}: '{name}' must not be negative; row {bad[0]} is {arr[bad[0]]!r}."
            )
        bad = np.flatnonzero(np.isinf(arr))
        if bad.size:
            raise ValueError(f"qi.equality.{fn}: '{name}' must be finite; row {bad[0]} is not.")
    if proportion:
        bad = np.flatnonzero(x > n)
        if bad.size:
            i = bad[0]
            raise ValueError(
                f"qi.equality.{fn}: '{xname}' must not exceed '{nname}' for a proportion; "
                f"row {i} has {x[i]!r} of {n[i]!r}."
            )


def check_columns(data: object, fn: str, **cols: Any) -> list[str]:
    """The column names the keyword arguments give (None skipped), each checked to be in data."""
    if not isinstance(data, pd.DataFrame):
        raise ValueError(
            f"qi.equality.{fn} needs a pandas DataFrame as data; got {type(data).__name__}."
        )
    names = []
    for arg, col in cols.items():
        if col is None:
            continue
        for c in [col] if isinstance(col, str) or not isinstance(col, Iterable) else col:
            if c not in data.columns:
                raise ValueError(
                    f"The '{arg}' argument of qi.equality.{fn} names column {c!r}, which is not "
                    f"in data (columns: {list(data.columns)})."
                )
            names.append(c)
    return names


def numeric_column(data: pd.DataFrame, col: str, arg: str, fn: str) -> pd.Series:
    """A column as non-negative floats (text that reads as a number is converted)."""
    s = data[col]
    if not (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)):
        converted = pd.to_numeric(s, errors="coerce")
        bad = converted.isna() & s.notna()
        if bad.any():
            i = bad.to_numpy().nonzero()[0][0]
            raise ValueError(
                f"qi.equality.{fn}: column {col!r} ('{arg}') must be numeric; "
                f"row {data.index[i]!r} holds {s.iloc[i]!r}."
            )
        s = converted
    s = s.astype(float)
    neg = s < 0
    if neg.any():
        i = neg.to_numpy().nonzero()[0][0]
        raise ValueError(
            f"qi.equality.{fn}: column {col!r} ('{arg}') must not be negative; "
            f"row {data.index[i]!r} holds {s.iloc[i]!r}."
        )
    return s


def by_list(by: str | Sequence[str] | None) -> list[str]:
    """A ``by`` argument as a list of column names."""
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)
