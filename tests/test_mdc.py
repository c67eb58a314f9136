"""Making Data Count rules on tiny hand-made series, and the board summary and icons.

The rules are those of NHS England's Making Data Count guidance as coded in
NHSRplotthedots 0.2.2 (``ptd_calculate_point_type.R``); the reference cases in
``test_reference_spc.py`` check them number by number, these check each rule alone.
"""

from __future__ import annotations

import pickle
import re

import numpy as np
import pandas as pd
import pytest

import qi

# A flat, alternating background: mean 10, no signal on its own.
FLAT = [10, 11, 9, 10.5, 9.5, 10, 11, 9, 10.5, 9.5, 10, 11, 9, 10.5, 9.5, 10, 11, 9, 10.5, 9.5]


def mdc(y: list[float], improvement: str = "increase", **kw: object) -> pd.DataFrame:
    return qi.spc(
        pd.DataFrame({"y": y}), y="y", chart="i", rules="mdc", improvement=improvement, **kw
    ).points


def flagged(points: pd.DataFrame) -> list[int]:
    """1-based positions of the points with a special cause."""
    return [i + 1 for i, s in enumerate(points["special_cause"]) if s != "Common Cause"]


def test_seven_rising_points_are_a_trend_and_six_are_not() -> None:
    seven = FLAT[:10] + [9.6, 9.7, 9.8, 9.9, 10.0, 10.1, 10.2] + FLAT[:5]
    pts = mdc(seven)
    assert flagged(pts) == list(range(10, 18))  # the 7 rising points and the step into them
    assert set(pts["special_cause"].iloc[9:17]) == {"7 Point Trend (Increasing)"}
    six = FLAT[:9] + [9.7, 9.8, 9.9, 10.0, 10.1, 10.2] + FLAT[:5]
    assert "7 Point Trend (Increasing)" not in set(mdc(six)["special_cause"])


def test_a_tie_breaks_a_trend() -> None:
    tie = FLAT[:10] + [10.5, 10.4, 10.3, 10.3, 10.2, 10.1, 10.0, 9.9] + FLAT[:5]
    assert not any("Trend" in s for s in mdc(tie, "decrease")["special_cause"])


def test_seven_points_on_one_side_are_a_shift_and_a_point_on_the_mean_breaks_it() -> None:
    y = [12, 8] * 5 + [12.5] * 7 + [8, 12] * 5
    pts = mdc(y)
    assert flagged(pts) == list(range(11, 18))
    assert set(pts["special_cause"].iloc[10:17]) == {"7 Points Above CL"}
    assert set(pts["point_type"].iloc[10:17]) == {"special_cause_improvement"}
    # with a known centre line of 10, a point exactly on it breaks the run
    broken = [12, 8] * 5 + [12.5] * 3 + [10] + [12.5] * 3 + [8, 12] * 5
    assert mdc(broken, "decrease", cl=10)["special_cause"].eq("Common Cause").all()
    assert flagged(mdc([12, 8] * 5 + [12.5] * 7 + [8, 12] * 5, cl=10)) == list(range(11, 18))


def test_rule_lengths_are_parameters() -> None:
    y = [12, 8] * 5 + [12.5] * 6 + [8, 12] * 5
    assert flagged(mdc(y)) == []
    six = mdc(y, rule_params={"shift": 6})
    assert set(six["special_cause"].iloc[10:16]) == {"6 Points Above CL"}
    with pytest.raises(ValueError, match="'run_length' is not a parameter of rules='mdc'"):
        mdc(y, rule_params={"run_length": 6})


def test_a_point_beyond_the_limit_takes_precedence_over_a_trend() -> None:
    y = FLAT[:12] + [9.6, 9.7, 9.8, 9.9, 10.0, 10.1, 30.0] + FLAT[:5]
    pts = mdc(y, "decrease")
    assert pts["special_cause"].iloc[18] == "Above UCL"
    assert pts["point_type"].iloc[18] == "special_cause_concern"
    assert pts["special_cause"].iloc[13] == "7 Point Trend (Increasing)"


def test_two_in_three_near_the_limit_counts_after_a_missing_value() -> None:
    y = [50, 49, 51, 50, np.nan, 50, 49, 51, 50, 49, 51, 50, 54.0, 50.6, 54.0, 50, 49, 51, 50, 49]
    pts = mdc(y)
    assert flagged(pts) == [13, 15]
    assert set(pts["special_cause"].iloc[[12, 14]]) == {"2 in 3 Above CL"}


def test_a_missing_value_inside_a_trend_stops_as_nhsrplotthedots_does() -> None:
    y = [5, 3, 6, 4, 5, 1, 2, 3, np.nan, 5, 6, 7, 4, 5]
    with pytest.raises(ValueError, match="missing value where TRUE/FALSE needed"):
        mdc(y)
    # the same series read with the Anhøj rules is fine
    qi.spc(pd.DataFrame({"y": y}), y="y", chart="i")


def test_neutral_direction_gives_high_and_low() -> None:
    y = [12, 8] * 5 + [12.5] * 7 + [8, 12] * 5
    assert set(mdc(y, "neutral")["point_type"].iloc[10:17]) == {"special_cause_neutral_high"}


