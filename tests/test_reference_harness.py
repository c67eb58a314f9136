"""The reference harness itself can fail: perturbed results are caught."""

from __future__ import annotations

import pandas as pd
import pytest

import qi
from tests.reference_spc import SPC_DIR, check_case, compare, load_case

pytestmark = pytest.mark.skipif(not SPC_DIR.is_dir(), reason=f"no reference cases at {SPC_DIR}")


def _points(case_id: str) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    case = load_case(case_id)
    res = qi.spc(case.data, **case.kwargs)
    assert case.expected_points is not None
    return res.points, case.expected_points, [*case.by, "x"]


def test_case_mapping_builds_phases_and_targets() -> None:
    part = load_case("q_p_part_percent")
    assert part.kwargs["phase"] == "qi_phase" and part.kwargs["multiply"] == 100
    assert part.data["qi_phase"].tolist() == [1] * 18 + [2] * (len(part.data) - 18)
    named = load_case("p_facets_named_target_rebase")
    d = named.data
    assert d.loc[d["org"] == "c", "qi_target"].isna().all()
    assert set(d.loc[d["org"] == "a", "qi_target"]) == {70.0}
    b = d[d["org"] == "b"].sort_values("date")
    assert b["qi_phase"].tolist() == [1] * 15 + [2] * 15
    assert set(d.loc[d["org"] != "b", "qi_phase"]) == {1}


@pytest.mark.parametrize(
    ("column", "change"),
    [("cl", lambda v: v * (1 + 1e-7)), ("ucl", lambda v: v + 1e-6), ("n_useful", lambda v: v + 1)],
)
def test_a_small_numeric_change_fails(column: str, change) -> None:
    actual, expected, keys = _points("q_i_exclude")
    compare(actual, expected, keys, "unchanged")
    bad = actual.copy()
    bad.loc[5, column] = change(bad.loc[5, column])
    with pytest.raises(AssertionError, match=column):
        compare(bad, expected, keys, "perturbed")


def test_a_changed_label_a_missing_column_and_a_swapped_row_fail() -> None:
    actual, expected, keys = _points("p_shift_increase")
    compare(actual, expected, keys, "unchanged")
    label = actual.copy()
    label["special_cause"] = label["special_cause"].astype(str)
    label.loc[0, "special_cause"] = "7 Points Above CL"
    with pytest.raises(AssertionError, match="special_cause"):
        compare(label, expected, keys, "label")
    with pytest.raises(AssertionError, match="'point_type' is missing"):
        compare(actual.drop(columns="point_type"), expected, keys, "column")
    swapped = actual.iloc[[1, 0, *range(2, len(actual))]]
    with pytest.raises(AssertionError):
        compare(swapped, expected, keys, "order")


def test_an_error_case_fails_when_nothing_is_raised() -> None:
    with pytest.raises(AssertionError, match="expected a ValueError"):
        check_case("p_na_trend_error", lambda data, **kw: qi.spc(data, **{**kw, "rules": "anhoej"}))
