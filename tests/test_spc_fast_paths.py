"""``qi.spc``'s shortcuts for many series give what the general path gives: rows already in
order (not sorted again), one row per subgroup (nothing aggregated), a whole-number series
id read off its changes, and the input's own columns shared with the points (copy on
write: changing one never changes the other)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import qi


def long_frame(series: int = 40, months: int = 30, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = rng.integers(20, 200, series * months)
    return pd.DataFrame(
        {
            "series": np.repeat(np.arange(series) * 7, months),  # ids in order, with gaps
            "date": np.tile(pd.date_range("2022-01-01", periods=months, freq="MS"), series),
            "y": rng.binomial(n, 0.3),
            "n": n,
        }
    )


CASES = [
    {"chart": "p", "rules": "anhoej"},
    {"chart": "i", "rules": "anhoej"},
    {"chart": "i", "rules": "mdc", "improvement": "increase"},
    {"chart": "u", "rules": "ihi", "multiply": 1000},
    {"chart": "c", "rules": "western_electric"},
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['chart']}-{c['rules']}")
def test_rows_in_order_give_what_shuffled_rows_give(case):
    data = long_frame()
    ordered = qi.spc(data, x="date", y="y", n="n", by="series", **case)
    shuffled = data.sample(frac=1.0, random_state=1).reset_index(drop=True)
    general = qi.spc(shuffled, x="date", y="y", n="n", by="series", **case)
    pd.testing.assert_frame_equal(ordered.points, general.points)
    pd.testing.assert_frame_equal(ordered.summary, general.summary)
    # text series ids (hashed, not read off their changes: pandas' text factorized as it
    # is, numpy objects, categories) and nullable whole numbers give the same numbers
    named = data.assign(series="s" + data["series"].astype(str).str.zfill(4))
    numbers = [c for c in ordered.points.columns if c != "series"]
    for keys in (
        named,
        named.astype({"series": object}),
        named.astype({"series": "category"}),
        data.astype({"series": "Int64"}),
    ):
        by_name = qi.spc(keys, x="date", y="y", n="n", by="series", **case)
        pd.testing.assert_frame_equal(by_name.points[numbers], ordered.points[numbers])


def test_two_rows_of_a_month_are_one_subgroup_on_either_path():
    data = long_frame(series=5, months=12)
    doubled = pd.concat([data, data]).sort_values(["series", "date"], kind="stable")
    got = qi.spc(doubled, x="date", y="y", n="n", by="series", chart="p")
    once = qi.spc(data, x="date", y="y", n="n", by="series", chart="p")
    assert len(got.points) == len(once.points)
    np.testing.assert_allclose(got.points["y"], once.points["y"])
    np.testing.assert_allclose(got.points["n"], 2 * once.points["n"])


def test_shared_columns_are_copied_when_either_side_changes():
    data = long_frame(series=3, months=12)
    kept = data.copy()
    result = qi.spc(data, x="date", y="y", n="n", by="series", chart="p")
    points = result.points
    assert points["x"].tolist() == data["date"].tolist()
    assert points["series"].tolist() == data["series"].tolist()
    points.loc[0, "x"] = pd.Timestamp("1999-01-01")
    points.loc[0, "series"] = -1
    pd.testing.assert_frame_equal(data, kept)  # the input is untouched
    data.loc[1, "date"] = pd.Timestamp("1998-01-01")
    data.loc[1, "series"] = -2
    assert points.loc[1, "x"] == kept.loc[1, "date"] and points.loc[1, "series"] == 0


def test_a_row_without_x_is_left_out_on_the_shortcut_too():
    data = long_frame(series=3, months=12)
    gap = data.copy()
    gap.loc[5, "date"] = pd.NaT
    got = qi.spc(gap, x="date", y="y", n="n", by="series", chart="p")
    want = qi.spc(data.drop(index=5), x="date", y="y", n="n", by="series", chart="p")
    pd.testing.assert_frame_equal(got.points, want.points)


def test_runs_counted_from_segment_bounds_match_runs_counted_from_segment_ids():
    from qi._segments import longest_runs, runs_by_bounds

    rng = np.random.default_rng(11)
    sizes = rng.integers(0, 9, 300)  # empty segments among them
    seg = np.repeat(np.arange(len(sizes)), sizes)
    sign = rng.choice(np.array([-1, 1], dtype=np.int8), len(seg))
    bounds = np.cumsum(sizes) - sizes
    got = runs_by_bounds(sign, bounds, len(sizes))
    want = longest_runs(sign, seg, len(sizes))
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("screen", [True, False])
@pytest.mark.parametrize("missing", [0, 25])
def test_moving_ranges_counted_from_segment_sizes_are_the_same_numbers(screen, missing):
    from qi._segments import mean_moving_range

    rng = np.random.default_rng(5)
    sizes = rng.integers(2, 30, 200)
    seg = np.repeat(np.arange(len(sizes)), sizes)
    values = rng.normal(size=len(seg))
    values[rng.choice(len(seg), missing, replace=False)] = np.nan
    values[seg == 3] = 1.5  # moving ranges all 0: none kept after screening
    starts = np.cumsum(sizes) - sizes
    fast = mean_moving_range(values, seg, len(sizes), None, screen=screen, starts=starts)
    general = mean_moving_range(values, seg, len(sizes), None, screen=screen)
    np.testing.assert_array_equal(fast, general)  # bit for bit, NaN where NaN


@pytest.mark.parametrize("unit", ["us", "ms", "s"])
def test_dates_in_coarser_units_and_whole_numbers_give_what_nanoseconds_and_floats_give(unit):
    data = long_frame(series=6, months=20)
    data.loc[[5, 47], "date"] = pd.NaT
    micro = data.assign(date=data["date"].astype(f"datetime64[{unit}]"))
    nano = data.assign(
        date=data["date"].astype("datetime64[ns]"),
        y=data["y"].astype(float),
        n=data["n"].astype(float),
    )
    for case in CASES:
        got = qi.spc(micro, x="date", y="y", n="n", by="series", **case)
        want = qi.spc(nano, x="date", y="y", n="n", by="series", **case)
        assert got.points["x"].dtype == np.dtype("datetime64[ns]")
        pd.testing.assert_frame_equal(got.points, want.points)
        pd.testing.assert_frame_equal(got.summary, want.summary)
