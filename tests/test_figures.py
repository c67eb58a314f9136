"""qi.figures: user text shown as typed, and signals drawn with words and shapes, as the
rule set that computed them says."""

from __future__ import annotations

import numpy as np
import pandas as pd

import qi
from qi.figures import explain_signals, spc_figure, text


def test_user_text_in_figures_is_escaped_and_signals_have_words_and_shapes():
    assert text("<script>x</script>") == "&lt;script&gt;x&lt;/script&gt;"
    points = pd.DataFrame(
        {
            "x": pd.date_range("2024-01-01", periods=3, freq="MS"), "y": [1.0, 5.0, 9.0],
            "n": [10.0] * 3, "phase": [1] * 3, "cl": [5.0] * 3, "lcl": [2.0] * 3,
            "ucl": [8.0] * 3, "target": [np.nan] * 3, "sigma_signal": [True, False, True],
        }
    )  # fmt: skip
    words = explain_signals(points, "decrease", rules="anhoej")
    assert words["signal_kind"].tolist() == ["improvement", "", "concern"]
    assert words["signal_text"].iloc[0] == "Outside the control limits (3 sigma)"
    cycles = pd.DataFrame({"change_idea": ["<b>bold</b>"], "cycle": [1], "stage": ["do"],
                           "start": [pd.Timestamp("2024-02-01")], "end": [pd.NaT]})  # fmt: skip
    fig = spc_figure(points, improvement="decrease", cycles=cycles, rules="anhoej")
    labels = [a.text for a in fig.layout.annotations]
    assert "PDSA 1: &lt;b&gt;bold&lt;/b&gt;" in labels
    symbols = {t.name: t.marker.symbol for t in fig.data if t.mode == "markers"}
    assert symbols == {"Special cause: improvement": "diamond", "Special cause: concern": "square"}


def test_a_measure_unit_with_markup_is_escaped_in_the_legend():
    points = pd.DataFrame({
        "x": pd.date_range("2024-01-01", periods=3, freq="MS"), "y": [1.0, 2.0, 3.0],
        "n": [np.nan] * 3, "phase": [1] * 3, "cl": [2.0] * 3, "lcl": [0.0] * 3, "ucl": [4.0] * 3,
        "target": [np.nan] * 3, "sigma_signal": [False] * 3,
    })  # fmt: skip
    fig = spc_figure(points, y_title="<b>days</b>", rules="anhoej")
    assert fig.data[0].name == "&lt;b&gt;days&lt;/b&gt;"


def test_the_figure_marks_signals_as_the_rule_set_named_says():
    months = pd.date_range("2024-01-01", periods=24, freq="MS")
    data = pd.DataFrame({"month": months, "y": [11.0, 13.0] * 6 + [7.0, 9.0] * 6})
    result = qi.spc(data, x="month", y="y", chart="i", rules="mdc", improvement="decrease")
    fig = spc_figure(result.points, improvement="decrease", rules=result.rules)
    symbols = {t.name: t.marker.symbol for t in fig.data if t.mode == "markers"}
    assert symbols == {"Special cause: improvement": "diamond", "Special cause: concern": "square"}
    assert any("7 Points Below CL" in str(h) for t in fig.data for h in (t.hovertext or ()))
    # the same points read with the Anhøj rules: a long run, but no point is a special cause
    fig = spc_figure(result.points, improvement="decrease", rules="anhoej")
    assert not [t for t in fig.data if t.mode == "markers"]


def _limit_lines(fig) -> list[str]:
    """The labels of the limit lines a figure draws (upper and lower, with values)."""
    return [a.text for a in fig.layout.annotations if "limit" in (a.text or "")]


def test_every_control_chart_has_its_limits_one_series_or_many():
    """A chart of one group, of several groups in panels, and of several groups on one
    chart all draw an upper and a lower limit line for each series, labelled with values;
    a run chart has none."""
    months = pd.date_range("2024-01-01", periods=24, freq="MS")
    data = pd.DataFrame({"month": np.tile(months, 2), "group": np.repeat(["Black", "White"], 24),
                         "y": np.r_[np.tile([10.0, 12.0, 11.0], 16)], "n": 100.0})  # fmt: skip
    for chart in ("u", "i"):
        result = qi.spc(data, x="month", y="y", n="n" if chart == "u" else None, by="group",
                        chart=chart, rules="mdc")  # fmt: skip
        one = result.points[result.points["group"] == "Black"]
        for points, facet, series in ((one, True, 1), (result.points, True, 2),
                                      (result.points, False, 2)):  # fmt: skip
            fig = spc_figure(points, group="group", facet=facet, rules="mdc")
            labels = _limit_lines(fig)
            assert sum("Upper limit" in t for t in labels) == series, (chart, facet, labels)
            assert sum("Lower limit" in t for t in labels) == series
            dotted = [t for t in fig.data if t.mode == "lines" and t.line.dash == "dot"]
            assert len(dotted) == 2 * series
        pack = spc_figure(one, group="group", facet=True, height=430, rules="mdc")
        assert len(_limit_lines(pack)) == 2
    run = qi.spc(data[data["group"] == "Black"], x="month", y="y", chart="run")
    assert not _limit_lines(spc_figure(run.points, rules="anhoej"))
