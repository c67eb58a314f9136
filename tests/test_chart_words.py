"""Charts' text alternatives (:func:`qi.words.chart_alt`, :func:`qi.words.funnel_alt`):
what a screen reader says in place of the picture, from the points as drawn."""

from __future__ import annotations

import numpy as np
import pandas as pd

from qi.words import chart_alt, funnel_alt

MONTHS = pd.date_range("2025-11-01", periods=12, freq="MS")


def test_says_the_months_and_each_series_latest_value():
    points = pd.concat(
        [
            pd.DataFrame({"group": "All", "x": MONTHS, "y": np.linspace(10, 21, 12)}),
            pd.DataFrame({"group": "Black", "x": MONTHS, "y": np.linspace(30, 41, 12)}),
        ]
    )
    said = chart_alt(points, title="Restraint — Willow Ward", unit="per 1,000", group="group")
    assert said == (
        "Restraint — Willow Ward, Nov 2025 to Oct 2026. Latest values: "
        "All 21.0 per 1,000 in Oct 2026; Black 41.0 per 1,000 in Oct 2026."
    )


def test_a_value_the_chart_hides_is_not_said():
    """A small number hidden on the chart (missing ``y``) is not read out either: the
    latest value said is the latest shown, and its month says so."""
    y = np.arange(12, dtype=float)
    y[-2:] = np.nan
    said = chart_alt(pd.DataFrame({"x": MONTHS, "y": y}), title="Share", unit="%", decimals=0)
    assert said == "Share, Nov 2025 to Aug 2026. Latest: 9% in Aug 2026."
    empty = pd.DataFrame({"x": MONTHS, "y": np.nan})
    assert chart_alt(empty, title="Share") == "Share: no values to show."


def test_ratios_are_said_as_ratios():
    said = chart_alt(
        pd.DataFrame({"group": "Asian", "x": MONTHS[:2], "y": np.log([1.0, 2.4])}),
        title="Ratio to White",
        group="group",
        ratio=True,
    )
    assert said.endswith("Latest: Asian 2.40× in Dec 2025.")


def test_a_funnel_names_the_teams_outside_its_limits():
    points = pd.DataFrame(
        {
            "group": ["Oak Ward", "Willow Ward", "Rowan Ward", "Elm Ward"],
            "outlier": [True, False, True, False],
            "z": [3.4, 0.2, -3.1, -1.0],
        }
    )
    assert funnel_alt(points, title="Restraint, Nov 2025 to Oct 2026") == (
        "Funnel plot: Restraint, Nov 2025 to Oct 2026, 4 teams. "
        "Above the upper limit: Oak Ward. Below the lower limit: Rowan Ward."
    )
    inside = points.assign(outlier=False)
    assert funnel_alt(inside, title="R").endswith("4 teams. All are inside the limits.")
