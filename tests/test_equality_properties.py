"""Property tests of ``qi.equality`` (hypothesis): invariants that hold for any data.

- every interval contains its estimate (proportions, rates, Wald and mid-p ratios);
- swapping group and reference inverts the ratio and its intervals, keeps the
  p-value and negates the difference;
- the mid-p limits solve the mid-p equations they are defined by;
- :func:`qi.equality.gap` equals :func:`qi.equality.compare` run table by table;
- funnel limits are ordered and the unit's flag agrees with them;
- suppression hides every small count, and no suppressed count can be derived
  from what is shown (no line of the table has exactly one hidden entry, so no
  shown total minus shown cells gives a hidden cell).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy import stats

import qi
from qi.equality import _exact

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONF = st.sampled_from([0.8, 0.9, 0.95, 0.99, 0.998])

counts = st.integers(0, 5000)
pairs = st.tuples(
    st.integers(0, 400),  # group events
    st.floats(10, 1e6),  # group person-time
    st.integers(0, 400),  # reference events
    st.floats(10, 1e6),  # reference person-time
)


def _pair(a: float, pt1: float, b: float, pt0: float) -> pd.DataFrame:
    return pd.DataFrame({"g": ["x", "ref"], "e": [a, b], "t": [pt1, pt0]})


@SETTINGS
@given(st.lists(st.tuples(counts, counts), min_size=1, max_size=30), CONF)
def test_wilson_interval_contains_proportion(rows: list, conf: float) -> None:
    x = np.array([min(a, b) for a, b in rows], dtype=float)
    n = np.array([max(a, b, 1) for a, b in rows], dtype=float)
    res = qi.equality.proportions(x, n, conf=conf)
    assert (res["lower"] <= res["value"] + 1e-12).all()
    assert (res["value"] <= res["upper"] + 1e-12).all()
    assert (res["lower"] >= -1e-12).all() and (res["upper"] <= 1 + 1e-12).all()


@SETTINGS
@given(st.lists(st.tuples(counts, st.floats(1, 1e7)), min_size=1, max_size=30), CONF)
def test_rate_interval_contains_rate(rows: list, conf: float) -> None:
    x = np.array([a for a, _ in rows], dtype=float)
    n = np.array([b for _, b in rows], dtype=float)
    res = qi.equality.rates(x, n, conf=conf)
    assert (res["lower"] <= res["value"] * (1 + 1e-12)).all()
    assert (res["value"] <= res["upper"]).all()
    assert set(res["method"]) <= {"exact", "byar"}
    assert (res["method"] == np.where(x < 10, "exact", "byar")).all()


@SETTINGS
@given(pairs, CONF)
def test_rate_ratio_intervals_contain_the_ratio(pair: tuple, conf: float) -> None:
    res = qi.equality.compare(
        _pair(*pair), group="g", events="e", exposure="t", reference="ref", conf=conf
    ).iloc[0]
    a, _, b, _ = pair
    if a > 0 and b > 0:
        assert res["ratio_lower"] <= res["ratio"] * (1 + 1e-12)
        assert res["ratio"] <= res["ratio_upper"] * (1 + 1e-12)
    if a + b > 0:
        assert res["ratio_exact_lower"] <= res["ratio_exact"] * (1 + 1e-12)
        assert res["ratio_exact"] <= res["ratio_exact_upper"] * (1 + 1e-12)
        assert 0 <= res["p_value"] <= 1
    assert res["difference_lower"] <= res["difference"] <= res["difference_upper"]


def _close(x: float, y: float, rtol: float = 1e-9) -> bool:
    if np.isnan(x) and np.isnan(y):
        return True
    if np.isinf(x) or np.isinf(y):
        return bool(x == y)
    return bool(np.isclose(x, y, rtol=rtol, atol=1e-300))


def _inv(v: float) -> float:
    with np.errstate(divide="ignore"):
        return float(np.float64(1.0) / np.float64(v))


@SETTINGS
@given(pairs, CONF)
def test_swapping_group_and_reference_inverts_the_rate_ratio(pair: tuple, conf: float) -> None:
    a, pt1, b, pt0 = pair
    kw = {"group": "g", "events": "e", "exposure": "t", "reference": "ref", "conf": conf}
    one = qi.equality.compare(_pair(a, pt1, b, pt0), **kw).iloc[0]
    other = qi.equality.compare(_pair(b, pt0, a, pt1), **kw).iloc[0]
    assert _close(one["ratio"], _inv(other["ratio"]))
    if a > 0 and b > 0:  # Wald limits exist both ways
        assert _close(one["ratio_lower"], _inv(other["ratio_upper"]))
        assert _close(one["ratio_upper"], _inv(other["ratio_lower"]))
    for est, lo, hi in (("ratio_exact", "ratio_exact_lower", "ratio_exact_upper"),):
        assert _close(one[est], _inv(other[est]), 1e-8)
        assert _close(one[lo], _inv(other[hi]), 1e-8)
        assert _close(one[hi], _inv(other[lo]), 1e-8)
    assert (
        _close(one["p_value"], other["p_value"], 1e-7)
        or abs(one["p_value"] - other["p_value"]) < 1e-12
    )
    assert _close(one["difference"], -other["difference"])


@st.composite
def two_by_two(draw: st.DrawFn) -> tuple[int, int, int, int]:
    """a1 of n1 people in the group, a0 of n0 in the reference."""
    n1, n0 = draw(st.integers(1, 300)), draw(st.integers(1, 300))
    return draw(st.integers(0, n1)), n1, draw(st.integers(0, n0)), n0


@SETTINGS
@given(two_by_two(), CONF)
def test_swapping_group_and_reference_inverts_the_risk_ratio(table: tuple, conf: float) -> None:
    a1, n1, a0, n0 = table
    kw = {"group": "g", "events": "e", "exposure": "t", "reference": "ref", "conf": conf}
    kw["measure"] = "risk"
    one = qi.equality.compare(_pair(a1, n1, a0, n0), **kw).iloc[0]
    other = qi.equality.compare(_pair(a0, n0, a1, n1), **kw).iloc[0]
    assert _close(one["ratio"], _inv(other["ratio"]))
    if 0 < a1 < n1 and 0 < a0 < n0:
        assert _close(one["ratio_lower"], _inv(other["ratio_upper"]))
        assert _close(one["ratio_upper"], _inv(other["ratio_lower"]))
        assert one["ratio_lower"] <= one["ratio"] <= one["ratio_upper"]
    assert abs(one["p_value"] - other["p_value"]) < 1e-12
    assert _close(one["difference"], -other["difference"])


@SETTINGS
@given(st.integers(1, 2000), st.data(), st.sampled_from([0.0005, 0.001, 0.025, 0.05, 0.5, 0.975]))
def test_midp_limits_solve_their_equation(m: int, data: st.DataObject, target: float) -> None:
    """P(A < a) + P(A = a)/2 = target at the solved s, A ~ Bin(m, s) (epitools' definition)."""
    a = data.draw(st.integers(0, m))
    odds = _exact.solve_midp(np.array([a]), np.array([m]), np.array([target]))[0]
    if odds == 0:  # the left side at s = 0 is already at or below the target
        assert (0.5 if a == 0 else 1.0) <= target
        return
    if np.isinf(odds):
        assert (0.5 if a == m else 0.0) >= target
        return
    s = odds / (1 + odds)
    side = stats.binom.cdf(a - 1, m, s) + stats.binom.pmf(a, m, s) / 2
    assert side == pytest.approx(target, rel=1e-9, abs=1e-13)


@st.composite
def panels(draw: st.DrawFn) -> pd.DataFrame:
    """Long data: teams × months × ethnic groups, with events and person-time."""
    teams = draw(st.integers(1, 3))
    months = draw(st.integers(1, 4))
    groups = ["White", "Black", "Asian"][: draw(st.integers(2, 3))]
    rows = []
    for t in range(teams):
        for m in range(months):
            for g in groups:
                if g != "White" and draw(st.booleans()) and draw(st.booleans()):
                    continue  # some groups missing in some months
                rows.append((f"T{t}", f"2024-0{m + 1}", g, draw(st.integers(0, 60)),
                             draw(st.floats(100, 1e5))))  # fmt: skip
    return pd.DataFrame(rows, columns=["team", "month", "eth", "events", "pt"])


@SETTINGS
@given(panels(), st.sampled_from(["rate", "risk"]))
def test_gap_equals_compare_table_by_table(data: pd.DataFrame, measure: str) -> None:
    if measure == "risk":
        data = data.assign(pt=np.ceil(data["pt"]).clip(lower=60))
    kw = {"group": "eth", "events": "events", "exposure": "pt", "reference": "White"}
    kw["measure"] = measure
    res = qi.equality.gap(data, by=["team", "month"], **kw)
    for (team, month), table in data.groupby(["team", "month"]):
        want = qi.equality.compare(table, **kw).sort_values("group").reset_index(drop=True)
        got = res[(res["team"] == team) & (res["month"] == month)].reset_index(drop=True)
        if want.empty:  # only the reference in this table
            assert got.empty
            continue
        got = got.rename(columns={"eth": "group"})[want.columns]
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, atol=1e-300)


