# ruff: noqa: E501  (rows of data read best one per line)
"""qi.series and qi.measures: from observations to series, and the one recipe from a
measure's series to its chart, on small frames with answers worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import qi
from qi.measures import Measure, chart_measure, chart_rows
from qi.series import phases_from, series_frame, valued

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
    s = series_frame(OBS, MEASURES).set_index(["unit", "group"])
    assert s.loc[("Ward A", "Black"), ["numerator", "denominator"]].tolist() == [3, 150]
    assert s.loc[("Ward A", "All"), ["numerator", "denominator"]].tolist() == [6, 450]


def test_a_roll_up_sums_counts_and_never_averages_rates():
    trust = series_frame(OBS, MEASURES, level="trust").set_index(["unit", "group"])
    # T1 Black: (2 + 1 + 4) events over (100 + 50 + 200) bed days
    assert trust.loc[("T1", "Black"), ["numerator", "denominator"]].tolist() == [7, 350]
    assert trust.loc[("T1", "All"), ["numerator", "denominator"]].tolist() == [10, 1050]
    whole = series_frame(OBS, MEASURES, level="collaborative").set_index("group")
    assert whole.loc["All", ["numerator", "denominator"]].tolist() == [15, 1150]
    with pytest.raises(ValueError, match="level must be one of"):
        series_frame(OBS, MEASURES, level="ward")


def test_phases_start_at_the_chosen_months():
    periods = pd.Series(pd.date_range("2024-01-01", periods=6, freq="MS"))
    phases = phases_from(periods, pd.to_datetime(["2024-03-01", "2024-05-01"]))
    assert phases.tolist() == [1, 1, 2, 2, 3, 3]
    assert phases_from(periods, []).tolist() == [1] * 6


def test_all_is_added_per_team_even_when_another_team_uploads_all():
    obs = _obs([
        ("C", "I", "Hill", "Willow", "restraint", "2024-01-01", "All", "All", 3, 100),
        ("C", "I", "Hill", "Oak", "restraint", "2024-01-01", "White", "White", 2, 50),
        ("C", "I", "Hill", "Oak", "restraint", "2024-01-01", "Black", "Black", 1, 20),
    ])  # fmt: skip
    teams = series_frame(obs, MEASURES.astype({"multiplier": float})).set_index(["unit", "group"])
    assert teams.loc[("Oak", "All"), ["numerator", "denominator"]].tolist() == [3, 70]
    trust = series_frame(obs, MEASURES.astype({"multiplier": float}), level="trust")
    assert trust.set_index("group").loc["All", ["numerator", "denominator"]].tolist() == [6, 170]


def test_a_month_without_a_denominator_has_no_value_for_that_measure_only():
    """The one zero-denominator rule: a measure charted with denominators loses the
    months whose denominator is 0 or missing; a measure without any keeps every row."""
    rows = pd.DataFrame({
        "measure": ["rate"] * 3 + ["mean"] * 2,
        "period": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"] * 1 + ["2024-01-01", "2024-02-01"]),
        "numerator": [1.0, 0.0, 2.0, 5.0, 6.0],
        "denominator": [10.0, 0.0, np.nan, np.nan, np.nan],
    })  # fmt: skip
    kept = valued(rows)
    assert kept.index.tolist() == [0, 3, 4]


def test_the_recipe_charts_many_measures_as_each_one_alone():
    """chart_rows over several measures (one qi.spc call per chart type and direction)
    gives each series what chart_measure gives it alone, with the measure's chart type,
    multiplier, direction and target."""
    rng = np.random.default_rng(5)
    months = pd.date_range("2023-01-01", periods=20, freq="MS")
    catalogue = pd.DataFrame({
        "id": ["restraint", "detained", "wait"], "name": ["R", "D", "W"], "unit": ["", "%", "days"],
        "chart": ["u", "p", "i"], "multiplier": [1000.0, 100.0, 1.0],
        "improvement": ["decrease", "decrease", "decrease"], "target": [np.nan, 40.0, 14.0],
    })  # fmt: skip
    frames = []
    for m in catalogue["id"]:
        for g in ("Black", "White"):
            n = rng.integers(50, 100, len(months)).astype(float)
            y = rng.binomial(n.astype(int), 0.3).astype(float)
            frames.append(pd.DataFrame({"measure": m, "group": g, "period": months,
                                        "numerator": y, "denominator": n}))  # fmt: skip
    rows = pd.concat(frames, ignore_index=True).join(
        catalogue.set_index("id")[["chart", "multiplier", "improvement", "target"]], on="measure"
    )
    together = chart_rows(rows, by=["measure", "group"], rules="mdc")
    assert len(together.results) == 3
    icons = together.icons.set_index(["measure", "group"])
    for m in catalogue["id"]:
        alone = chart_measure(Measure.from_catalogue(catalogue, m), rows[rows["measure"] == m])
        expected = alone.icons.set_index("group")
        got = icons.loc[m]
        pd.testing.assert_series_equal(got["y"], expected["y"])
        assert got["variation"].tolist() == expected["variation"].tolist()
        assert got["assurance"].tolist() == expected["assurance"].tolist()
    # no target, no assurance; a target, an assurance
    assert icons.loc["restraint", "assurance"].isna().all()
    assert icons.loc["detained", "assurance"].notna().all()
    p = together.points
    assert p.loc[p["measure"] == "detained", "y"].between(0, 100).all()  # × 100


def test_a_measure_reads_its_catalogue_row():
    row = pd.Series({"id": "x", "name": "X", "unit": "%", "chart": "pp", "multiplier": 100.0,
                     "improvement": "increase", "target": np.nan, "groups": ("Black", "White")})  # fmt: skip
    m = Measure.from_row(row)
    assert (m.target, m.proportion, m.comparison, m.groups) == (
        None,
        True,
        "risk",
        ("Black", "White"),
    )
    assert not Measure.from_row({**row.to_dict(), "chart": "u"}).proportion
    with pytest.raises(ValueError, match="unknown measure"):
        Measure.from_catalogue(pd.DataFrame([row]), "nope")
    assert qi.CHART_TYPES[m.chart].proportion
