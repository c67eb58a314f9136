"""Reading observations: read in blocks, as columns, with the months asked for bounding the
ranking of versions too; the same rows as reading everything and filtering."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select

from qi.store import Store, _frames
from qi.store.models import Observation
from tests.conftest import HEADER


@pytest.fixture
def versions(store: Store, tmp_path) -> Store:
    """Two teams over four months, with a correction and a rollback among the versions."""
    rows = [
        f"{team},restraint,2024-0{m},{g},{m + i},{100 + m}"
        for i, team in enumerate(["Willow Ward", "Oak Ward"])
        for m in (1, 2, 3, 4)
        for g in ("All", "Black", "White")
    ]
    first = tmp_path / "first.csv"
    first.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    store.import_file(first, uploaded_at="2024-05-02T09:00:00")
    fixed = tmp_path / "fixed.csv"
    fixed.write_text(HEADER + "Willow Ward,restraint,2024-03,All,30,103\n", encoding="utf-8")
    store.import_file(fixed, uploaded_at="2024-05-09T09:00:00")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text(HEADER + "Oak Ward,restraint,2024-02,All,99,102\n", encoding="utf-8")
    withdrawn = store.import_file(wrong, uploaded_at="2024-05-10T09:00:00")
    store.rollback(withdrawn.upload_id)
    return store


def test_months_asked_for_give_the_rows_of_reading_all_and_filtering(versions: Store):
    everything = versions.observations()
    willow = everything[everything["team"].eq("Willow Ward") & everything["group"].eq("All")]
    assert willow["numerator"].tolist() == [1.0, 2.0, 30.0, 4.0]  # March corrected
    for start, end in [("2024-02", None), (None, "2024-03"), ("2024-02", "2024-03"),
                       ("2024-04-01", "2024-04-30")]:  # fmt: skip
        some = versions.observations(start=start, end=end)
        keep = pd.Series(True, index=everything.index)
        if start:
            keep &= everything["period"] >= pd.Timestamp(start).replace(day=1)
        if end:
            keep &= everything["period"] <= pd.Timestamp(end)
        pd.testing.assert_frame_equal(some, everything[keep].reset_index(drop=True))
    assert len(versions.observations(start="2024-02", as_of="2024-05-03")) == 18


def test_a_read_in_small_blocks_is_the_read_in_one(versions: Store, monkeypatch):
    whole = versions.observations()
    monkeypatch.setattr(_frames, "BLOCK", 5)
    o = Observation.__table__
    with versions.engine.connect() as conn:
        blocks = _frames.read_frame(conn, select(o.c.id, o.c.group), ["id", "group"], block=5)
        one = _frames.read_frame(conn, select(o.c.id, o.c.group), ["id", "group"], block=10**6)
    pd.testing.assert_frame_equal(blocks, one)
    assert len(blocks) == versions.counts()["observation"]
    pd.testing.assert_frame_equal(versions.observations(), whole)  # in blocks of 5 rows
