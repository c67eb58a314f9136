"""The import's fast paths give what the plain ways gave: names compared once per
distinct text (:func:`qi.store.intake.per_distinct`), the stored versions an upload
meets read into columns (``_versions``, on SQLite and PostgreSQL), the replaced
values printed from only the lines shown (:func:`qi.store.uploads.replacement_lines`),
and a wide sheet's months read as rows with numpy (``_unpivot``) as a melt read them.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import case, select

from qi.store import intake, uploads
from qi.store.columns import header_key, name_key
from qi.store.intake import per_distinct
from qi.store.models import Observation, Team, Upload
from tests.conftest import HEADER

GROUPS = ("Asian", "Black", "Mixed", "White", "Other", "Not stated")


def _same(got: pd.Series, want: pd.Series) -> None:
    pd.testing.assert_series_equal(got, want, check_dtype=False)
    assert got.tolist() == want.tolist()


# ---------------------------------------------------------------- per_distinct


@pytest.mark.parametrize("fn", [name_key, header_key, lambda v: str(v).strip() == ""])
@pytest.mark.parametrize(
    "cells",
    [
        ["Willow Ward", "willow  ward", "WILLOW\u00a0WARD", "Oak Ward", "Willow Ward"],
        ["Numerator", None, "Denominator", np.nan, " numerator ", None],
        [" ", "", "3", "  ", "3"],
        ["Team (RX1)", 12, 12.0, True, "12", None],  # not all texts: mapped cell by cell
        [],
        [None, np.nan],
    ],
)
def test_per_distinct_is_map(cells, fn):
    for values in (pd.Series(cells, dtype=object), pd.Series(cells, name="Ward", index=[
        f"r{i}" for i in range(len(cells))
    ], dtype=object)):  # fmt: skip
        _same(per_distinct(values, fn), values.map(fn))


def test_per_distinct_calls_once_per_distinct_text():
    calls: list[object] = []

    def key(value: object) -> str:
        calls.append(value)
        return name_key(value)

    values = pd.Series(["Oak Ward", "Willow Ward"] * 5_000 + [None, None], dtype=object)
    got = per_distinct(values, key)
    assert sorted(map(str, calls)) == ["None", "None", "Oak Ward", "Willow Ward"]
    _same(got, values.map(name_key))


def test_per_distinct_on_a_string_column():
    values = pd.Series(["Black", "black ", pd.NA, "White"], dtype="string")
    _same(per_distinct(values, name_key), values.map(name_key))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["Ward A", "ward a", " Ward  A", "Numerator", "numerator", "", " "]),
            st.text(max_size=6),
            st.none(),
            st.just(float("nan")),
        ),
        max_size=40,
    )
)
def test_per_distinct_is_map_on_any_texts(cells):
    values = pd.Series(cells, dtype=object)
    for fn in (name_key, header_key):
        _same(per_distinct(values, fn), values.map(fn))


# ---------------------------------------------------------------- _versions


def _plain_versions(conn, rows: pd.DataFrame, at: dt.datetime) -> pd.DataFrame:
    """The versions as read before: row objects, SQLAlchemy's own types."""
    o, u = Observation.__table__, Upload.__table__
    query = (
        select(
            o.c.id, o.c.team_id, o.c.measure_id, o.c.period, o.c.group, o.c.broad_group,
            o.c.numerator, o.c.denominator, o.c.upload_id, u.c.uploaded_at,
            case((uploads._shown(o, u, at), 1), else_=0),
        )
        .join(u, o.c.upload_id == u.c.id)
        .where(o.c.team_id.in_([int(t) for t in rows["team_id"].unique()]))
    )  # fmt: skip
    found = pd.DataFrame(
        [tuple(r) for r in conn.execute(query)], columns=list(uploads.VERSION_COLUMNS)
    )
    found["period"] = pd.to_datetime(found["period"])
    found["uploaded_at"] = pd.to_datetime(found["uploaded_at"])
    keys = rows[["team_id", "measure", "period"]].drop_duplicates()
    keys = keys.rename(columns={"measure": "measure_id"})
    keys["period"] = pd.to_datetime(keys["period"])
    return found.merge(keys, on=["team_id", "measure_id", "period"], how="inner")


