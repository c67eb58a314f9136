"""Bad input gets a ValueError that names the argument, column and series, and what to do."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import qi


@pytest.fixture
def data() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "team": ["Ward A"] * 4 + ["Ward B"] * 4,
            "month": list(pd.date_range("2024-01-01", periods=4, freq="MS")) * 2,
            "events": [3.0, 4.0, 2.0, 5.0, 1.0, 2.0, 3.0, 4.0],
            "patients": [20.0, 25.0, 18.0, 30.0, 10.0, 12.0, 15.0, 16.0],
        }
    )


def test_missing_column_is_named_with_its_argument(data: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"Column 'evnts' \(the 'y' argument of qi.spc\) is not"):
        qi.spc(data, y="evnts", x="month", chart="c")


def test_by_column_that_is_not_there(data: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"Column 'ward' \(the 'by' argument.*columns: team"):
        qi.spc(data, y="events", x="month", by="ward")


def test_non_numeric_value_names_column_series_and_row(data: pd.DataFrame) -> None:
    bad = data.astype({"events": object})
    bad.loc[6, "events"] = "three"
    with pytest.raises(ValueError) as err:
        qi.spc(bad, y="events", n="patients", x="month", by="team", chart="p")
    msg = str(err.value)
    assert "Column 'events'" in msg and "team='Ward B'" in msg and "'three'" in msg
    assert "data row 6" in msg


def test_numbers_written_as_text_are_accepted(data: pd.DataFrame) -> None:
    text = data.astype({"events": str})
    a = qi.spc(text, y="events", x="month", by="team", chart="c").points
    b = qi.spc(data, y="events", x="month", by="team", chart="c").points
    pd.testing.assert_frame_equal(a, b)


def test_t_chart_needs_positive_times(data: pd.DataFrame) -> None:
    data.loc[1, "events"] = 0
    with pytest.raises(ValueError, match=r"greater than zero.*team='Ward A'.*has 0"):
        qi.spc(data, y="events", x="month", by="team", chart="t")


def test_p_chart_numerator_above_denominator(data: pd.DataFrame) -> None:
    data.loc[5, "events"] = 40
    with pytest.raises(
        ValueError, match=r"no larger than their denominators.*team='Ward B'.*40 out of 12"
    ):
        qi.spc(data, y="events", n="patients", x="month", by="team", chart="p")


@pytest.mark.parametrize("chart", ["c", "u", "p", "g"])
def test_negative_count(data: pd.DataFrame, chart: str) -> None:
    data.loc[2, "events"] = -1
    kw = {"n": "patients"} if qi.CHART_TYPES[chart].needs_n else {}
    with pytest.raises(ValueError, match=r"cannot be negative.*team='Ward A'"):
        qi.spc(data, y="events", x="month", by="team", chart=chart, **kw)


def test_negative_denominator(data: pd.DataFrame) -> None:
    data.loc[3, "patients"] = -5
    with pytest.raises(ValueError, match=r"Column 'patients': denominators cannot be negative"):
        qi.spc(data, y="events", n="patients", x="month", by="team", chart="u")


def test_chart_needing_a_denominator(data: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"'u' chart needs a denominator: pass n="):
        qi.spc(data, y="events", x="month", chart="u")


@pytest.mark.parametrize(
    ("arg", "value"),
    [("chart", "pp2"), ("rules", "nelson9"), ("agg", "mode"), ("improvement", "up")],
)
def test_unknown_choice_lists_the_allowed_ones(data: pd.DataFrame, arg: str, value: str) -> None:
    kw = {"chart": "i", arg: value}
    with pytest.raises(ValueError, match=rf"The '{arg}' argument of qi.spc must be one of"):
        qi.spc(data, y="events", x="month", **kw)


def test_missing_values_and_zero_denominators_are_not_errors(data: pd.DataFrame) -> None:
    data.loc[1, "events"] = np.nan
    data.loc[2, ["events", "patients"]] = 0
    pts = qi.spc(data, y="events", n="patients", x="month", by="team", chart="p").points
    assert np.isnan(pts.loc[1, "y"]) and pts.loc[1, "n"] == 0
    assert np.isnan(pts.loc[2, "y"]) and np.isnan(pts.loc[2, "ucl"])
