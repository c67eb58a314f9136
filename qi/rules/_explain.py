"""Helpers the rule sets' ``explain`` functions share (private).

Every rule set says what its signals mean: per point a ``signal_kind`` ("",
"improvement", "concern", "neutral") and a ``signal_text`` (the rule that fired,
in words). These two helpers are the parts they have in common.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The columns every ``explain`` returns.


def kind_by_side(points: pd.DataFrame, fired: np.ndarray, improvement: str | None) -> np.ndarray:
    """The kind of each fired point from its side of the centre line.

    Without a direction (``improvement`` None or "neutral") a fired point is
    "neutral"; with one, a point on the better side of the centre line is an
    "improvement" and any other a "concern". Points that did not fire get "".
    """
    direction = {"increase": 1, "decrease": -1}.get(improvement or "", 0)
    if direction == 0:
        return np.where(fired, "neutral", "")
    above = (points["y"] > points["cl"]).to_numpy()
    good = above if direction > 0 else ~above
    return np.where(fired, np.where(good, "improvement", "concern"), "")


def signals_frame(points: pd.DataFrame, kind: np.ndarray, words: np.ndarray) -> pd.DataFrame:
    """``signal_kind`` and ``signal_text`` on the index of ``points``."""
    return pd.DataFrame({"signal_kind": kind, "signal_text": words}, index=points.index)