def _file(period: str, values: dict[str, tuple[int, int | str]], team="Willow Ward") -> bytes:
    body = "".join(f"{team},restraint,{period},{g},{n},{d}\n" for g, (n, d) in values.items())
    return (HEADER + body).encode()


def _team_ids(store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {name: i for name, i in conn.execute(select(Team.name, Team.id))}


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values("id").reset_index(drop=True)
    for column in ("period", "uploaded_at"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
    for column in ("measure_id", "group", "broad_group"):
        frame[column] = frame[column].astype(object)
    for column in ("id", "team_id", "upload_id", "shown"):
        frame[column] = frame[column].astype(np.int64)
    for column in ("numerator", "denominator"):
        frame[column] = frame[column].astype(np.float64)
    return frame


def test_versions_read_into_columns_are_the_rows_read_one_by_one(store):
    """Every column and value the row-by-row read gave, on SQLite and PostgreSQL:
    several versions of the same slices, a rolled-back one, and another month."""
    full = {g: (i + 1, 100 + i) for i, g in enumerate(GROUPS)}
    store.import_file(_file("2024-03", full), "march.csv")
    store.import_file(_file("2024-04", full), "april.csv")
    second = store.import_file(_file("2024-03", {"Black": (9, 180), "White": (2, 420)}), "fix.csv")
    store.import_file(_file("2024-03", {"Black": (7, 181)}), "fix2.csv")
    store.rollback(second.upload_id)
    store.import_file(_file("2024-03", {"Asian": (3, 121)}, team="Oak Ward"), "oak.csv")

    ids = _team_ids(store)
    rows = pd.DataFrame(
        {
            "team_id": [ids["Willow Ward"], ids["Willow Ward"], ids["Oak Ward"]],
            "measure": ["restraint"] * 3,
            "period": pd.to_datetime(["2024-03-01", "2024-03-01", "2024-03-01"]),
        }
    )
    at = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=1)
    with store.engine.connect() as conn:
        got = uploads._versions(conn, rows, at)
        want = _plain_versions(conn, rows, at)
    assert list(got.columns) == list(uploads.VERSION_COLUMNS)
    assert len(got) == 6 + 2 + 1 + 1  # the four March uploads' rows; April's not
    assert got["shown"].sum() == 6 + 1  # six groups of Willow Ward, one of Oak Ward
    pd.testing.assert_frame_equal(_canonical(got), _canonical(want))


def test_versions_of_nothing_stored(store):
    rows = pd.DataFrame(
        {"team_id": [1], "measure": ["restraint"], "period": pd.to_datetime(["2024-03-01"])}
    )
    with store.engine.connect() as conn:
        got = uploads._versions(conn, rows, dt.datetime(2030, 1, 1))
    assert got.empty
    assert list(got.columns) == list(uploads.VERSION_COLUMNS)


def test_versions_keep_fractions_of_seconds_and_missing_denominators(store):
    """Upload times with and without a fraction of a second (the ISO text parsed once),
    and a NULL denominator (a count measure), read as the row objects give them."""
    store.import_file((HEADER + "Willow Ward,wait_days,2024-03,Black,15,\n").encode(), "wait.csv")
    store.import_file(_file("2024-03", {"Black": (1, 90)}), "one.csv")
    with store._write() as conn:  # a time on a whole second, as some drivers store it
        up = Upload.__table__
        first = conn.execute(select(up.c.id).order_by(up.c.id)).scalars().first()
        conn.execute(
            up.update().where(up.c.id == first).values(uploaded_at=dt.datetime(2024, 4, 2, 9, 0))
        )
    ids = _team_ids(store)
    rows = pd.DataFrame(
        {
            "team_id": [ids["Willow Ward"]] * 2,
            "measure": ["wait_days", "restraint"],
            "period": pd.to_datetime(["2024-03-01"] * 2),
        }
    )
    at = dt.datetime(2100, 1, 1)
    with store.engine.connect() as conn:
        got = uploads._versions(conn, rows, at)
        want = _plain_versions(conn, rows, at)
    assert got["denominator"].isna().sum() == 1
    assert got["uploaded_at"].dt.microsecond.ne(0).any()  # the later upload's own time
    pd.testing.assert_frame_equal(_canonical(got), _canonical(want))


# ---------------------------------------------------------------- replacement_lines


@pytest.mark.parametrize("limit", [1, 3, 6, 20])
def test_replacement_lines_are_the_full_tables_first_lines(store, limit):
    full = {g: (i + 1, 100 + i) for i, g in enumerate(GROUPS)}
    store.import_file(_file("2024-03", full), "march.csv")
    result = store.import_file(
        _file("2024-03", {g: (n + 1, d) for g, (n, d) in full.items()}), "again.csv"
    )
    replaced = result.replacements
    assert len(replaced) == 6
    table = uploads.replacement_table(replaced)
    want = [
        f"  {t.team} · {t.measure} · {t.period} · {t.group}: {t.stored} → {t.new}"
        for t in table.head(limit).itertuples(index=False)
    ]
    if len(table) > limit:
        want.append(f"  … and {len(table) - limit:,} more")
    assert uploads.replacement_lines(replaced, limit) == want


# ---------------------------------------------------------------- unpivot


def _melted(frame: pd.DataFrame, wide_cols: list[str]) -> pd.DataFrame:
    """A wide sheet's cells as rows the plain way: melt, then sort by row and column."""
    keep = [c for c in frame.columns if c not in wide_cols]
    long = frame.melt(id_vars=keep, value_vars=wide_cols, var_name="_wide", value_name="_value")
    long["_order"] = long["_wide"].map({c: j for j, c in enumerate(wide_cols)})
    long = long.sort_values(["_row", "_order"], kind="stable").reset_index(drop=True)
    empty = long["_value"].map(lambda v: str(v).strip() == "")
    return long[~empty.to_numpy(dtype=bool)].reset_index(drop=True)


_CELLS = st.one_of(
    st.sampled_from(["", " ", "12", "1,234", "NULL", "n/a", "7.5"]),
    st.integers(0, 500),
    st.floats(0, 1e6, allow_nan=False),
    st.dates().map(lambda d: dt.datetime(d.year, d.month, d.day)),
)


@settings(max_examples=120, deadline=None)
@given(
    st.integers(0, 12).flatmap(
        lambda n: st.tuples(
            st.lists(st.lists(_CELLS, min_size=3, max_size=3), min_size=n, max_size=n),
            st.lists(st.sampled_from(["Willow", "Oak ", "", "oak"]), min_size=n, max_size=n),
            st.permutations(range(n)),
        )
    )
)
def test_unpivot_reads_a_wide_sheet_as_a_melt_did(rows):
    cells, teams, order = rows
    wide_cols = ["Jan-25", "Feb-25", "Mar-25"]
    frame = pd.DataFrame(
        {"Ward": teams, **{c: [r[j] for r in cells] for j, c in enumerate(wide_cols)}},
        columns=["Ward", *wide_cols],
        dtype=object,
    )
    # file rows in any order (kept rows of a filtered sheet are ascending; the sort
    # holds whatever the order)
    frame["_row"] = np.asarray([5 + 2 * i for i in order], dtype=np.int64)
    got, mapped, labels = intake._unpivot(
        frame, wide_cols, "period", {"team": "Ward"}, None, intake.Intake("f.csv", None)
    )
    want = _melted(frame, wide_cols)
    assert list(got.columns) == list(want.columns)
    assert mapped == {"team": "Ward", "period": "_wide"}
    for column in want.columns:  # the same cells (a melt makes texts pandas' text type)
        assert got[column].tolist() == want[column].tolist(), column
    assert labels["period"].tolist() == want["_wide"].tolist()


def test_unpivot_reads_a_column_named_twice_once():
    """Two spellings of one month's header in a layout name one column: its cells are
    read once (a melt ignored the repeat), not as duplicate rows."""
    wide_cols = ["Apr-24", "May-24"]
    frame = pd.DataFrame({"Ward": ["Willow", "Oak"], "Apr-24": [3, 4], "May-24": [5, ""]},
                         dtype=object)  # fmt: skip
    frame["_row"] = np.asarray([2, 3], dtype=np.int64)
    got, _, labels = intake._unpivot(
        frame, [*wide_cols, "Apr-24"], "period", {"team": "Ward"}, None,
        intake.Intake("f.csv", None),
    )  # fmt: skip
    want = _melted(frame, wide_cols)
    assert got["_value"].tolist() == want["_value"].tolist() == [3, 5, 4]
    assert labels["period"].tolist() == ["Apr-24", "May-24", "Apr-24"]
