"""What a signal means is said once, by its rule set: ``RuleSet.explain``.

Each rule set turns its points into ``signal_kind`` ("", "improvement", "concern",
"neutral") and ``signal_text`` (the rule that fired, in words);
:func:`qi.figures.explain_signals` asks the rule set named by ``rules``. The answers
below are those the figures, the data downloads and the workshop have always shown.
"""

from __future__ import annotations

import pandas as pd
import pytest

import qi
from qi.figures import explain_signals

SIGMA = "Outside the control limits (3 sigma)"
RUNS = "Unusually long run or too few crossings in this phase (Anhøj rules)"

# Anhøj points: a point outside the limits is the special cause; a runs signal belongs
# to the whole phase (here the last two points), so it adds words but no kind.
ANHOEJ = pd.DataFrame(
    {
        "y": [5.0, 9.0, 1.0, 12.0, 4.0],
        "cl": [5.0] * 5,
        "sigma_signal": [False, True, True, True, False],
        "runs_signal": [False, False, False, True, True],
    },
    index=[10, 11, 12, 13, 14],
)
ANHOEJ_TEXT = ["", SIGMA, SIGMA, f"{SIGMA}; {RUNS}", RUNS]

# MDC points: point_type already holds the direction the chart was computed with.
MDC = pd.DataFrame(
    {
        "y": [5.0, 2.0, 9.0, 8.0],
        "cl": [5.0] * 4,
        "point_type": pd.Categorical(
            ["common_cause", "special_cause_improvement", "special_cause_concern",
             "special_cause_neutral_high"]
        ),
        "special_cause": pd.Categorical(
            ["Common Cause", "7 Points Below CL", "Above UCL", "2 in 3 Above CL"]
        ),
    }
)  # fmt: skip
MDC_KIND = ["", "improvement", "concern", "neutral"]
MDC_TEXT = ["", "7 Points Below CL", "Above UCL", "2 in 3 Above CL"]

IHI = pd.DataFrame(
    {
        "y": [5.0, 3.0, 9.0, 5.0],
        "cl": [5.0] * 4,
        "special_cause": ["Common Cause", "Shift below CL", "Astronomical point", "Common Cause"],
    }
)
WESTERN_ELECTRIC = IHI.assign(
    special_cause=[
        "Common Cause",
        "8 on one side (rule 4)",
        "Beyond 3 sigma (rule 1)",
        "Common Cause",
    ]
)
CLASSIC_TEXT = {
    "ihi": ["", "Shift below CL", "Astronomical point", ""],
    "western_electric": ["", "8 on one side (rule 4)", "Beyond 3 sigma (rule 1)", ""],
}


@pytest.mark.parametrize(
    ("improvement", "kind"),
    [
        ("decrease", ["", "concern", "improvement", "concern", ""]),
        ("increase", ["", "improvement", "concern", "improvement", ""]),
        (None, ["", "neutral", "neutral", "neutral", ""]),
        ("neutral", ["", "neutral", "neutral", "neutral", ""]),
    ],
)
def test_anhoej_names_points_outside_the_limits_and_the_phase_of_a_runs_signal(improvement, kind):
    out = qi.RULE_SETS["anhoej"].explain(ANHOEJ, improvement)
    assert list(out.columns) == ["signal_kind", "signal_text"]
    assert out.index.tolist() == [10, 11, 12, 13, 14]
    assert out["signal_kind"].tolist() == kind
    assert out["signal_text"].tolist() == ANHOEJ_TEXT


def test_anhoej_points_without_a_runs_column_read_the_limits_alone():
    out = qi.RULE_SETS["anhoej"].explain(ANHOEJ.drop(columns="runs_signal"), "decrease")
    assert out["signal_text"].tolist() == ["", SIGMA, SIGMA, SIGMA, ""]


@pytest.mark.parametrize("improvement", ["decrease", "increase", None])
def test_mdc_reads_the_kind_from_the_point_type_whatever_the_direction_given(improvement):
    out = qi.RULE_SETS["mdc"].explain(MDC, improvement)
    assert out["signal_kind"].tolist() == MDC_KIND
    assert out["signal_text"].tolist() == MDC_TEXT