def test_mdc_rules_read_a_p_chart_with_its_own_limits() -> None:
    df = pd.DataFrame({"x": range(1, 25), "y": [20] * 12 + [35] * 12, "n": [100] * 24})
    res = qi.spc(df, x="x", y="y", n="n", chart="p", rules="mdc", improvement="decrease")
    p_only = qi.spc(df, x="x", y="y", n="n", chart="p")
    np.testing.assert_allclose(res.points["ucl"], p_only.points["ucl"])
    assert res.summary["variation"].iloc[0] == "special_cause_concern"


def test_excluded_points_take_no_part_in_a_shift() -> None:
    y = [12, 8] * 5 + [12.5] * 7 + [8, 12] * 5
    assert flagged(mdc(y)) == list(range(11, 18))
    df = pd.DataFrame({"y": y, "skip": [i == 13 for i in range(len(y))]})
    pts = qi.spc(df, y="y", chart="i", rules="mdc", exclude="skip").points
    assert pts["special_cause"].iloc[13] == "Common Cause"
    assert (pts["special_cause"].iloc[[10, 11, 12, 14, 15, 16]] == "Common Cause").all()


def _with_target(improvement: str, target: float) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "team": ["A"] * 24 + ["B"] * 24,
            "month": list(pd.date_range("2024-01-01", periods=24, freq="MS")) * 2,
            "y": FLAT + [10, 11, 9, 10] + [12, 8] * 5 + [12.5] * 7 + [8, 12] * 3 + [13],
        }
    )
    res = qi.spc(
        df,
        x="month",
        y="y",
        by="team",
        chart="i",
        rules="mdc",
        improvement=improvement,
        target=target,
    )
    return qi.mdc.summary(res)


def test_summary_gives_one_row_per_series_with_icons() -> None:
    s = _with_target("decrease", 30.0)  # a target above both upper limits
    assert s["team"].tolist() == ["A", "B"]
    assert s["x"].tolist() == [pd.Timestamp("2025-12-01")] * 2
    assert s["variation"].tolist() == ["common_cause", "common_cause"]
    assert s["assurance"].tolist() == ["consistent_pass", "consistent_pass"]
    assert s["assurance_icon"].tolist() == ["assurance_pass"] * 2
    assert s["variation_text"].iloc[0] == qi.mdc.ICON_TEXT["common_cause"]
    fail = _with_target("increase", 30.0)
    assert fail["assurance_icon"].tolist() == ["assurance_fail"] * 2
    between = _with_target("increase", 10.0)
    assert between["assurance_icon"].tolist() == ["assurance_hit_and_miss"] * 2


def test_variation_icon_follows_the_direction() -> None:
    assert qi.mdc.variation_icon("special_cause_improvement", "decrease") == "improvement_low"
    assert qi.mdc.variation_icon("special_cause_concern", "decrease") == "concern_high"
    assert qi.mdc.variation_icon("special_cause_concern", "increase") == "concern_low"
    assert qi.mdc.variation_icon("special_cause_neutral_low", "neutral") == "neutral_low"


def test_summary_needs_an_spc_result() -> None:
    with pytest.raises(ValueError, match=r"needs the result of qi\.spc"):
        qi.mdc.summary(pd.DataFrame({"y": FLAT}))


@pytest.mark.parametrize("rules", ["anhoej", "ihi", "western_electric"])
@pytest.mark.parametrize("chart", ["i", "u", "p", "c"])
def test_any_rule_set_gives_the_icons_of_the_mdc_rules(rules: str, chart: str) -> None:
    """One qi.spc call carries the icons whatever rule set draws the chart: they equal
    those of a call with rules="mdc" (the I chart's limits use MDC's 2.66 constant), and
    survive pickling (Streamlit's cache pickles results)."""
    rng = np.random.default_rng(7)
    months = pd.date_range("2024-01-01", periods=30, freq="MS")
    y = rng.poisson(8, 60) + np.r_[np.zeros(50), np.full(10, 6)]
    df = pd.DataFrame(
        {"month": np.tile(months, 2), "team": np.repeat(["A", "B"], 30), "y": y,
         "n": rng.integers(60, 90, 60)}
    )  # fmt: skip
    args = dict(
        x="month", y="y", n="n" if chart in ("u", "p") else None, by="team", chart=chart,
        improvement="decrease", target=0.1 if chart == "p" else 8.0,
    )  # fmt: skip
    expected = qi.mdc.summary(qi.spc(df, rules="mdc", **args))
    drawn = qi.spc(df, rules=rules, **args)
    pd.testing.assert_frame_equal(qi.mdc.summary(drawn), expected)
    pd.testing.assert_frame_equal(qi.mdc.summary(pickle.loads(pickle.dumps(drawn))), expected)
    assert drawn.rules == rules  # the chart's own reading is untouched


@pytest.mark.parametrize("name", sorted(qi.mdc.ICON_TEXT))
def test_icons_are_svg_with_a_text_alternative(name: str) -> None:
    svg = qi.mdc.icon_svg(name)
    text = qi.mdc.ICON_TEXT[name]
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert f"<title>{text}</title>" in svg and f'aria-label="{text}"' in svg
    colours = set(re.findall(r"#[0-9A-F]{6}", svg))
    kind = name.split("_")[0]
    expected = {
        "improvement": "#005EB8",
        "concern": "#ED8B00",
        "common": "#768692",
        "neutral": "#330072",
    }.get(kind)
    if expected:
        assert expected in colours
