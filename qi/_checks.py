"""Argument checks shared by the equality functions."""

from __future__ import annotations

from numbers import Real

import numpy as np


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
