# ruff: noqa: E501  (rows of data read best one per line)
"""qi.board on small frames with answers worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qi import board

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


def test_categories_sum_into_the_measure_group_and_all_is_added():
    s = board.series_frame(OBS, MEASURES).set_index(["unit", "group"])
    assert s.loc[("Ward A", "Black"), ["numerator", "denominator"]].tolist() == [3, 150]
    assert s.loc[("Ward A", "All"), ["numerator", "denominator"]].tolist() == [6, 450]


def test_a_roll_up_sums_counts_and_never_averages_rates():
    trust = board.series_frame(OBS, MEASURES, level="trust").set_index(["unit", "group"])
    # T1 Black: (2 + 1 + 4) events over (100 + 50 + 200) bed days
    assert trust.loc[("T1", "Black"), ["numerator", "denominator"]].tolist() == [7, 350]
    assert trust.loc[("T1", "All"), ["numerator", "denominator"]].tolist() == [10, 1050]
    whole = board.series_frame(OBS, MEASURES, level="collaborative").set_index("group")
    assert whole.loc["All", ["numerator", "denominator"]].tolist() == [15, 1150]
    with pytest.raises(ValueError, match="level must be one of"):
        board.series_frame(OBS, MEASURES, level="ward")


def test_the_matrix_has_one_row_per_series_with_latest_value_and_icons():
    rng = np.random.default_rng(3)
    months = pd.date_range("2023-01-01", periods=24, freq="MS")
    rows = []
    for team in ("Ward A", "Ward B"):
        for g in ("Black", "White"):
            for i, m in enumerate(months):
                events = rng.poisson(8) if not (team == "Ward A" and g == "Black" and i >= 12) else 0
                rows.append(("C", "I", "T", team, "restraint", m, g, g, events, 1000))
    obs = _obs(rows)
    table = board.matrix(board.series_frame(obs, MEASURES))
    assert list(table.columns) == list(board.MATRIX_COLUMNS)
    assert len(table) == 2 * 3  # two teams × (Black, White, All)
    a_black = table[(table.unit == "Ward A") & (table.group == "Black")].iloc[0]
    assert a_black["value"] == 0 and a_black["period"] == months[-1]
    assert a_black["variation"] == "special_cause_improvement"  # restraint fell to zero
    assert a_black["variation_icon"] == "improvement_low"
    assert a_black["assurance"] is None  # no target, no assurance
    assert len(a_black["sparkline"]) == 24


def test_phases_start_at_the_chosen_months():
    periods = pd.Series(pd.date_range("2024-01-01", periods=6, freq="MS"))
    phases = board.phases_from(periods, pd.to_datetime(["2024-03-01", "2024-05-01"]))
    assert phases.tolist() == [1, 1, 2, 2, 3, 3]
    assert board.phases_from(periods, []).tolist() == [1] * 6


def test_all_is_added_per_team_even_when_another_team_uploads_all():
    obs = _obs([
        ("C", "I", "Hill", "Willow", "restraint", "2024-01-01", "All", "All", 3, 100),
        ("C", "I", "Hill", "Oak", "restraint", "2024-01-01", "White", "White", 2, 50),
        ("C", "I", "Hill", "Oak", "restraint", "2024-01-01", "Black", "Black", 1, 20),
    ])  # fmt: skip
    teams = board.series_frame(obs, MEASURES.astype({"multiplier": float})).set_index(["unit", "group"])
    assert teams.loc[("Oak", "All"), ["numerator", "denominator"]].tolist() == [3, 70]
    trust = board.series_frame(obs, MEASURES.astype({"multiplier": float}), level="trust")
    assert trust.set_index("group").loc["All", ["numerator", "denominator"]].tolist() == [6, 170]
