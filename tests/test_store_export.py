"""Writing tables fast (whole columns at once; Excel through XlsxWriter) changes nothing a
person sees: text that looks like a formula stays text, numbers stay numbers, whole
counts are written whole, missing values are empty, dates are dates."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from openpyxl import load_workbook

from qi.store.export import table_bytes
from qi.store.uploads import _whole_as_int

FRAME = pd.DataFrame(
    {
        "team": pd.array(["=SUM(A1)", "Oak Ward", "+44 ward", None], dtype="str"),
        "mixed": pd.Series(["*", -3, "-3", 2.5], dtype=object),
        "count": [3.0, np.nan, 1e20, -0.0],
        "month": pd.to_datetime(["2024-03-01", None, "2024-04-01", "2024-05-01"]),
        "flag": [True, False, True, False],
    }
)


def test_excel_cells_keep_their_kind():
    sheet = load_workbook(io.BytesIO(table_bytes(FRAME, "xlsx"))).active
    assert [c.value for c in sheet[1]] == list(FRAME.columns)
    first = sheet[2]
    assert first[0].value == "=SUM(A1)" and first[0].data_type == "s"  # text, never a formula
    assert first[1].value == "*" and first[1].data_type == "s"
    assert first[2].value == 3 and first[2].data_type == "n"
    assert first[3].is_date and first[3].value.date().isoformat() == "2024-03-01"
    assert first[4].value is True
    assert sheet["B3"].value == -3 and sheet["B3"].data_type == "n"  # a negative number
    assert sheet["B4"].value == "-3" and sheet["B4"].data_type == "s"  # text as typed
    assert sheet["C3"].value is None and sheet["D3"].value is None  # missing: empty
    assert sheet["A5"].value is None


def test_csv_neutralises_only_text():
    text = table_bytes(FRAME, "csv").decode("utf-8-sig").splitlines()
    assert text[1].startswith("'=SUM(A1),*,3.0,")
    assert text[2].startswith("Oak Ward,-3,,")  # the number -3 is not text: untouched
    assert text[3].startswith("'+44 ward,'-3,1e+20,")


def test_whole_counts_are_written_whole():
    got = _whole_as_int(pd.Series([3.0, 2.5, np.nan, 1e20, -0.0, np.inf])).tolist()
    assert got[0] == 3 and isinstance(got[0], int)
    assert got[1] == 2.5 and np.isnan(got[2]) and got[5] == np.inf
    assert got[3] == 10**20 and isinstance(got[3], int)
    assert got[4] == 0 and isinstance(got[4], int)
