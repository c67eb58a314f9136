"""Property tests of ``qi.spc`` (hypothesis): invariants that hold for any data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qi

settings.register_profile(
    "qi", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("qi")

CHARTS_WITH_N = ["p", "pp", "u", "up"]
CHARTS_WITHOUT_N = ["run", "i", "mr", "c", "g", "t", "ip"]
RULES = sorted(qi.RULE_SETS)
COMPARED = ["y", "n", "cl", "lcl", "ucl", "lcl_95", "ucl_95", "sigma_signal", "phase"]


@st.composite
def panel(draw: st.DrawFn, max_series: int = 4) -> pd.DataFrame:
    """A long frame of several series of monthly counts with denominators."""
    n_series = draw(st.integers(1, max_series))
    rows = []
    for s in range(n_series):
        length = draw(st.integers(1, 30))
        n = draw(st.lists(st.integers(1, 200), min_size=length, max_size=length))
        frac = draw(st.lists(st.floats(0, 1), min_size=length, max_size=length))
        for t in range(length):
            rows.append((f"team {s}", t, round(frac[t] * n[t]), n[t]))
    df = pd.DataFrame(rows, columns=["team", "t", "y", "n"])
    df["month"] = pd.Timestamp("2022-01-01") + pd.to_timedelta(df["t"] * 31, unit="D")
    df["month"] = df["month"].dt.to_period("M").dt.to_timestamp()
    df["y"] = df["y"].astype(float)
    return df


def _by_series(result: qi.SPCResult) -> dict[str, pd.DataFrame]:
    pts = result.points
    return {k: g.reset_index(drop=True) for k, g in pts.groupby("team", sort=True)}


def _assert_same(a: pd.DataFrame, b: pd.DataFrame, cols: list[str]) -> None:
    pd.testing.assert_frame_equal(
        a[cols].reset_index(drop=True), b[cols].reset_index(drop=True), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("rules", RULES)
@pytest.mark.parametrize("chart", CHARTS_WITH_N)
@given(data=panel(), seed=st.integers(0, 2**32 - 1))
def test_row_order_does_not_matter(data: pd.DataFrame, seed: int, chart: str, rules: str) -> None:
    kw = dict(y="y", n="n", x="month", by="team", chart=chart, rules=rules)
    ref = qi.spc(data, **kw)
    shuffled = data.sample(frac=1.0, random_state=seed % 2**31)
    got = qi.spc(shuffled, **kw)
    cols = ["team", "x", *COMPARED, *list(qi.RULE_SETS[rules].point_columns)]
    _assert_same(ref.points, got.points, cols)
    pd.testing.assert_frame_equal(ref.summary, got.summary)


@pytest.mark.parametrize("chart", [*CHARTS_WITH_N, "i"])
@given(data=panel(max_series=1), seed=st.integers(0, 10_000))
def test_series_alone_equals_series_among_a_thousand(
    data: pd.DataFrame, seed: int, chart: str
) -> None:
    rng = np.random.default_rng(seed)
    months = pd.date_range("2020-01-01", periods=24, freq="MS")
    others = pd.DataFrame(
        {
            "team": np.repeat([f"other {i:04d}" for i in range(1000)], 24),
            "month": np.tile(months, 1000),
            "n": rng.integers(20, 120, 24_000),
        }
    )
    others["y"] = rng.binomial(others["n"], 0.3).astype(float)
    kw = dict(y="y", n="n", x="month", by="team", chart=chart)
    alone = qi.spc(data, **kw)
    together = qi.spc(pd.concat([others, data], ignore_index=True), **kw)
    team = data["team"].iloc[0]
    got = together.points[together.points["team"] == team]
    cols = ["x", *COMPARED, "runs_signal", "longest_run", "n_crossings", "n_useful"]
    _assert_same(alone.points, got, cols)
    summ = together.summary[together.summary["team"] == team].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone.summary, summ)


@given(
    # values in hundredths: no subnormal or nearly-equal floats that a·y + b would merge
    y=st.lists(st.integers(-100_000, 100_000).map(lambda v: v / 100), min_size=2, max_size=40),
    a=st.floats(0.01, 100),
    b=st.floats(-1e3, 1e3),
)
def test_i_chart_is_affine_equivariant(y: list[float], a: float, b: float) -> None:
    df = pd.DataFrame({"y": y})
    df["z"] = a * df["y"] + b
    r0 = qi.spc(df, y="y", chart="i").points
    r1 = qi.spc(df, y="z", chart="i").points
    for col in ("cl", "lcl", "ucl", "lcl_95", "ucl_95"):
        np.testing.assert_allclose(
            r1[col], a * r0[col] + b, rtol=1e-9, atol=1e-9 * (abs(b) + a * 1e3)
        )


@given(data=panel())
def test_p_chart_limits_stay_within_0_and_1(data: pd.DataFrame) -> None:
    for chart in ("p", "pp"):
        pts = qi.spc(data, y="y", n="n", x="month", by="team", chart=chart).points
        for col in ("lcl", "ucl", "lcl_95", "ucl_95"):
            v = pts[col].dropna()
            assert ((v >= 0) & (v <= 1)).all(), (chart, col, v[(v < 0) | (v > 1)])


@pytest.mark.parametrize("rules", RULES)
@pytest.mark.parametrize("chart", CHARTS_WITHOUT_N)
@given(
    y=st.lists(st.one_of(st.none(), st.integers(1, 60)), min_size=1, max_size=30),
)
def test_every_chart_and_rule_set_returns_the_documented_frames(
    y: list[int | None], chart: str, rules: str
) -> None:
    """One conformance check over the registries: any series gives well-formed frames."""
    df = pd.DataFrame({"y": [np.nan if v is None else float(v) for v in y]})
    try:
        res = qi.spc(df, y="y", chart=chart, rules=rules)
    except ValueError as err:  # the one error NHSRplotthedots gives on purpose
        assert rules == "mdc" and "missing value" in str(err)
        return
    pts, summ = res.points, res.summary
    assert list(pts.columns[:13]) == [
        "x",
        "y",
        "n",
        "phase",
        "baseline",
        "include",
        "cl",
        "lcl",
        "ucl",
        "lcl_95",
        "ucl_95",
        "target",
        "sigma_signal",
    ]
    assert len(pts) == len(df)
    assert list(pts["x"]) == list(range(1, len(df) + 1))
    for col in qi.RULE_SETS[rules].point_columns:
        assert col in pts.columns
    assert len(summ) == 1 and summ["phase"].tolist() == [1]
    lo, hi = pts["lcl"], pts["ucl"]
    both = lo.notna() & hi.notna()
    assert (lo[both] <= hi[both] + 1e-9).all()
    assert pts["sigma_signal"].dtype == bool