@pytest.mark.parametrize(
    ("rules", "points"), [("ihi", IHI), ("western_electric", WESTERN_ELECTRIC)]
)
@pytest.mark.parametrize(
    ("improvement", "kind"),
    [
        ("decrease", ["", "improvement", "concern", ""]),
        ("increase", ["", "concern", "improvement", ""]),
        (None, ["", "neutral", "neutral", ""]),
    ],
)
def test_ihi_and_western_electric_name_the_rule_and_judge_by_the_side(
    rules, points, improvement, kind
):
    out = qi.RULE_SETS[rules].explain(points, improvement)
    assert out["signal_kind"].tolist() == kind
    assert out["signal_text"].tolist() == CLASSIC_TEXT[rules]


def _chart(y: list[float], rules: str) -> qi.SPCResult:
    data = pd.DataFrame({"month": pd.date_range("2024-01-01", periods=len(y), freq="MS"), "y": y})
    return qi.spc(data, x="month", y="y", chart="i", rules=rules, improvement="decrease")


SPIKE = [8.0, 14.0] * 5 + [40.0] + [8.0, 14.0] * 4 + [14.0]  # month 11 far above the rest
SHIFT = [11.0, 13.0] * 6 + [7.0, 9.0] * 6  # a year above the mean, then a year below


@pytest.mark.parametrize(
    ("rules", "words"),
    [
        ("anhoej", SIGMA),
        ("mdc", "Above UCL"),
        ("ihi", "Astronomical point"),
        ("western_electric", "Beyond 3 sigma (rule 1)"),
    ],
)
def test_a_spike_where_less_is_better_is_a_concern_in_the_words_of_each_rule_set(rules, words):
    result = _chart(SPIKE, rules)
    out = explain_signals(result.points, "decrease", rules=result.rules)
    assert out["signal_kind"].tolist() == [""] * 10 + ["concern"] + [""] * 9
    assert out["signal_text"].tolist() == [""] * 10 + [words] + [""] * 9


@pytest.mark.parametrize(
    ("rules", "before", "after"),
    [
        ("anhoej", ("", RUNS), ("", RUNS)),
        ("mdc", ("concern", "7 Points Above CL"), ("improvement", "7 Points Below CL")),
        ("ihi", ("concern", "Shift above CL"), ("improvement", "Shift below CL")),
        (
            "western_electric",
            ("concern", "8 on one side (rule 4)"),
            ("improvement", "8 on one side (rule 4)"),
        ),
    ],
)
def test_a_shift_down_where_less_is_better_reads_as_each_rule_set_says(rules, before, after):
    result = _chart(SHIFT, rules)
    out = explain_signals(result.points, "decrease", rules=result.rules)
    pairs = list(zip(out["signal_kind"], out["signal_text"], strict=True))
    assert pairs == [before] * 12 + [after] * 12


@pytest.mark.parametrize("rules", list(qi.RULE_SETS))
def test_explain_signals_asks_the_rule_set_and_nothing_else(rules):
    result = _chart(SHIFT, rules)
    said = qi.RULE_SETS[rules].explain(result.points, "decrease")
    pd.testing.assert_frame_equal(explain_signals(result.points, "decrease", rules=rules), said)
    # the rule set is never guessed from the columns the points carry
    with pytest.raises(TypeError, match="rules"):
        explain_signals(result.points, "decrease")


def test_the_rule_set_named_decides_not_the_columns_the_points_carry():
    # MDC points carry point_type; read with the Anhøj rules they mean what Anhøj says
    mdc_points = _chart(SPIKE, "mdc").points
    out = explain_signals(mdc_points, "decrease", rules="anhoej")
    assert out["signal_text"].tolist() == [""] * 10 + [SIGMA] + [""] * 9
    out = explain_signals(mdc_points, "decrease", rules="mdc")
    assert out["signal_text"].iloc[10] == "Above UCL"


def test_an_unknown_rule_set_is_refused():
    with pytest.raises(ValueError, match="rules must be one of"):
        explain_signals(ANHOEJ, "decrease", rules="shewhart")
