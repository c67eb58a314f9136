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
    whole, slices = versions.observations(), versions.upload_slices()
    assert len(whole) > 5 and len(slices) > 5
    monkeypatch.setattr(_frames, "CURSOR_BLOCK", 5)  # (SQLite's cursor; PostgreSQL's COPY)
    pd.testing.assert_frame_equal(versions.observations(), whole)  # in blocks of 5 rows
    pd.testing.assert_frame_equal(versions.upload_slices(), slices)


def _plain(store: Store, *, teams=None, start=None, end=None, as_of=None) -> pd.DataFrame:
    """What :meth:`Store.observations` must give, read the plain way: one query joining
    the team's names on every row, SQLAlchemy's rows and types, pandas' sort."""
    from qi.store.core import as_utc
    from qi.store.models import ICS, Collaborative, Team, Trust, Upload
    from qi.store.uploads import OBSERVATION_COLUMNS, _shown

    o, u = Observation.__table__, Upload.__table__
    query = (
        select(Collaborative.name, ICS.name, Trust.name, Team.name, o.c.measure_id,
               o.c.period, o.c.group, o.c.broad_group, o.c.numerator, o.c.denominator,
               o.c.upload_id)
        .join(u, o.c.upload_id == u.c.id)
        .join(Team, Team.id == o.c.team_id)
        .join(Trust, Team.trust_id == Trust.id)
        .join(ICS, Trust.ics_id == ICS.id)
        .join(Collaborative, ICS.collaborative_id == Collaborative.id)
        .where(_shown(o, u, as_utc(as_of)))
    )  # fmt: skip
    if teams is not None:
        query = query.where(Team.name.in_(teams))
    if start is not None:
        query = query.where(o.c.period >= pd.Timestamp(start).date())
    if end is not None:
        query = query.where(o.c.period <= pd.Timestamp(end).date())
    with store.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(query)]
    frame = pd.DataFrame.from_records(rows, columns=list(OBSERVATION_COLUMNS))
    frame["period"] = pd.to_datetime(frame["period"]).dt.as_unit("s")
    for col in ("numerator", "denominator"):
        frame[col] = pd.to_numeric(frame[col]).astype(float)
    frame["upload_id"] = frame["upload_id"].astype("int64")
    return frame.sort_values(["team", "measure", "group", "period"], ignore_index=True)


#: texts that a CSV or a driver could get wrong, and numbers that only read back
#: exactly when every digit is kept
AWKWARD = [
    ('a "quoted", comma', 0.1 + 0.2, None),
    ("two\nlines\tand a tab", 1e-300, 3.0),
    ("", 123456789.12345679, 0.3333333333333333),
    ("NULL", 2.0**70, None),
    ("\\N back\\slash", -0.0, 7.5),
    ("Ærø – “curly” 🙂", 5e-324, 1.7976931348623157e308),
]


@pytest.fixture
def awkward(versions: Store) -> Store:
    """The versions above, plus an upload of rows with awkward texts and numbers put
    straight into the tables (no upload file could hold them all)."""
    from sqlalchemy import insert

    from qi.store.models import Team, Upload

    with versions.engine.begin() as conn:
        upload = conn.execute(
            insert(Upload)
            .values(file_name="awkward", checksum="0" * 64, row_count=len(AWKWARD),
                    uploaded_by="test", uploaded_at=pd.Timestamp("2024-05-20").to_pydatetime(),
                    note="")
            .returning(Upload.id)
        ).scalar_one()  # fmt: skip
        team = conn.scalar(select(Team.id).where(Team.name == '=HYPERLINK("x") Team'))
        conn.execute(
            insert(Observation),
            [
                {"upload_id": upload, "team_id": team, "measure_id": "wait_days",
                 "period": pd.Timestamp(f"2024-0{i + 1}-01").date(), "group": text,
                 "broad_group": text[::-1], "numerator": num, "denominator": den}
                for i, (text, num, den) in enumerate(AWKWARD)
            ],
        )  # fmt: skip
    return versions


def test_the_columnar_read_is_the_plain_read(awkward: Store):
    """The read as columns (driver rows straight into arrays on SQLite, the server's
    CSV parsed by pyarrow on PostgreSQL; texts coded, sorted on codes) gives exactly
    the frame of the plain read: columns, dtypes, values, order."""
    for kw in [{}, {"as_of": "2024-05-03"}, {"as_of": "2024-05-09T12:00:00"},
               {"start": "2024-02"}, {"end": "2024-03"}, {"start": "2024-02", "end": "2024-03"},
               {"as_of": "2024-05-10T10:00:00", "start": "2024-02"},
               {"teams": ["Oak Ward"]}, {"as_of": "2020-01-01"}]:  # fmt: skip
        fast = awkward.observations(**kw)
        pd.testing.assert_frame_equal(fast, _plain(awkward, **kw), check_exact=True, obj=str(kw))
    everything = awkward.observations()
    weird = everything[everything["measure"].eq("wait_days")].sort_values("period")
    assert weird["group"].tolist() == [t for t, _, _ in AWKWARD]
    assert weird["numerator"].tolist() == [n for _, n, _ in AWKWARD]  # every digit kept
    assert weird["denominator"].isna().tolist() == [d is None for _, _, d in AWKWARD]