@SETTINGS
@given(
    st.lists(st.tuples(st.integers(0, 300), st.integers(1, 300)), min_size=3, max_size=25),
    st.booleans(),
    st.sampled_from([1, 100]),
)
@example(rows=[(1, 1), (1, 1), (1, 1)], od=False, mult=1)  # every unit at 100 % (found in CI)
@example(rows=[(0, 5), (0, 9), (0, 2)], od=True, mult=100)  # every unit at 0 %
def test_proportion_funnel_limits_are_ordered(rows: list, od: bool, mult: int) -> None:
    df = pd.DataFrame(
        {"unit": [f"U{i:02d}" for i in range(len(rows))],
         "x": [min(a, b) for a, b in rows], "n": [max(a, b) for a, b in rows]}
    )  # fmt: skip
    for style in ("spiegelhalter", "phe"):
        res = qi.equality.funnel(df, group="unit", numerator="x", denominator="n",
                                 overdispersion=od, multiplier=mult, style=style)  # fmt: skip
        p = res.points
        assert list(p["group"]) == sorted(df["unit"])
        tol = 1e-9 * mult  # all four meet where the pooled proportion is 0 or 1
        assert (p["lcl998"] <= p["lcl95"] + tol).all()
        assert (p["lcl95"] <= p["ucl95"] + tol).all()
        assert (p["ucl95"] <= p["ucl998"] + tol).all()
        outside = (p["value"] < p["lcl998"]) | (p["value"] > p["ucl998"])
        assert (p["outlier"] == outside).all()
        if style == "spiegelhalter":
            assert ((p["lcl998"] >= 0) & (p["ucl998"] <= mult)).all()
            assert res.adjusted == (od and res.phi > 1)


