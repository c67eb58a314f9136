"""IHI run chart rules and Western Electric rules on hand-worked series.

Each series is built from the published definition of the rule, with a centre
line given by hand so that every zone is known in advance.
"""

from __future__ import annotations

import pandas as pd
import pytest

import qi

# A C chart with a known centre of 16 has sigma = sqrt(16) = 4: zones at 20, 24, 28
# above and 12, 8, 4 below. 15 and 17 alternate inside 1 sigma and flag nothing.
CALM = [15, 17] * 4


def we(y: list[float]) -> list[str]:
    res = qi.spc(pd.DataFrame({"y": y}), y="y", chart="c", cl=16, rules="western_electric")
    return [str(s) for s in res.points["special_cause"]]


def flagged(labels: list[str], text: str) -> list[int]:
    return [i + 1 for i, s in enumerate(labels) if s == text]


R1 = "Beyond 3 sigma (rule 1)"
R2 = "2 of 3 beyond 2 sigma (rule 2)"
R3 = "4 of 5 beyond 1 sigma (rule 3)"
R4 = "8 on one side (rule 4)"


def test_western_electric_background_is_quiet() -> None:
    assert set(we(CALM * 3)) == {"Common Cause"}


def test_we_rule_1_one_point_beyond_3_sigma() -> None:
    # Western Electric Handbook (1956), test 1: a single point outside the 3-sigma limit.
    assert flagged(we([*CALM, 29, *CALM]), R1) == [9]
    assert flagged(we([*CALM, 28, *CALM]), R1) == []  # on the limit is inside


def test_we_rule_2_two_of_three_beyond_2_sigma() -> None:
    # test 2: two out of three successive points in zone A or beyond, on one side.
    assert flagged(we([*CALM, 25, 17, 25, *CALM]), R2) == [9, 11]
    assert flagged(we([*CALM, 25, 10, 25, *CALM]), R2) == [9, 11]  # the third can be anywhere
    assert flagged(we([*CALM, 7, 17, 7, *CALM]), R2) == [9, 11]
    assert flagged(we([*CALM, 25, 15, 17, 25, *CALM]), R2) == []  # not within three
    assert flagged(we([*CALM, 25, 17, 7, *CALM]), R2) == []  # opposite sides


def test_we_rule_3_four_of_five_beyond_1_sigma() -> None:
    # test 3: four out of five successive points in zone B or beyond, on one side.
    assert flagged(we([*CALM, 21, 21, 15, 21, 21, *CALM]), R3) == [9, 10, 12, 13]
    assert flagged(we([*CALM, 21, 21, 15, 15, 21, 21, *CALM]), R3) == []


def test_we_rule_4_eight_in_a_row_on_one_side() -> None:
    # test 4: eight successive points in zone C or beyond, on one side of the centre line.
    assert flagged(we([15, *[17] * 8, 15]), R4) == list(range(2, 10))
    assert flagged(we([15, *[17] * 7, 15]), R4) == []
    assert flagged(we([15, *[17] * 4, 16, *[17] * 4, 15]), R4) == []  # on the line breaks it


def test_we_lowest_rule_number_names_the_point() -> None:
    labels = we([*CALM, 25, 29, *CALM])
    assert labels[8:10] == [R2, R1]


def ihi(y: list[float], cl: float = 10, **kw: object) -> qi.SPCResult:
    return qi.spc(pd.DataFrame({"y": y}), y="y", chart="run", cl=cl, rules="ihi", **kw)


# zigzags that cross the centre line (10) at every point, ending or starting below it
ENDS_LOW = [11, 9] * 6
STARTS_LOW = [9, 11] * 6


def test_ihi_shift_of_six_and_points_on_the_median_are_skipped() -> None:
    # Provost & Murray (2011) / Perla et al. (2011) rule 1: six or more consecutive
    # points above (or below) the median; values on the median neither add nor break.
    y = [*ENDS_LOW, 12, 12, 12, 10, 12, 12, 12, *STARTS_LOW]
    labels = [str(s) for s in ihi(y).points["special_cause"]]
    assert flagged(labels, "Shift above CL") == [13, 14, 15, 17, 18, 19]
    assert labels[15] == "Common Cause"  # the point on the median is not part of the shift
    five = ihi([*ENDS_LOW, 12, 12, 12, 10, 12, 12, *STARTS_LOW]).points["special_cause"]
    assert flagged([str(s) for s in five], "Shift above CL") == []


def test_ihi_trend_of_five_and_like_values_count_once() -> None:
    # rule 2: five or more consecutive points all going up (or down); like values
    # are counted once, neither making nor breaking the trend.
    up = [10.5, 9.5, 10.5, 9.6, 9.7, 9.8, 9.8, 10.1, 10.2, 9.4, 10.5, 9.5]
    labels = [str(s) for s in ihi(up).points["special_cause"]]
    assert flagged(labels, "Trend (Increasing)") == [4, 5, 6, 8, 9]
    four = [10.5, 9.5, 10.5, 9.6, 9.7, 9.8, 10.1, 9.4, 10.5, 9.5]
    assert "Trend (Increasing)" not in [str(s) for s in ihi(four).points["special_cause"]]


def test_ihi_too_few_runs_from_the_table() -> None:
    # rule 3: for 20 useful observations the table expects 6 to 16 runs.
    lo, hi = qi.RULE_SETS["ihi"].defaults["runs_table"][20]
    assert (lo, hi) == (6, 16)
    y = [12, 12, 12, 12, 12, 8, 8, 8, 8, 8] * 2  # 4 runs
    s = ihi(y, rule_params={"shift": 99, "trend": 99}).summary
    assert s[["n_useful", "n_runs", "runs_lower", "runs_upper"]].iloc[0].tolist() == [20, 4, 6, 16]
    assert bool(s["runs_signal"].iloc[0])
    many = ihi([12, 8] * 10).summary  # 20 runs: too many
    assert many["n_runs"].iloc[0] == 20 and bool(many["runs_signal"].iloc[0])
    fine = ihi([12, 12, 8, 8] * 5).summary  # 10 runs
    assert not bool(fine["runs_signal"].iloc[0])


def test_ihi_astronomical_point_uses_control_limits_when_there_are_some() -> None:
    res = qi.spc(pd.DataFrame({"y": [*CALM, 40, *CALM]}), y="y", chart="c", cl=16, rules="ihi")
    assert str(res.points["special_cause"].iloc[8]) == "Astronomical point"


@pytest.mark.parametrize("rules", ["ihi", "western_electric"])
def test_classic_rules_work_per_series_and_phase(rules: str) -> None:
    df = pd.DataFrame({"team": ["A"] * 16 + ["B"] * 16, "y": [*CALM, *[17] * 8] * 2})
    df["phase"] = ([1] * 8 + [2] * 8) * 2
    res = qi.spc(df, y="y", by="team", phase="phase", chart="c", cl=16, rules=rules)
    assert len(res.summary) == 4
    assert res.summary["special_causes"].tolist()[:2] == res.summary["special_causes"].tolist()[2:]