def test_a_persons_columnar_read_is_their_plain_read(awkward: Store):
    """A read limited to a person's scope: the teams they may read, nothing more."""
    awkward.add_user("fac", password="facilitator pass 1", role="facilitator",
                     scope="collaborative", name="Test Collaborative", user="set-up")  # fmt: skip
    fac = awkward.sign_in("fac", "facilitator pass 1")
    fac.add_user("hill", password="hill trust reader", role="board_viewer", scope="trust",
                 name="Hill Trust")  # fmt: skip
    hill = awkward.sign_in("hill", "hill trust reader")
    for kw in [{}, {"as_of": "2024-05-09T12:00:00", "start": "2024-02"}]:
        mine = hill.observations(**kw)
        assert set(mine["team"]) == {"Willow Ward", "Oak Ward"}
        expected = _plain(awkward, teams=["Willow Ward", "Oak Ward"], **kw)
        pd.testing.assert_frame_equal(mine, expected, check_exact=True)


def _plain_slices(store: Store, teams=None) -> pd.DataFrame:
    """What :meth:`Store.upload_slices` must give, read the plain way: one query of
    SQLAlchemy's rows joining the uploads and teams, pandas' sort."""
    from qi.store.models import Team, Upload

    o = Observation.__table__
    query = (
        select(Team.name, o.c.measure_id, o.c.period, o.c.upload_id, Upload.uploaded_at,
               Upload.rolled_back_at, Upload.uploaded_by)
        .join(Team, Team.id == o.c.team_id)
        .join(Upload, Upload.id == o.c.upload_id)
        .distinct()
    )  # fmt: skip
    if teams is not None:
        query = query.where(Team.name.in_(teams))
    with store.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(query)]
    cols = ["team", "measure", "period", "upload_id", "uploaded_at", "rolled_back_at",
            "uploaded_by"]  # fmt: skip
    frame = pd.DataFrame.from_records(rows, columns=cols)
    frame["period"] = pd.to_datetime(frame["period"]).dt.as_unit("s")
    return frame.sort_values(["team", "measure", "period", "upload_id"], ignore_index=True)


def test_the_columnar_upload_slices_are_the_plain_read(awkward: Store):
    """Every upload's team × measure × month, read as columns, is exactly the plain
    read: for everyone, and for a reader of one trust (their teams only)."""
    pd.testing.assert_frame_equal(awkward.upload_slices(), _plain_slices(awkward),
                                  check_exact=True)  # fmt: skip
    awkward.add_user("fac", password="facilitator pass 1", role="facilitator",
                     scope="collaborative", name="Test Collaborative", user="set-up")  # fmt: skip
    fac = awkward.sign_in("fac", "facilitator pass 1")
    fac.add_user("hill", password="hill trust reader", role="board_viewer", scope="trust",
                 name="Hill Trust")  # fmt: skip
    mine = awkward.sign_in("hill", "hill trust reader").upload_slices()
    expected = _plain_slices(awkward, teams=["Willow Ward", "Oak Ward"])
    pd.testing.assert_frame_equal(mine, expected, check_exact=True)
    assert len(expected) and (expected["rolled_back_at"].notna().any())


def test_imported_numbers_and_texts_are_stored_exactly(store: Store, tmp_path):
    """The rows an import stores (sent as one CSV by COPY on PostgreSQL, row by row on
    SQLite) read back as the validated rows: every digit, and no denominator as NULL."""
    rows = [
        "Willow Ward,wait_days,2024-01,Black,0.30000000000000004,",
        "Willow Ward,wait_days,2024-02,Black,123456789.12345679,",
        "Willow Ward,wait_days,2024-03,Black,1e-05,",
        "Oak Ward,restraint,2024-01,White,3,1000.5",
        '"=HYPERLINK(""x"") Team",restraint,2024-01,Mixed,0,7',
    ]
    path = tmp_path / "exact.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    clean, problems = store.validate(path)
    assert not problems
    assert store.import_file(path).ok
    stored = _plain(store)
    assert len(stored) == len(clean) == len(rows)
    expected = clean.sort_values(["team", "measure", "group", "period"], ignore_index=True)
    for col in ("team", "measure", "group", "broad_group"):
        assert stored[col].tolist() == expected[col].tolist()
    assert stored["numerator"].tolist() == expected["numerator"].astype(float).tolist()
    assert stored["denominator"].isna().tolist() == expected["denominator"].isna().tolist()
    assert stored["denominator"].dropna().tolist() == [7.0, 1000.5]
    assert stored["numerator"].tolist()[2:5] == [0.30000000000000004, 123456789.12345679, 1e-05]
    pd.testing.assert_frame_equal(store.observations(), stored, check_exact=True)
