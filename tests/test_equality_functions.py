"""Hand-worked tests of ``qi.equality``: each expected value worked from its definition.

The R reference cases are in ``test_equality_reference.py``; here the parts
they do not cover (recording completeness, pooling, suppression, errors, charting a gap
with ``qi.spc``) and small examples of the published rules.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import qi
from qi.equality import _exact

eq = qi.equality


# --- R's round and quantile (METHODS.md 4.6; R documentation of ``quantile``) ---------


@pytest.mark.parametrize(
    ("x", "want"), [(874.175, 874.18), (763.605, 763.60), (653.865, 653.86), (60.995, 60.99)]
)
def test_r_round_examples_from_methods(x: float, want: float) -> None:
    assert _exact.r_round(np.array([x]), 2)[0] == want


def test_r_round_is_odd_even_on_exact_ties() -> None:
    # 0.5, 1.5, 2.5 are exact in binary: R rounds them to the even neighbour
    assert list(_exact.r_round(np.array([0.5, 1.5, 2.5, -2.5]), 0)) == [0, 2, 2, -2]


def test_r_quantile_type_7() -> None:
    # type 7: 1 + (n - 1)p = 1 + 4 * 0.1 = 1.4 → 0.6 * x(1) + 0.4 * x(2)
    assert _exact.r_quantile7([5.0, 1.0, 3.0, 2.0, 4.0], 0.1) == pytest.approx(1.4)
    assert _exact.r_quantile7([1.0, np.nan, 2.0], 0.5) == 1.5


# --- intervals ---------------------------------------------------------------------------


def test_wilson_of_zero_and_all() -> None:
    # Wilson (1927): x = 0 → lower 0, upper z²/(n + z²)
    z = 1.959963984540054
    res = eq.proportions([0, 10], [10, 10])
    assert res["lower"][0] == 0
    assert res["upper"][0] == pytest.approx(z**2 / (10 + z**2), rel=1e-12)
    assert res["lower"][1] == pytest.approx(10 / (10 + z**2), rel=1e-12)


def test_rate_of_zero_events_is_minus_log_alpha() -> None:
    # exact Poisson upper limit of 0 events: -ln(α/2) (METHODS.md 4.2)
    res = eq.rates([0], [50000])
    assert res["lower"][0] == 0
    assert res["upper"][0] == pytest.approx(-math.log(0.025) / 50000 * 100000, rel=1e-12)
    assert res["method"][0] == "exact"


def test_a_100_percent_interval_is_0_to_1() -> None:
    # PHEindicatormethods special-cases confidence = 1 (METHODS.md 4.1)
    res = eq.proportions([3, 0], [10, 4], conf=1, multiplier=100)
    assert res["lower"].tolist() == [0, 0] and res["upper"].tolist() == [100, 100]


def test_series_keep_their_index() -> None:
    x = pd.Series([1, 2], index=["a", "b"])
    assert list(eq.proportions(x, pd.Series([4, 4], index=["a", "b"])).index) == ["a", "b"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: eq.proportions([3], [2]), "'x' must not exceed 'n'"),
        (lambda: eq.proportions([-1], [2]), "'x' must not be negative"),
        (lambda: eq.proportions([1], [2], conf=95), "(0.95, not 95)"),
        (lambda: eq.rates([1, 2], [3]), "same length"),
        (lambda: eq.rates([1], [3], multiplier=0), "'multiplier'"),
    ],
)
def test_interval_errors(call, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_zero_denominator_is_missing_not_an_error() -> None:
    assert eq.proportions([0], [0]).isna().all(axis=None)
    assert eq.rates([0], [0])[["value", "lower", "upper"]].isna().all(axis=None)


# --- compare and gap ----------------------------------------------------------------------


DETENTIONS = pd.DataFrame(
    {"eth": ["White", "Black", "Black", "Asian"], "n": [100, 40, 20, 30],
     "pt": [1e6, 5e4, 5e4, 2e5]}
)  # fmt: skip


def test_compare_sums_rows_and_keeps_first_appearance_order() -> None:
    res = eq.compare(DETENTIONS, group="eth", events="n", exposure="pt", reference="White")
    assert list(res["group"]) == ["Black", "Asian"]
    black = res.iloc[0]
    # 60 / 100,000 person-time against 100 / 1,000,000: rate ratio 6, Wald SE √(1/60 + 1/100)
    assert black["value"] == pytest.approx(60.0)
    assert black["ref_value"] == pytest.approx(10.0)
    assert black["ratio"] == pytest.approx(6.0)
    se = math.sqrt(1 / 60 + 1 / 100)
    assert black["ratio_lower"] == pytest.approx(6 * math.exp(-1.959963984540054 * se))
    # epiR rate difference: (a/pt1 − b/pt0) ± z √(a/pt1² + b/pt0²), per 100,000
    half = 1.959963984540054 * math.sqrt(60 / 1e5**2 + 100 / 1e6**2) * 1e5
    assert black["difference_upper"] == pytest.approx(50 + half)


def test_compare_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="'Other', is not a value of column 'eth'"):
        eq.compare(DETENTIONS, group="eth", events="n", exposure="pt", reference="Other")
    with pytest.raises(ValueError, match="names column 'events'"):
        eq.compare(DETENTIONS, group="eth", events="events", exposure="pt", reference="White")
    with pytest.raises(ValueError, match="'measure' argument"):
        eq.compare(DETENTIONS, group="eth", events="n", exposure="pt", reference="White",
                   measure="odds")  # fmt: skip
    with pytest.raises(ValueError, match="must not exceed 'pt'"):
        eq.compare(DETENTIONS.assign(pt=[90, 50, 50, 30]), group="eth", events="n",
                   exposure="pt", reference="White", measure="risk")  # fmt: skip


def test_gap_is_ready_for_an_spc_chart() -> None:
    months = pd.date_range("2024-01-01", periods=15, freq="MS")
    rng = np.random.default_rng(7)
    rows = [
        (team, m, g, rng.poisson(rate), 1e5)
        for team in ("North", "South")
        for m in months
        for g, rate in (("White", 40), ("Black", 120), ("Asian", 45))
    ]
    data = pd.DataFrame(rows, columns=["team", "month", "eth", "events", "pt"])
    data.loc[(data["team"] == "South") & (data["eth"] == "Asian"), "events"] = 0
    res = eq.gap(data, by=["team", "month"], group="eth", events="events", exposure="pt",
                 reference="White")  # fmt: skip
    assert len(res) == 2 * 15 * 2
    assert {"log_ratio", "log_ratio_lower", "log_ratio_upper", "eth"} <= set(res.columns)
    zero = res[(res["team"] == "South") & (res["eth"] == "Asian")]
    assert (zero["ratio"] == 0).all() and zero["log_ratio"].isna().all()  # no -inf for a chart
    chart = qi.spc(res, y="log_ratio", x="month", by=["team", "eth"], chart="i")
    assert len(chart.summary) == 4
    black = chart.summary[chart.summary["eth"] == "Black"]
    assert (black["cl"] > 0.5).all()  # about log 3


@pytest.mark.parametrize("measure", ["rate", "risk"])
def test_gap_without_the_exact_statistics_gives_the_same_ratios_and_wald_limits(measure):
    rng = np.random.default_rng(11)
    data = pd.DataFrame({
        "team": np.repeat(["North", "South"], 3), "eth": ["White", "Black", "Asian"] * 2,
        "events": rng.integers(1, 60, 6), "n": rng.integers(200, 900, 6),
    })  # fmt: skip
    args = dict(by="team", group="eth", events="events", exposure="n", reference="White",
                measure=measure)  # fmt: skip
    full, quick = eq.gap(data, **args), eq.gap(data, **args, exact=False)
    exact = ["ratio_exact", "ratio_exact_lower", "ratio_exact_upper", "p_value"]
    pd.testing.assert_frame_equal(quick.drop(columns=exact), full.drop(columns=exact))
    assert quick[exact].isna().all().all()
    assert full["p_value"].notna().all()


def test_gap_refuses_keys_that_clash_with_its_output() -> None:
    data = DETENTIONS.assign(value=1)
    with pytest.raises(ValueError, match="output columns"):
        eq.gap(data, by="value", group="eth", events="n", exposure="pt", reference="White")


# --- recording completeness -------------------------------------------------------------------


def test_recording_completeness_counts_not_stated_codes_and_blanks() -> None:
    records = pd.DataFrame(
        {"team": ["A"] * 6 + ["B"] * 2,
         "eth": ["White", "Not stated", None, " z ", "Black", "99", "Asian", "Unknown"]}
    )  # fmt: skip
    res = eq.recording_completeness(records, by="team", group="eth")
    assert list(res["numerator"]) == [4, 1]
    assert list(res["denominator"]) == [6, 2]
    want = eq.proportions([4, 1], [6, 2])
    np.testing.assert_allclose(res[["value", "lower", "upper"]], want, rtol=1e-15)


def test_recording_completeness_with_counts_and_own_labels() -> None:
    table = pd.DataFrame({"month": ["Jan", "Jan", "Feb"], "eth": ["White", "Refused", "White"],
                          "k": [30, 10, 5]})  # fmt: skip
    res = eq.recording_completeness(table, by="month", group="eth", count="k",
                                    unknown=["refused"], multiplier=100)  # fmt: skip
    assert res.set_index("month")["value"].to_dict() == {"Feb": 0.0, "Jan": 25.0}


# --- pooling ----------------------------------------------------------------------------------


def test_pool_maps_groups_and_pools_small_series_to_quarters() -> None:
    months = pd.date_range("2024-01-01", periods=6, freq="MS")
    data = pd.DataFrame(
        [(team, m, g, k, 100.0)
         for team, small in (("A", 1), ("B", 20))
         for m in months
         for g, k in (("White British", 30), ("White Irish", 5), ("Black African", small))]
    , columns=["team", "month", "eth", "events", "pt"])  # fmt: skip
    broad = {"White British": "White", "White Irish": "White", "Black African": "Black"}
    res = eq.pool(data, group="eth", events="events", exposure="pt", by="team", period="month",
                  mapping=broad, min_count=5)  # fmt: skip
    a, b = res[res["team"] == "A"], res[res["team"] == "B"]
    # team A has 1 event a month among Black patients: all its groups go to quarters
    assert set(a["granularity"]) == {"quarter"} and len(a) == 2 * 2
    assert list(a["month"].unique()) == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-04-01")]
    assert a.loc[a["eth"] == "Black", "events"].tolist() == [3, 3]
    assert a.loc[a["eth"] == "White", "events"].tolist() == [105, 105]
    assert a["pooled"].all()
    # team B stays monthly; its White rows still merge two detailed groups
    assert set(b["granularity"]) == {"month"} and len(b) == 6 * 2
    assert b.loc[b["eth"] == "White", "pooled"].all()
    assert not b.loc[b["eth"] == "Black", "pooled"].any()
    assert b["n_rows"].tolist() == [1, 2] * 6


def test_pool_needs_a_period_for_min_count() -> None:
    with pytest.raises(ValueError, match="'min_count' needs 'period'"):
        eq.pool(DETENTIONS, group="eth", events="n", min_count=5)


# --- suppression ------------------------------------------------------------------------------


def test_suppress_worked_example() -> None:
    # rows: teams; columns: ethnic groups. 5 and 3 are small (1-7); 0 is shown.
    table = pd.DataFrame({"White": [120, 40, 60], "Black": [5, 30, 12], "Asian": [0, 9, 3]},
                         index=pd.Index(["A", "B", "C"], name="team"))  # fmt: skip
    res = eq.suppress(table)
    shown = res.display()
    # primary: A/Black (5), C/Asian (3); 9 is above the threshold. Lines in turn:
    # row A has one hidden cell: hide its smallest non-zero shown cell, White 120 (0
    # is no protection); row C: hide Black 12; column White (120 hidden): hide B 40;
    # column Asian (3 hidden): hide B 9. Now every line has 0 or 2+ hidden cells.
    assert res.primary.loc["A", "Black"] and res.primary.loc["C", "Asian"]
    assert res.primary.sum().sum() == 2 and res.secondary.sum().sum() == 4
    assert shown.loc["A"].tolist() == ["*", "*", "0", "125"]
    assert shown.loc["B"].tolist() == ["*", "30", "*", "80"]  # total 79 → 80
    assert shown.loc["C"].tolist() == ["60", "*", "*", "75"]
    assert shown.loc["Total"].tolist() == ["220", "45", "10", "280"]  # 47, 12, 279 rounded
    assert res.true.loc["Total", "Total"] == 279


def test_suppress_long_data_and_options() -> None:
    long = pd.DataFrame({"team": ["A", "A", "B", "B"], "eth": ["x", "y", "x", "y"],
                         "k": [9, 2, 10, 10]})  # fmt: skip
    res = eq.suppress(long, index="team", columns="eth", values="k", threshold=2, rounding=1)
    # A/y = 2 is small; row A then hides A/x, and columns x and y hide B's cells;
    # the totals stay shown (four unknowns, three independent equations)
    assert res.mask.loc[["A", "B"], ["x", "y"]].all(axis=None)
    assert not res.mask.loc["Total"].any() and not res.mask["Total"].any()
    assert res.values.loc["Total"].tolist() == [19, 12, 31]
    with pytest.raises(ValueError, match="whole, non-negative counts"):
        eq.suppress(pd.DataFrame({"k": [1.5, 2]}))
    with pytest.raises(ValueError, match="'threshold'"):
        eq.suppress(pd.DataFrame({"k": [1, 2]}), threshold=-1)


# --- funnels ----------------------------------------------------------------------------------


def test_funnel_sums_rows_by_unit_and_sorts() -> None:
    data = pd.DataFrame({"ward": ["b", "a", "b"], "x": [1, 5, 2], "n": [10, 50, 20]})
    res = eq.funnel(data, group="ward", numerator="x", denominator="n")
    assert list(res.points["group"]) == ["a", "b"]
    assert list(res.points["numerator"]) == [5, 3]
    assert res.target == pytest.approx(8 / 80)
    assert set(res.limits["line"]) == {"target", "lcl95", "ucl95", "lcl998", "ucl998"}


def test_funnel_errors() -> None:
    data = pd.DataFrame({"ward": ["a"], "x": [5], "n": [0]})
    with pytest.raises(ValueError, match="must be positive"):
        eq.funnel(data, group="ward", numerator="x", denominator="n")
    with pytest.raises(ValueError, match="'statistic' argument"):
        eq.funnel(data, group="ward", numerator="x", denominator="n", statistic="rate")


def test_phe_rate_funnel_judges_each_unit_against_the_average() -> None:
    # average rate Σx/Σn = 300 / 300,000; unit C (150 of 100,000) is far above it
    data = pd.DataFrame({"unit": ["A", "B", "C"], "x": [50, 100, 150],
                         "n": [100000.0, 100000.0, 100000.0]})  # fmt: skip
    res = eq.funnel(data, group="unit", numerator="x", denominator="n", statistic="rate",
                    style="phe", multiplier=100000)  # fmt: skip
    sig = res.points.set_index("group")["significance"].to_dict()
    assert sig == {"A": "Low (0.001)", "B": "Not significant", "C": "High (0.001)"}
    own = eq.rates([50, 100, 150], [1e5] * 3, conf=0.998)
    np.testing.assert_allclose(res.points["lcl998"], own["lower"], rtol=1e-12)