tables = st.integers(1, 5).flatmap(
    lambda r: st.integers(1, 5).flatmap(
        lambda c: st.lists(
            st.lists(st.one_of(st.integers(0, 9), st.integers(0, 60)), min_size=c, max_size=c),
            min_size=r,
            max_size=r,
        )
    )
)


@settings(max_examples=300, deadline=None)
@given(tables, st.integers(0, 10), st.sampled_from([1, 5, 10]), st.booleans())
def test_suppressed_counts_cannot_be_derived(
    cells: list, threshold: int, rounding: int, round_cells: bool
) -> None:
    table = pd.DataFrame(cells, columns=[f"g{j}" for j in range(len(cells[0]))])
    res = qi.equality.suppress(
        table, threshold=threshold, rounding=rounding, round_cells=round_cells
    )
    true, shown, hidden = res.true.to_numpy(), res.values.to_numpy(), res.mask.to_numpy()
    # every small count is hidden; zeros and shown counts are honest
    small = (true >= 1) & (true <= threshold)
    assert hidden[small].all()
    assert np.isnan(shown[hidden]).all() and not np.isnan(shown[~hidden]).any()
    assert (np.abs(shown[~hidden] - true[~hidden]) <= rounding / 2).all()
    rows, cols = table.shape
    lines = []  # (member cells, total cell) of every line with a total
    has_col_total = res.values.columns[-1] == "Total"
    has_row_total = res.values.index[-1] == "Total"
    if has_col_total:
        lines += [([(i, j) for j in range(cols)], (i, cols)) for i in range(true.shape[0])]
    if has_row_total:
        lines += [([(i, j) for i in range(rows)], (rows, j)) for j in range(true.shape[1])]
    for members, total in lines:
        n_hidden = sum(hidden[c] for c in members) + hidden[total]
        assert n_hidden != 1, f"line with total {total} has exactly one hidden entry"
        if n_hidden == 1 or hidden[total]:
            continue
        # the subtraction attack: shown total minus shown cells
        unknown = [c for c in members if hidden[c]]
        derived = shown[total] - sum(shown[c] for c in members if not hidden[c])
        for c in unknown:
            assert len(unknown) > 1 or derived != true[c]
