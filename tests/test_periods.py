"""Periods of any frequency: months, financial quarters and financial years, read from
what files really hold (never by guessing), charted, exported and due for completeness
by the measure's frequency."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from qi import periods
from qi.cli import main
from qi.store.validation import parse_periods
from qi.submissions import status_grid, submission_status
from tests.conftest import HEADER

T = pd.Timestamp


# ---------------------------------------------------------------- the arithmetic
@pytest.mark.parametrize(
    ("day", "frequency", "start", "label"),
    [
        ("2024-03-17", "month", "2024-03-01", "2024-03"),
        ("2024-04-01", "quarter", "2024-04-01", "2024/25 Q1"),
        ("2024-06-30", "quarter", "2024-04-01", "2024/25 Q1"),
        ("2024-12-31", "quarter", "2024-10-01", "2024/25 Q3"),
        ("2025-02-10", "quarter", "2025-01-01", "2024/25 Q4"),
        ("2025-03-31", "year", "2024-04-01", "2024/25"),
        ("2025-04-01", "year", "2025-04-01", "2025/26"),
        ("1999-05-01", "year", "1999-04-01", "1999/00"),
    ],
)
def test_a_day_lies_in_one_period_of_each_frequency(day, frequency, start, label):
    assert periods.start(day, frequency) == T(start)
    assert periods.label(day, frequency) == label
    assert periods.end(day, frequency) == periods.next_start(day, frequency) - pd.Timedelta("1D")


def test_period_ranges_and_ends():
    assert list(periods.period_range("2024-05-03", "2025-02-01", "quarter")) == [
        T("2024-04-01"), T("2024-07-01"), T("2024-10-01"), T("2025-01-01"),
    ]  # fmt: skip
    assert len(periods.period_range("2025-01-01", "2024-01-01")) == 0
    ends = pd.to_datetime(["2024-02-29", "2023-02-28", "2024-02-28", "2024-06-30", "2025-03-31"])
    assert periods.is_end(ends, "month").tolist() == [True, True, False, True, True]
    assert periods.is_end(ends, "quarter").tolist() == [False, False, False, True, True]
    assert periods.is_end(ends, "year").tolist() == [False, False, False, False, True]
    assert [periods.frequency_of(t) for t in ("", "Quarterly", "annual", "FY", "weekly")] == [
        "month", "quarter", "year", "year", None,
    ]  # fmt: skip


# ---------------------------------------------------------------- reading a file's periods
ACCEPTED = [
    # (text, frequency, first day)
    ("2024-04", "month", "2024-04-01"),
    ("2024-04-01", "month", "2024-04-01"),
    ("2024-04-01 00:00:00", "month", "2024-04-01"),
    ("2024-04-01 00:00:00.000", "month", "2024-04-01"),
    ("2024-04-01T00:00:00", "month", "2024-04-01"),
    ("202404", "month", "2024-04-01"),
    ("20240401", "month", "2024-04-01"),
    ("01/04/2024", "month", "2024-04-01"),
    ("Apr-24", "month", "2024-04-01"),
    ("April 2024", "month", "2024-04-01"),
    ("Sept 2024", "month", "2024-09-01"),
    ("2024/25 Q1", "quarter", "2024-04-01"),
    ("2024-25 Q3", "quarter", "2024-10-01"),
    ("Q4 2024/25", "quarter", "2025-01-01"),
    ("FY2024/25 Q2", "quarter", "2024-07-01"),
    ("2024-07", "quarter", "2024-07-01"),
    ("2024-07-01 00:00:00", "quarter", "2024-07-01"),
    ("2024/25", "year", "2024-04-01"),
    ("2024-25", "year", "2024-04-01"),
    ("2024/2025", "year", "2024-04-01"),
    ("FY 2024-25", "year", "2024-04-01"),
    ("2024-04-01", "year", "2024-04-01"),
    ("2011-12", "year", "2011-04-01"),  # a financial year for an annual measure...
    ("2011-12", "month", "2011-12-01"),  # ...and December 2011 for a monthly one
]


@pytest.mark.parametrize(("text", "frequency", "first"), ACCEPTED)
def test_each_accepted_spelling(text, frequency, first):
    read, why = parse_periods(pd.Series([text]), frequency)
    assert why.tolist() == [""] and read.tolist() == [T(first)]


REFUSED = [
    # (text, frequency, words of the message)
    ("Marchh 2024", "month", "'Marchh 2024' is not a month"),
    ("Mar 2024 (provisional)", "month", "is not a month"),
    ("2024-13", "month", "'2024-13' is not a month"),
    ("2024-02-30", "month", "'2024-02-30' is not a date"),
    ("15/04/2024", "month", "is a day, not a month"),
    ("2024-04-01 13:45:00", "month", "has a time of day"),
    ("2024/25 Q1", "month", "is a quarter, but measure 'm' is monthly"),
    ("2024/25", "month", "is a financial year, but measure 'm' is monthly"),
    ("2024/26", "year", "'2024/26' is not a financial year"),
    ("2024 Q1", "quarter", "does not say whether it is a calendar or a financial quarter"),
    ("Q1 2024", "quarter", "does not say whether it is a calendar or a financial quarter"),
    ("2024", "year", "does not say whether it is a calendar or a financial year"),
    ("2024-05", "quarter", "is not the start of a quarter"),
    ("2024-05-01", "year", "is not the start of a financial year"),
    ("2024/25 Q2", "year", "is a quarter, but measure 'm' is annual"),
    ("", "quarter", "period is empty: give the quarter"),
]


@pytest.mark.parametrize(("text", "frequency", "words"), REFUSED)
def test_each_refused_spelling_says_why(text, frequency, words):
    read, why = parse_periods(pd.Series([text]), frequency, pd.Series(["m"]))
    assert read.isna().all()
    assert words in why.iloc[0], why.iloc[0]


def test_dates_that_are_all_period_ends_are_read_as_their_period():
    ends = pd.Series(["2024-01-31", "2024-02-29", "2024-03-31"])
    assert parse_periods(ends)[0].tolist() == [T("2024-01-01"), T("2024-02-01"), T("2024-03-01")]
    quarters = pd.Series(["30/06/2024", "30/09/2024"])
    assert parse_periods(quarters, "quarter")[0].tolist() == [T("2024-04-01"), T("2024-07-01")]
    # mixed with first days, a month end is refused: which month it means is not sure
    read, why = parse_periods(pd.Series(["2024-01-31", "2024-03-01"]))
    assert read.isna().tolist() == [True, False]
    assert "is the last day of a month, but other dates given in this file are not" in why[0]


def test_one_mistake_on_every_row_gives_the_same_message_but_for_its_value():
    """So that many rows sharing one mistake can be told as one line: the messages differ
    only in the quoted value."""
    import re

    texts = pd.Series([f"2024-{m:02d}-01 13:00" for m in range(1, 13)] * 1000)
    read, why = parse_periods(texts, "month", pd.Series(["restraint"] * len(texts)))
    assert read.isna().all()
    assert {re.sub(r"'[^']*'", "'…'", w) for w in why} == {
        "'…' has a time of day: give the month, as 2024-03, 2024-03-01, 01/03/2024, Mar-24, "
        "March 2024 or 202403"
    }


def test_a_future_period_of_each_frequency():
    today = dt.date(2025, 5, 20)  # in 2025/26 Q1
    texts = pd.Series(["2025-05", "2025-06", "2025/26 Q1", "2025/26 Q2", "2025/26", "2026/27"])
    freqs = pd.Series(["month", "month", "quarter", "quarter", "year", "year"])
    read, why = parse_periods(texts, freqs, today=today)
    assert read.notna().tolist() == [True, False, True, False, True, False]
    assert [bool(w) for w in why] == [False, True, False, True, False, True]
    assert all("lies in the future" in w for w in why if w)


# ---------------------------------------------------------------- a quarterly measure, end to end
QUARTERLY = (
    "id,name,definition,numerator_definition,denominator_definition,unit,multiplier,chart,"
    "improvement,target,groups,frequency\n"
    "seclusion,Seclusion episodes per 1000 bed days,,episodes,bed days,per 1000 OBD,1000,u,"
    "decrease,,Asian;Black;Mixed;White;Other;Not stated,quarterly\n"
)


def _quarterly(store, tmp_path) -> str:
    url = store.engine.url.render_as_string(False)
    (tmp_path / "measures.csv").write_text(QUARTERLY)
    assert main(["--db", url, "measures", str(tmp_path / "measures.csv")]) == 0
    return url


def test_a_quarterly_measure_is_stored_charted_exported_and_due_by_quarter(store, tmp_path, capsys):
    from qi import screens
    from qi.snapshot import Snapshot

    url = _quarterly(store, tmp_path)
    quarters = [f"{y}/{(y + 1) % 100:02d} Q{q}" for y in (2022, 2023, 2024) for q in (1, 2, 3, 4)]
    rows = [
        f"{team},seclusion,{q},{g},{(i * 7 + len(g)) % 5},{900 + i}"
        for i, q in enumerate(quarters)
        for team in ("Willow Ward", "Oak Ward")
        for g in ("Black", "White")
    ]
    (tmp_path / "q.csv").write_text(HEADER + "\n".join(rows) + "\n")
    assert main(["--db", url, "import", str(tmp_path / "q.csv")]) == 0
    data = store.observations(measures=["seclusion"])
    assert sorted(data["period"].unique())[:2] == [T("2022-04-01"), T("2022-07-01")]
    # exported as quarters, and read back
    out = tmp_path / "export.csv"
    assert main(["--db", url, "export", "--output", str(out)]) == 0
    exported = pd.read_csv(out, encoding="utf-8-sig")
    assert sorted(set(exported["period"])) == sorted(quarters)
    # the chart's hover labels are quarters
    snap = Snapshot.from_store(store)
    chart = screens.team_chart(snap, unit="Willow Ward", measure="seclusion")
    hover = {t.split("<br>")[0] for trace in chart.figure().data for t in (trace.hovertext or ())}
    assert "2024/25 Q4" in hover
    board = screens.board(snap, today=dt.date(2025, 5, 20))
    assert set(board.rows.loc[board.rows["measure"] == "seclusion", "period"]) == {T("2025-01-01")}
    # completeness: due per quarter, by the 15th of the month after the quarter
    view = screens.completeness(snap, today=dt.date(2025, 5, 20))
    quarterly = view.status[view.status["frequency"] == "quarter"]
    assert set(quarterly["team"]) == {"Willow Ward", "Oak Ward"}
    assert quarterly["period"].max() == T("2025-01-01")  # 2024/25 Q4, the last one ended
    q4 = quarterly[quarterly["period"] == T("2025-01-01")]
    assert (q4["due"] == T("2025-04-15")).all() and (q4["status"] == "late").all()
    assert "2024/25 Q4" in view.grid().columns


def test_submission_status_by_frequency():
    stamp = pd.Timestamp
    slices = pd.DataFrame(
        {
            "team": ["A", "A", "B", "A"],
            "measure": ["monthly", "quarterly", "monthly", "annual"],
            "period": pd.to_datetime(["2024-04-01", "2024-04-01", "2024-04-01", "2023-04-01"]),
            "upload_id": [1, 2, 3, 4],
            "uploaded_at": [stamp("2024-05-10"), stamp("2024-07-10"), stamp("2024-05-20"),
                            stamp("2024-04-30")],
            "rolled_back_at": [None] * 4,
        }
    )  # fmt: skip
    status = submission_status(
        slices, ["A", "B"], start="2024-04", end="2024-06", today=dt.date(2024, 8, 1),
        frequencies={"monthly": "month", "quarterly": "quarter", "annual": "year"},
    )  # fmt: skip
    got = {
        (r.frequency, r.team, r.period.strftime("%Y-%m")): r.status
        for r in status.itertuples(index=False)
    }
    assert got == {
        ("month", "A", "2024-04"): "on time", ("month", "A", "2024-05"): "missing",
        ("month", "A", "2024-06"): "missing", ("month", "B", "2024-04"): "late",
        ("month", "B", "2024-05"): "missing", ("month", "B", "2024-06"): "missing",
        # only A sends the quarterly and annual measures; 2024/25 Q1 was due on 15 July
        ("quarter", "A", "2024-04"): "on time",
        # the annual one: 2024/25 (April 2024) is not due until 15 April 2025
        ("year", "A", "2024-04"): "not due yet",
    }  # fmt: skip
    assert list(status_grid(status).columns) == ["2024-04", "2024-05", "2024-06", "2024/25 Q1",
                                                 "2024/25"]  # fmt: skip
