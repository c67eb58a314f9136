"""qi.figures: user text shown as typed, and signals drawn with words and shapes, as the
rule set that computed them says."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd

import qi
from qi.figures import (
    chart_key,
    describe,
    description,
    explain_signals,
    sparkline_svg,
    spc_figure,
    text,
)


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


# --------------------------------------------------------------------------- conventions

MONTHS = pd.date_range("2024-01-01", periods=24, freq="MS")


def _shifted(groups=("Black", "White"), drop=()) -> qi.SPCResult:
    """Two groups, each with a shift down in its last 8 months (a run below the centre:
    improvement when lower is better), and an outlier high in month 5 (concern)."""
    frames = []
    for k, g in enumerate(groups):
        y = np.r_[np.tile([10.0, 12.0, 11.0], 6)[:16], np.full(8, 6.0 + k)]
        y[4] = 30.0
        frames.append(pd.DataFrame({"month": MONTHS, "group": g, "y": y}))
    data = pd.concat(frames, ignore_index=True)
    data = data[~data["month"].isin(pd.to_datetime(list(drop)))]
    return qi.spc(data, x="month", y="y", by="group", chart="i", rules="mdc",
                  improvement="decrease")  # fmt: skip


def _lines(fig):
    return [t for t in fig.data if t.mode == "lines+markers"]


def test_common_cause_points_are_grey_and_signals_in_making_data_count_colours():
    from qi.figures import COMMON_GREY, PALETTE, SIGNAL_STYLE, group_colours
    from qi.mdc import COLOURS

    result = _shifted()
    fig = spc_figure(result.points, group="group", facet=False, rules=result.rules,
                     improvement="decrease")  # fmt: skip
    for line in _lines(fig):
        assert line.marker.color == COMMON_GREY == COLOURS["common"]
    fills = {t.name: t.marker.color for t in fig.data if t.mode == "markers"}
    assert fills["Special cause: concern"] == COLOURS["concern"]
    assert fills["Special cause: improvement"] == COLOURS["improvement"]
    # each group's line its own colour, none of them a signal's colour; a signal's marker
    # is outlined in the colour of the series it belongs to
    colours = [line.line.color for line in _lines(fig)]
    assert len(set(colours)) == 2
    assert not set(colours) & ({c for c, _, _ in SIGNAL_STYLE.values()} | {COMMON_GREY})
    outlines = {t.marker.line.color for t in fig.data if t.mode == "markers"}
    assert outlines <= set(colours)
    # the usual groups keep their colour on every chart; others get an unused one
    assert group_colours(["White", "Black"])["White"] == group_colours(["White"])["White"]
    spare = group_colours(["Traveller", "White", "Roma"])
    assert len(set(spare.values())) == 3 and set(spare.values()) <= set(PALETTE)


def test_small_multiples_have_one_y_title_and_an_x_axis_bounded_by_the_data():
    result = _shifted(groups=("Asian", "Black", "White"))
    fig = spc_figure(result.points, group="group", facet=True, y_title="per 1,000 bed days",
                     rules=result.rules, height=700, width=900)  # fmt: skip
    titles = [a for a in fig.layout.annotations if a.name == "y-title"]
    assert len(titles) == 1 and titles[0].text == "per 1,000 bed days"
    axes = [k for k in fig.layout.to_plotly_json() if k.startswith("yaxis")]
    assert len(axes) == 3
    assert not any(fig.layout[k].title.text for k in axes)
    for k in [k for k in fig.layout.to_plotly_json() if k.startswith("xaxis")]:
        lo, hi = (pd.Timestamp(v) for v in fig.layout[k].range)
        assert MONTHS[0] - pd.Timedelta(days=16) <= lo < MONTHS[0]
        assert MONTHS[-1] < hi <= MONTHS[-1] + pd.Timedelta(days=16)
        assert fig.layout[k].dtick == "M3" and fig.layout[k].tickformat == "%b %Y"  # no days
    # the panels do not overlap, and each panel's title sits above it, not in it
    domains = sorted(tuple(fig.layout[k].domain) for k in axes)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(domains))
    panel_titles = [a for a in fig.layout.annotations if a.name == "panel-title"]
    assert sorted(a.y for a in panel_titles) == [d[1] for d in domains]
    assert {a.yanchor for a in panel_titles} == {"bottom"}


def test_limits_and_centre_are_labelled_once_at_the_right_with_the_earlier_phase():
    months = pd.date_range("2024-01-01", periods=24, freq="MS")
    data = pd.DataFrame({"month": months, "y": np.r_[np.tile([10.0, 12.0], 6),
                                                      np.tile([6.0, 7.0], 6)],
                         "phase": np.repeat([1, 2], 12)})  # fmt: skip
    result = qi.spc(data, x="month", y="y", chart="i", phase="phase", rules="mdc", target=8.0)
    fig = spc_figure(result.points, rules=result.rules, y_title="days")
    labels = [a for a in fig.layout.annotations if a.name == "line-label"]
    words = [a.text for a in labels]
    assert [w.split()[0] for w in words].count("Centre") == 1
    assert sum(w.startswith("Upper limit") for w in words) == 1
    assert sum(w.startswith("Target 8") for w in words) == 1
    centre = next(w for w in words if w.startswith("Centre"))
    assert centre == "Centre 6.5 (was 11)"
    # at the right edge, inside the panel's height
    assert {(a.x, a.xref, a.xanchor) for a in labels} == {(1, "x domain", "left")}
    assert all(0 <= a.y <= 1 for a in labels)


def test_a_missing_month_is_a_gap_not_a_line_across_it():
    result = _shifted(groups=("Black",), drop=["2024-07-01", "2024-08-01"])
    fig = spc_figure(result.points, group="group", rules=result.rules)
    (line,) = _lines(fig)
    x = pd.to_datetime(pd.Series(line.x))
    y = pd.Series(line.y, dtype=float)
    assert y[x.isin(pd.to_datetime(["2024-07-01", "2024-08-01"]))].isna().all()
    assert y.notna().sum() == 22
    # the limits break there too (a line per phase, of the months charted)
    limit = next(t for t in fig.data if t.mode == "lines" and t.line.dash == "dot")
    assert pd.Series(limit.y, dtype=float).isna().sum() in (0, 2)


def test_a_quarterly_measure_breaks_only_at_a_missing_quarter_and_says_its_quarters():
    quarters = pd.date_range("2022-04-01", periods=12, freq="3MS")
    values = [5.0, 7, 6, 8, 5, 6, 7, 6, 5, 7, 6, 8]
    frame = pd.DataFrame({"x": quarters, "y": values})
    result = qi.spc(frame, x="x", y="y", chart="i")
    fig = spc_figure(result.points, rules=result.rules, frequency="quarter")
    (line,) = _lines(fig)
    assert pd.Series(line.y, dtype=float).notna().all()  # a quarter apart is not a gap
    assert any("2022/23 Q1" in h for h in line.hovertext)
    assert "2022/23 Q1" in fig.layout.meta["description"]
    kept = frame.drop(index=[5])  # 2023/24 Q2 missing: one break
    result = qi.spc(kept, x="x", y="y", chart="i")
    (line,) = _lines(spc_figure(result.points, rules=result.rules, frequency="quarter"))
    y = pd.Series(line.y, dtype=float)
    assert y.isna().sum() == 1 and len(y) == 12


def test_provisional_months_are_hollow_and_apart_from_the_line():
    result = _shifted(groups=("Black",))
    prov = pd.DataFrame({"period": [pd.Timestamp("2026-01-01")], "value": [9.0], "teams": [3],
                         "expected": [5], "group": ["Black"]})  # fmt: skip
    fig = spc_figure(result.points, group="group", rules=result.rules, provisional=prov)
    (hollow,) = [t for t in fig.data if t.legendgroup == "provisional"]
    assert hollow.marker.symbol == "circle-open" and hollow.mode == "markers"
    assert hollow.name == "Provisional: Jan 2026 (3 of 5 teams)"
    (line,) = _lines(fig)
    assert pd.Timestamp("2026-01-01") not in set(pd.to_datetime(pd.Series(line.x)))
    # the axis runs to the provisional month, no further
    hi = pd.Timestamp(fig.layout.xaxis.range[1])
    assert pd.Timestamp("2026-01-01") < hi <= pd.Timestamp("2026-01-17")
    assert "Provisional, not read by the rules: Jan 2026." in description(fig)


LONG_IDEA = (
    "Debrief with the patient and their family after every restrictive intervention, "
    "with an advocate present where the patient asks for one"
)


def _cycles(n: int, idea: str = LONG_IDEA) -> pd.DataFrame:
    starts = pd.date_range("2024-03-01", periods=n, freq="2MS")
    return pd.DataFrame(
        {
            "change_idea": [f"{idea} {i}" for i in range(n)],
            "cycle": 1,
            "stage": "do",
            "start": starts,
            "end": starts + pd.offsets.MonthEnd(1),
        }
    )


def test_pdsa_labels_wrap_between_words_above_the_data_or_become_a_numbered_key():
    result = _shifted(groups=("Black",))
    fig = spc_figure(result.points, group="group", rules=result.rules, cycles=_cycles(1),
                     height=460, width=1000)  # fmt: skip
    (mark,) = [a for a in fig.layout.annotations if a.name == "mark"]
    lines = mark.text.split("<br>")
    assert 1 < len(lines) <= 3 and all(len(x) <= 52 for x in lines)
    # nothing cut: every word of the idea is there, whole
    assert " ".join(lines).split() == f"PDSA 1: {LONG_IDEA} 0".split()
    # in a band at the top of the plot, above every point (the data's range is pushed down)
    assert mark.yref == "y domain" and mark.yanchor == "top" and mark.y <= 1
    lo, hi = fig.layout.yaxis.range
    top = max(v for t in fig.data for v in (t.y if t.y is not None else []) if v is not None)
    band = (3 * 13 + 12) / (460 - fig.layout.margin.t - fig.layout.margin.b)
    assert (top - lo) / (hi - lo) < 1 - band
    assert chart_key(fig).empty and not fig.layout.meta["numbered"]
    # many cycles on a narrow chart: numbered markers, and the key says what each is
    fig = spc_figure(result.points, group="group", rules=result.rules, cycles=_cycles(9),
                     height=420, width=600)  # fmt: skip
    marks = [a for a in fig.layout.annotations if a.name == "mark"]
    assert fig.layout.meta["numbered"]
    assert sorted(int(a.text) for a in marks) == list(range(1, 10))
    key = chart_key(fig)
    assert key["mark"].tolist() == [str(i) for i in range(1, 10)]
    assert key["text"].iloc[0] == f"PDSA 1: {LONG_IDEA} 0 (Mar 2024 to Mar 2024, do)"
    assert key["kind"].eq("PDSA cycle").all()


def test_an_equality_gap_is_drawn_on_a_ratio_axis_labelled_in_times():
    months = pd.date_range("2024-01-01", periods=18, freq="MS")
    logs = np.log(np.r_[np.tile([1.8, 2.2, 2.0], 6)])
    result = qi.spc(pd.DataFrame({"month": months, "y": logs}), x="month", y="y", chart="i",
                    rules="mdc")  # fmt: skip
    fig = spc_figure(result.points, rules=result.rules, ratio=True, y_title="ratio to White")
    assert fig.layout.yaxis.type == "log"
    ticks = list(fig.layout.yaxis.ticktext)
    assert "1×" in ticks and "2×" in ticks and all(t.endswith("×") for t in ticks)
    (line,) = _lines(fig)
    assert np.allclose(np.asarray(line.y, dtype=float), np.exp(logs))  # ratios, not logs
    words = [a.text for a in fig.layout.annotations if a.name == "line-label"]
    assert words == ["Lower limit 1.39×", "Centre 1.99×", "Upper limit 2.86×"]
    assert "Values are ratios to the reference group: 1× is no gap." in description(fig)


def test_the_text_alternative_says_what_the_chart_shows():
    result = _shifted()
    fig = spc_figure(result.points, group="group", facet=True, rules=result.rules,
                     improvement="decrease", title="Restraint — Willow Ward",
                     y_title="per 1,000 bed days")  # fmt: skip
    said = description(fig)
    assert said.startswith("Restraint — Willow Ward. Control chart of 2 groups (Black, White), "
                           "Jan 2024 to Dec 2025. Values in per 1,000 bed days.")  # fmt: skip
    assert "Black: latest Dec 2025 6; centre " in said
    assert "White: latest Dec 2025 7; centre " in said
    assert "special cause of concern in May 2024" in said
    assert "special cause of improvement in" in said
    assert said == describe(result.points, group="group", title="Restraint — Willow Ward",
                            unit="per 1,000 bed days", improvement="decrease",
                            rules=result.rules)  # fmt: skip


def test_funnel_points_are_labelled_and_outliers_coloured_by_direction():
    from qi.figures import funnel_figure
    from qi.mdc import COLOURS

    points = pd.DataFrame({"group": ["Cedar Ward", "Rowan Ward", "Willow Ward"],
                           "denominator": [7000.0, 8000.0, 9000.0], "value": [9.0, 14.0, 30.0],
                           "outlier": [False, False, True]})  # fmt: skip
    limits = pd.DataFrame({"denominator": [5000.0, 10000.0], "target": [13.0, 13.0],
                           "lcl95": [10.0, 11.0], "ucl95": [16.0, 15.0],
                           "lcl998": [8.0, 9.0], "ucl998": [18.0, 17.0]})  # fmt: skip
    fig = funnel_figure(points, limits, title="Restraint", y_title="per 1,000",
                        improvement="decrease", width=900, height=400)  # fmt: skip
    labels = {a.text for a in fig.layout.annotations if a.name == "point-label"}
    assert labels == {"Cedar Ward", "Rowan Ward", "Willow Ward"}
    (worse,) = [t for t in fig.data if t.name == "Outside 99.8% limits: concern"]
    assert worse.marker.color == COLOURS["concern"]
    assert "Willow Ward (30, above)" in description(fig)
    # the axes hold the points, not the limits' blow-up at tiny denominators
    assert fig.layout.xaxis.range[1] <= 9000 * 1.1 and fig.layout.xaxis.range[0] >= 0
    # names that cannot fit side by side: numbered, with a key
    crowded = pd.DataFrame({"group": [f"A long team name {i}" for i in range(12)],
                            "denominator": np.linspace(7000, 7100, 12),
                            "value": np.linspace(12, 13, 12)})  # fmt: skip
    fig = funnel_figure(crowded, limits, width=600, height=380)
    key = chart_key(fig)
    assert len(key) == 12 and key["text"].iloc[0] == "A long team name 0"
    assert {a.text for a in fig.layout.annotations} == {str(i) for i in range(1, 13)}


def test_a_funnel_axis_is_not_stretched_by_the_limits_at_tiny_denominators():
    from qi.figures import funnel_figure

    points = pd.DataFrame({"group": ["A", "B", "C"], "denominator": [130.0, 200.0, 345.0],
                           "value": [76.0, 80.0, 78.0]})  # fmt: skip
    limits = pd.DataFrame({"denominator": [1.0, 10.0, 65.0, 130.0, 345.0],
                           "target": [78.0] * 5, "lcl95": [0.0, 40.0, 66.0, 70.0, 73.0],
                           "ucl95": [100.0, 100.0, 90.0, 86.0, 83.0],
                           "lcl998": [0.0, 20.0, 58.0, 64.0, 70.0],
                           "ucl998": [100.0, 100.0, 96.0, 92.0, 86.0]})  # fmt: skip
    fig = funnel_figure(points, limits)
    lo, hi = fig.layout.yaxis.range
    assert 50 < lo < 64 and 96 <= hi < 100  # the limits from half the smallest team on
    assert fig.layout.xaxis.range[0] == 0.0  # the funnel's mouth is still drawn


def _marks(svg: str) -> tuple[list[list[tuple[float, float]]], list[tuple[float, float]]]:
    """The lines (each a list of points) and the dots a sparkline draws."""
    lines = [
        [tuple(map(float, p.split(","))) for p in points.split()]
        for points in re.findall(r'points="([^"]+)"', svg)
    ]
    dots = [(float(x), float(y)) for x, y in re.findall(r'cx="([\d.]+)" cy="([\d.]+)"', svg)]
    return lines, dots


def test_a_sparkline_breaks_at_a_hidden_month_and_dots_its_latest_point():
    svg = sparkline_svg([1.0, 3.0, None, 2.0, float("nan"), 5.0, 4.0], width=64, height=20)
    lines, dots = _marks(svg)
    # two lines (the first two months, the last two) and the month alone between gaps
    assert [len(line) for line in lines] == [2, 2]
    assert len(dots) == 2  # the month alone, and the latest point
    xs = [x for line in lines for x, _ in line]
    assert xs == sorted(xs) and dots[-1] == lines[-1][-1]
    # the highest point at the top, the lowest at the bottom, within the picture
    ys = {v: y for v, (_, y) in zip([1.0, 3.0, 5.0, 4.0], lines[0] + lines[1], strict=True)}
    assert ys[5.0] < ys[4.0] < ys[3.0] < ys[1.0]
    assert all(0 < x < 64 and 0 < y < 20 for x, y in [*lines[0], *lines[1], *dots])


def test_a_sparkline_with_nothing_to_draw_is_blank_and_a_flat_one_is_level():
    assert sparkline_svg([]) is None
    assert sparkline_svg([None, float("nan"), None]) is None
    lines, dots = _marks(sparkline_svg([0.0, 0.0, 0.0], height=30))
    assert {y for _, y in lines[0]} == {15.0} and dots == [lines[0][-1]]
    lines, dots = _marks(sparkline_svg([None, 7.0, None]))
    assert lines == [] and len(dots) == 2 and dots[0] == dots[1]  # alone and latest


def test_every_chart_is_built_in_the_one_place_the_suite_checks_against_plotly(monkeypatch):
    """Charts are built without plotly's checks (``qi.figures._figure``); conftest's
    ``_every_figure_passes_plotlys_checks`` builds each one again with them. That holds
    only if every kind of chart is built there, and only if the check catches a
    property plotly does not know."""
    import plotly.graph_objects as go
    import pytest

    from qi.figures import funnel_figure

    with pytest.raises(ValueError, match="colour"):  # the suite's check, at work
        qi.figures._figure([{"type": "scatter", "x": [1], "y": [2]}], {"colour": "red"})
    built = []
    monkeypatch.setattr(qi.figures, "_figure", lambda data, layout: built.append(1) or go.Figure())
    points = _shifted().points
    spc_figure(points, group="group", facet=True, rules="mdc")
    spc_figure(points, group="group", facet=False, rules="mdc")
    spc_figure(points[points["group"] == "Black"], rules="mdc", ratio=True)
    funnel = pd.DataFrame({"group": ["A", "B"], "denominator": [100.0, 200.0], "value": [1.0, 2.0]})
    limits = pd.DataFrame({"denominator": [50.0, 250.0], "target": [1.5, 1.5],
                           "lcl95": [0.5, 1.0], "ucl95": [2.5, 2.0],
                           "lcl998": [0.1, 0.5], "ucl998": [3.0, 2.5]})  # fmt: skip
    funnel_figure(funnel, limits)
    assert len(built) == 4
