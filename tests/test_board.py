# ruff: noqa: E501  (rows of data read best one per line)
"""qi.board (the summary matrix) on small frames with answers worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from qi import board
from qi.series import series_frame

MEASURES = pd.DataFrame(
    {
        "id": ["restraint"], "name": ["Restraint"], "chart": ["u"], "multiplier": [1000.0],
        "improvement": ["decrease"], "target": [np.nan],
    }
)  # fmt: skip


def _obs(rows) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows,
        columns=["collaborative", "ics", "trust", "team", "measure", "period", "group",
                 "broad_group", "numerator", "denominator"],
    )  # fmt: skip
    frame["period"] = pd.to_datetime(frame["period"])
    return frame


OBS = _obs(
    [
        ("C", "I1", "T1", "Ward A", "restraint", "2024-01-01", "Black or Black British - African", "Black", 2, 100),
        ("C", "I1", "T1", "Ward A", "restraint", "2024-01-01", "Black or Black British - Caribbean", "Black", 1, 50),
        ("C", "I1", "T1", "Ward A", "restraint", "2024-01-01", "White", "White", 3, 300),
        ("C", "I1", "T1", "Ward B", "restraint", "2024-01-01", "Black", "Black", 4, 200),
        ("C", "I1", "T1", "Ward B", "restraint", "2024-01-01", "White", "White", 0, 400),
        ("C", "I2", "T2", "Ward C", "restraint", "2024-01-01", "Black", "Black", 5, 100),
    ]
)  # fmt: skip


def test_the_matrix_has_one_row_per_series_with_latest_value_and_icons():
    rng = np.random.default_rng(3)
    months = pd.date_range("2023-01-01", periods=24, freq="MS")
    rows = []
    for team in ("Ward A", "Ward B"):
        for g in ("Black", "White"):
            for i, m in enumerate(months):
                events = (
                    rng.poisson(8) if not (team == "Ward A" and g == "Black" and i >= 12) else 0
                )
                rows.append(("C", "I", "T", team, "restraint", m, g, g, events, 1000))
    obs = _obs(rows)
    table = board.matrix(series_frame(obs, MEASURES))
    assert list(table.columns) == list(board.MATRIX_COLUMNS)
    assert len(table) == 2 * 3  # two teams × (Black, White, All)
    a_black = table[(table.unit == "Ward A") & (table.group == "Black")].iloc[0]
    assert a_black["value"] == 0 and a_black["period"] == months[-1]
    assert a_black["variation"] == "special_cause_improvement"  # restraint fell to zero
    assert a_black["variation_icon"] == "improvement_low"
    assert a_black["assurance"] is None  # no target, no assurance
    assert len(a_black["sparkline"]) == 24
