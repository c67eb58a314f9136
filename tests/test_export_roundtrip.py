"""``qi export`` writes what ``qi import`` reads back: export → import → export is
identical, for random detailed ethnic categories (any spelling: code, Data Dictionary
label, 2021-census label, local spelling, any letter case), counts, teams, measures and
periods of each frequency."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qi.store import Store
from qi.store.groups import is_category, seed_aliases
from tests.conftest import MEASURES, TEAMS

ALIASES = seed_aliases()
#: every spelling of every ethnic category, with the label it is stored as
SPELLINGS = [
    (alias, label)
    for alias, code, label, broad in ALIASES.itertuples(index=False)
    if is_category(code, label, broad)
] + [
    (value, label)
    for code, label, broad in ALIASES[["code", "label", "broad_group"]].drop_duplicates()
    .itertuples(index=False)
    if is_category(code, label, broad)
    for value in (label, code)
    if isinstance(value, str)
]  # fmt: skip
LABELS = sorted({label for _, label in SPELLINGS})
QUARTERLY = MEASURES.iloc[[0]].assign(id="seclusion", name="Seclusion", frequency="quarter")
ANNUAL = MEASURES.iloc[[1]].assign(id="disciplinary", name="Disciplinary", frequency="year")
PERIODS = {
    "restraint": [f"{y}-{m:02d}" for y in (2023, 2024) for m in range(1, 13)],
    "detained": [f"{y}-{m:02d}" for y in (2023, 2024) for m in range(1, 13)],
    "wait_days": [f"{y}-{m:02d}" for y in (2023, 2024) for m in range(1, 13)],
    "seclusion": [f"{y}/{(y + 1) % 100:02d} Q{q}" for y in (2022, 2023) for q in (1, 2, 3, 4)],
    "disciplinary": ["2021/22", "2022/23", "2023/24"],
}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A store with the teams (one named like a formula) and five measures of every
    frequency and chart kind, built once and copied for each example."""
    path = tmp_path_factory.mktemp("roundtrip") / "template.db"
    with Store.open(f"sqlite:///{path}") as store:
        store.register_teams(TEAMS)
        store.load_measures(pd.concat([MEASURES.assign(frequency="month"), QUARTERLY, ANNUAL]))
    return path


@st.composite
def uploads(draw) -> list[tuple]:
    """Rows of an upload: distinct team × measure × period × category, random spellings."""
    rows, seen = [], set()
    for _ in range(draw(st.integers(1, 40))):
        team = draw(st.sampled_from(list(TEAMS["team"])))
        measure = draw(st.sampled_from(list(PERIODS)))
        period = draw(st.sampled_from(PERIODS[measure]))
        spelled, label = draw(st.sampled_from(SPELLINGS))
        spelled = draw(st.sampled_from([spelled, spelled.upper(), spelled.title()]))
        if (team, measure, period, label) in seen:
            continue
        seen.add((team, measure, period, label))
        if measure == "wait_days":  # total days waited (an i chart): any non-negative number
            numerator = draw(st.floats(0, 5000, allow_nan=False).map(lambda v: round(v, 2)))
            denominator = draw(st.one_of(st.none(), st.integers(1, 300)))
        else:
            denominator = draw(st.integers(1, 5000))
            numerator = draw(st.integers(0, denominator))
        rows.append((team, measure, period, spelled, numerator, denominator, label))
    return rows


def _csv(rows: list[tuple]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["team", "measure", "period", "group", "numerator", "denominator"])
    for team, measure, period, group, n, d, _label in rows:
        writer.writerow([team, measure, period, group, n, "" if d is None else d])
    return out.getvalue().encode()


def _fresh(template: Path, folder: Path, name: str) -> Store:
    path = folder / name
    path.unlink(missing_ok=True)
    shutil.copy(template, path)
    return Store.open(f"sqlite:///{path}")


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=uploads())
def test_export_import_export_is_identical(template, tmp_path, rows):
    first = _fresh(template, tmp_path, "first.db")
    result = first.import_file(_csv(rows), "random.csv")
    assert result.ok, result.problems[:5]
    # what was stored is each row's category label, whatever its spelling
    stored = first.observations()
    got = zip(stored["team"], stored["measure"], stored["group"], stored["numerator"], strict=True)
    assert sorted(got) == sorted((r[0], r[1], r[6], float(r[4])) for r in rows)
    exported = tmp_path / "first.csv"
    first.export(exported)
    first.close()

    second = _fresh(template, tmp_path, "second.db")
    again = second.import_file(exported, "first.csv")
    assert again.ok, again.problems[:5]
    assert again.replaced == 0
    pd.testing.assert_frame_equal(
        second.observations().drop(columns="upload_id"), stored.drop(columns="upload_id")
    )
    exported_again = tmp_path / "second.csv"
    second.export(exported_again)
    second.close()
    assert exported_again.read_bytes() == exported.read_bytes()


def test_every_category_label_round_trips(template, tmp_path):
    """The issue's case: every detailed category exported is read back (36 of 51 rows were
    refused before)."""
    rows = [
        ("Willow Ward", "restraint", f"2024-{1 + i % 12:02d}", label, 1, 100, label)
        for i, label in enumerate(LABELS)
    ]
    store = _fresh(template, tmp_path, "labels.db")
    assert store.import_file(_csv(rows), "labels.csv").ok
    out = tmp_path / "labels.csv"
    store.export(out)
    back = _fresh(template, tmp_path, "back.db")
    result = back.import_file(out)
    assert result.ok, result.problems[:5]
    assert sorted(back.observations()["group"]) == sorted(LABELS)
