# ruff: noqa: E501  (test data reads best on one line)
"""Regression tests for problems found in review: each once crashed, double-counted or
gave a wrong answer."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from qi import board
from qi.accountability import holding_gains
from qi.cli import main
from qi.figures import spc_figure
from qi.store import StoreError
from qi.store.store import as_utc
from qi.submissions import submission_status
from tests.conftest import HEADER, MEASURES, assert_unchanged, snapshot


def test_a_repeated_column_is_a_problem_not_a_crash(store):
    before = snapshot(store)
    result = store.import_file((HEADER.strip() + ",team\n" + "Willow Ward,restraint,2024-03,Black,1,100,x\n").encode(), "dup.csv")
    assert [(p.row, p.column) for p in result.problems] == [(1, "team")]
    assert_unchanged(store, before)


def test_infinite_numbers_are_not_numbers(store):
    body = "Willow Ward,wait_days,2024-03,Black,inf,10\nWillow Ward,restraint,2024-03,Black,1,1e400\n"
    problems = store.import_file((HEADER + body).encode(), "inf.csv").problems
    assert {(p.row, p.column) for p in problems} == {(2, "numerator"), (3, "denominator")}


def test_an_unbalanced_quote_is_reported_not_raised(store):
    rows = "".join(f"Willow Ward,restraint,2024-{m:02d},White,1,100\n" for m in range(1, 13))
    big = HEADER + '"Willow Ward,restraint,2023-12,Black,1,100\n' + rows * 1200
    problems = store.import_file(big.encode(), "quote.csv").problems
    assert len(problems) == 1 and "unbalanced quote" in problems[0].message
    assert problems[0].row == 2


def test_a_broad_group_and_its_categories_in_one_month_are_refused(store):
    body = "Willow Ward,restraint,2024-03,White,2,50\nWillow Ward,restraint,2024-03,A,2,50\n"
    problems = store.import_file((HEADER + body).encode(), "mixed.csv").problems
    assert [(p.row, p.column) for p in problems] == [(3, "group")]


def test_upload_time_not_import_order_decides_what_is_shown(store):
    newer = HEADER + "Willow Ward,restraint,2024-03,Black,10,100\n"
    older = HEADER + "Willow Ward,restraint,2024-03,Black,99,100\n"
    store.import_file(newer.encode(), "newer.csv", uploaded_at="2024-04-20T09:00:00")
    store.import_file(older.encode(), "older.csv", uploaded_at="2024-04-10T09:00:00")
    assert store.observations()["numerator"].tolist() == [10]
    assert store.observations(as_of="2024-04-15")["numerator"].tolist() == [99]


def test_instants_are_iso_8601_only():
    assert as_utc("2026-01-31") == dt.datetime(2026, 1, 31, 23, 59, 59, 999999)
    assert as_utc("2026-11-25T10:15:30Z") == dt.datetime(2026, 11, 25, 10, 15, 30)
    for ambiguous in ("01/02/2026", "next week"):
        try:
            as_utc(ambiguous)
        except ValueError as exc:
            assert "is not a date and time" in str(exc)
        else:  # pragma: no cover
            raise AssertionError(ambiguous)


def test_command_line_errors_are_one_line_not_a_traceback(store, tmp_path, capsys):
    url = store.engine.url.render_as_string(False)
    assert main(["--db", url, "export", "--output", str(tmp_path / "x.json")]) == 1
    assert "must end in .csv or .xlsx" in capsys.readouterr().err
    assert main(["--db", url, "export", "--output", str(tmp_path / "no" / "x.csv")]) == 1
    assert capsys.readouterr().err.startswith("qi: ")
    assert main(["--db", url, "groups", str(tmp_path / "missing.csv")]) == 1
    assert "cannot open the file" in capsys.readouterr().out


def _obs(rows):
    frame = pd.DataFrame(rows, columns=["collaborative", "ics", "trust", "team", "measure",
                                        "period", "group", "broad_group", "numerator",
                                        "denominator"])  # fmt: skip
    frame["period"] = pd.to_datetime(frame["period"])
    return frame


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


def test_a_month_sent_as_one_file_per_measure_is_not_a_correction():
    slices = pd.DataFrame({
        "team": ["A", "A"], "measure": ["m1", "m2"],
        "period": pd.to_datetime(["2025-01-01", "2025-01-01"]), "upload_id": [1, 2],
        "uploaded_at": [pd.Timestamp("2025-02-03"), pd.Timestamp("2025-02-20")],
        "rolled_back_at": [None, None],
    })  # fmt: skip
    status = submission_status(slices, ["A"], start="2025-01", end="2025-01",
                               today=dt.date(2025, 3, 1)).iloc[0]  # fmt: skip
    assert not status["corrected"] and status["versions"] == 1
    assert status["status"] == "late"  # the month is complete only when m2 arrived


def test_a_fade_after_an_early_dip_is_still_at_risk():
    rng = np.random.default_rng(5)
    months = pd.date_range("2022-01-01", periods=60, freq="MS")
    # 24 months at 20 per 1,000, 2 worse months, 14 improved at 8, then back at 20
    rate = np.r_[np.full(24, 20.0), np.full(2, 30.0), np.full(14, 8.0), np.full(20, 20.0)]
    n = np.full(60, 2000.0)
    series = pd.DataFrame({
        "unit": "Ward", "level": "team", "measure": "restraint", "group": "All",
        "period": months, "numerator": rng.poisson(rate * n / 1000), "denominator": n,
        "chart": "u", "multiplier": 1000.0, "improvement": "decrease",
    })  # fmt: skip
    changes = pd.DataFrame({"team": ["Ward"], "measure": ["restraint"], "group": [None],
                            "change_idea": ["x"], "start": [months[24]]})  # fmt: skip
    gains = holding_gains(series, changes).iloc[0]
    assert gains["improved"] and gains["status"] == "at risk"
    assert gains["concern_from"] > gains["improved_from"]
    held = holding_gains(series.assign(numerator=rng.poisson(np.r_[np.full(24, 20.0), np.full(36, 8.0)] * 2)), changes).iloc[0]
    assert held["status"] == "sustained"


def test_a_measure_unit_with_markup_is_escaped_in_the_legend():
    points = pd.DataFrame({
        "x": pd.date_range("2024-01-01", periods=3, freq="MS"), "y": [1.0, 2.0, 3.0],
        "n": [np.nan] * 3, "phase": [1] * 3, "cl": [2.0] * 3, "lcl": [0.0] * 3, "ucl": [4.0] * 3,
        "target": [np.nan] * 3, "sigma_signal": [False] * 3,
    })  # fmt: skip
    fig = spc_figure(points, y_title="<b>days</b>")
    assert fig.data[0].name == "&lt;b&gt;days&lt;/b&gt;"


def test_a_missing_label_in_the_group_mapping_is_refused_not_stored_as_nan(store):
    """Left open by the first review: pandas' NaN became the text "nan"."""
    before = store.group_aliases()
    table = pd.DataFrame({"alias": ["Local spelling"], "code": [np.nan], "label": [np.nan],
                          "broad_group": ["Asian"]})  # fmt: skip
    with pytest.raises(StoreError, match=r"row 2: alias .*alias, label and broad_group are needed"):
        store.set_group_aliases(table)
    pd.testing.assert_frame_equal(store.group_aliases(), before)
    table["label"] = "Asian or Asian British - Any other Asian background"
    store.set_group_aliases(table)
    added = store.group_aliases().set_index("alias").loc["local spelling"]
    assert pd.isna(added["code"]) and added["broad_group"] == "Asian"
