"""qi.submissions: which team sent which month, on small frames with answers worked by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from qi.submissions import submission_status


def test_submission_status_on_time_late_missing_and_corrected():
    stamp = pd.Timestamp
    slices = pd.DataFrame(
        {
            "team": ["A", "A", "A", "A", "B"],
            "measure": ["m"] * 5,
            "period": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-02-01", "2024-03-01",
                                      "2024-01-01"]),
            "upload_id": [1, 2, 5, 3, 4],
            "uploaded_at": [stamp("2024-02-15 23:00"), stamp("2024-03-10"), stamp("2024-05-01"),
                            stamp("2024-04-20"), stamp("2024-02-03")],
            "rolled_back_at": [None, None, None, None, None],
        }
    )  # fmt: skip
    status = submission_status(
        slices, ["A", "B"], start="2024-01", end="2024-04", today=dt.date(2024, 5, 20)
    ).set_index(["team", "period"])
    get = lambda t, p: status.loc[(t, pd.Timestamp(p))]  # noqa: E731
    assert get("A", "2024-01-01")["status"] == "on time"  # due 15 Feb, arrived that day
    assert get("A", "2024-02-01")["corrected"] and get("A", "2024-02-01")["versions"] == 2
    assert get("A", "2024-03-01")["status"] == "late" and get("A", "2024-03-01")["days_late"] == 5
    assert get("B", "2024-02-01")["status"] == "missing"
    assert get("B", "2024-02-01")["days_late"] == (dt.date(2024, 5, 20) - dt.date(2024, 3, 15)).days
    assert get("A", "2024-04-01")["status"] == "missing"  # due 15 May; today is 20 May
    earlier = submission_status(
        slices, ["A"], start="2024-04", end="2024-04", today=dt.date(2024, 5, 10)
    )
    assert earlier["status"].tolist() == ["not due yet"]


def test_a_month_sent_as_one_file_per_measure_is_not_a_correction():
    slices = pd.DataFrame({
        "team": ["A", "A"], "measure": ["m1", "m2"],
        "period": pd.to_datetime(["2025-01-01", "2025-01-01"]), "upload_id": [1, 2],
        "uploaded_at": [pd.Timestamp("2025-02-03"), pd.Timestamp("2025-02-20")],
        "rolled_back_at": [None, None],
    })  # fmt: skip
    status = submission_status(slices, ["A"], start="2025-01", end="2025-01",
                               today=dt.date(2025, 3, 1)).iloc[0]  # fmt: skip
    assert not status["corrected"] and status["versions"] == 1
    assert status["status"] == "late"  # the month is complete only when m2 arrived
