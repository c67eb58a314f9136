# ruff: noqa: E501  (rows of data read best one per line)
"""qi.board, qi.submissions and qi.figures on small frames with answers worked by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from qi import board
from qi.figures import explain_signals, spc_figure, text
from qi.submissions import submission_status

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


def test_submission_status_on_time_late_missing_and_corrected():
    stamp = pd.Timestamp
    slices = pd.DataFrame(
        {
            "team": ["A", "A", "A", "A", "B"],
            "measure": ["m"] * 5,
            "period": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-02-01", "2024-03-01",
                                      "2024-01-01"]),
            "upload_id": [1, 2, 5, 3, 4],
            "uploaded_at": [stamp("2024-02-15 23:00"), stamp("2024-03-10"), stamp("2024-05-01"),
                            stamp("2024-04-20"), stamp("2024-02-03")],
            "rolled_back_at": [None, None, None, None, None],
        }
    )  # fmt: skip
    status = submission_status(
        slices, ["A", "B"], start="2024-01", end="2024-04", today=dt.date(2024, 5, 20)
    ).set_index(["team", "period"])
    get = lambda t, p: status.loc[(t, pd.Timestamp(p))]  # noqa: E731
    assert get("A", "2024-01-01")["status"] == "on time"  # due 15 Feb, arrived that day
    assert get("A", "2024-02-01")["corrected"] and get("A", "2024-02-01")["versions"] == 2
    assert get("A", "2024-03-01")["status"] == "late" and get("A", "2024-03-01")["days_late"] == 5
    assert get("B", "2024-02-01")["status"] == "missing"
    assert get("B", "2024-02-01")["days_late"] == (dt.date(2024, 5, 20) - dt.date(2024, 3, 15)).days
    assert get("A", "2024-04-01")["status"] == "missing"  # due 15 May; today is 20 May
    earlier = submission_status(slices, ["A"], start="2024-04", end="2024-04", today=dt.date(2024, 5, 10))
    assert earlier["status"].tolist() == ["not due yet"]


def test_user_text_in_figures_is_escaped_and_signals_have_words_and_shapes():
    assert text("<script>x</script>") == "&lt;script&gt;x&lt;/script&gt;"
    points = pd.DataFrame(
        {
            "x": pd.date_range("2024-01-01", periods=3, freq="MS"), "y": [1.0, 5.0, 9.0],
            "n": [10.0] * 3, "phase": [1] * 3, "cl": [5.0] * 3, "lcl": [2.0] * 3,
            "ucl": [8.0] * 3, "target": [np.nan] * 3, "sigma_signal": [True, False, True],
        }
    )  # fmt: skip
    words = explain_signals(points, "decrease")
    assert words["signal_kind"].tolist() == ["improvement", "", "concern"]
    assert words["signal_text"].iloc[0] == "Outside the control limits (3 sigma)"
    cycles = pd.DataFrame({"change_idea": ["<b>bold</b>"], "cycle": [1], "stage": ["do"],
                           "start": [pd.Timestamp("2024-02-01")], "end": [pd.NaT]})  # fmt: skip
    fig = spc_figure(points, improvement="decrease", cycles=cycles)
    labels = [a.text for a in fig.layout.annotations]
    assert "PDSA 1: &lt;b&gt;bold&lt;/b&gt;" in labels
    symbols = {t.name: t.marker.symbol for t in fig.data if t.mode == "markers"}
    assert symbols == {"Special cause: improvement": "diamond", "Special cause: concern": "square"}
