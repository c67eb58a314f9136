"""Many uploads at once (``Store.import_files``): the same checks, and the same store, as
importing them one by one with ``Store.import_file``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from qi.sample import load_sample
from qi.store import Store, UploadRejected
from qi.store.bulk import UploadFile
from qi.store.models import AuditEntry
from qi.store.reading import read_table
from qi.store.validation import validate_observations
from tests.conftest import HEADER, assert_unchanged, postgres_admin_url, snapshot


@pytest.fixture
def second_url(store_url: str, tmp_path: Path) -> Iterator[str]:
    """Another new, empty database on the same backend as ``store_url``."""
    if store_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'second.db'}"
        return
    admin = postgres_admin_url()
    name = f"qi_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def audit(store: Store) -> pd.DataFrame:
    """The audit log without the moment each entry was written."""
    columns = ["id", "actor", "action", "entity", "entity_id", "detail"]
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(*[getattr(AuditEntry, c) for c in columns]).order_by(AuditEntry.id)
        ).all()
    return pd.DataFrame(rows, columns=columns)


def sample_subset(folder: Path, every: int) -> tuple[Path, int]:
    """A copy of the sample in ``folder`` whose manifest keeps one upload in ``every``
    and every upload that is not a plain monthly one (late, corrected, a ward closed);
    the upload files themselves are linked, not copied. With the number of uploads."""
    from qi.sample import sample_dir

    source = sample_dir()
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("uploads", "*.gz"))
    (folder / "uploads").symlink_to(source / "uploads", target_is_directory=True)
    manifest = pd.read_csv(source / "uploads.csv", dtype=str, keep_default_na=False)
    keep = (manifest.index % every == 0) | (manifest["note"] != "Monthly upload")
    manifest[keep].to_csv(folder / "uploads.csv", index=False)
    return folder, int(keep.sum())


def test_the_sample_loaded_in_bulk_is_the_sample_loaded_file_by_file(
    store_url, second_url, tmp_path
):
    """The sample through the real import path, one transaction per file, and through the
    bulk path: the same observations (now and at every upload's instant), uploads,
    versions, audit log and store version. The whole sample on SQLite; on PostgreSQL
    (the slower of the two, 288 transactions) a quarter of its monthly uploads and every
    late or corrected one."""
    if store_url.startswith("sqlite"):
        folder, files = None, 288
    else:
        folder, files = sample_subset(tmp_path / "sample", every=4)
    with Store.open(store_url) as one_by_one, Store.open(second_url) as bulk:
        said_one = load_sample(one_by_one, one_by_one=True, folder=folder)
        said_bulk = load_sample(bulk, folder=folder)
        assert said_one == said_bulk
        assert f"{files} uploads stored" in said_bulk
        pd.testing.assert_frame_equal(bulk.observations(), one_by_one.observations())
        pd.testing.assert_frame_equal(bulk.uploads(), one_by_one.uploads())
        pd.testing.assert_frame_equal(bulk.upload_slices(), one_by_one.upload_slices())
        pd.testing.assert_frame_equal(audit(bulk), audit(one_by_one))
        assert bulk.counts() == one_by_one.counts()
        assert bulk.version() == one_by_one.version()
        # what every earlier board saw: just before and at each of a dozen uploads
        uploaded = one_by_one.uploads()["uploaded_at"].sort_values()
        for instant in uploaded.iloc[:: max(1, len(uploaded) // 12)]:
            for at in (instant - pd.Timedelta(seconds=1), instant):
                pd.testing.assert_frame_equal(
                    bulk.observations(as_of=at.to_pydatetime()),
                    one_by_one.observations(as_of=at.to_pydatetime()),
                )
        # loading again stores nothing either way
        assert f"0 uploads stored, {files} already there" in load_sample(bulk, folder=folder)


def write(folder: Path, name: str, rows: list[str]) -> Path:
    path = folder / name
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


GOOD = ["Willow Ward,restraint,2024-01,All,3,900", "Willow Ward,restraint,2024-01,Black,1,120"]


def test_a_problem_in_any_file_stores_nothing_and_each_problem_names_its_file(store, tmp_path):
    good = write(tmp_path, "good.csv", GOOD)
    bad = write(tmp_path, "bad.csv", ["Oak Ward,restraint,2024-01,All,3,900",
                                      "Nowhere Ward,restraint,2024-01,All,3,900"])  # fmt: skip
    dup = write(tmp_path, "dup.csv", ["Oak Ward,detained,2024-01,All,3,9"] * 2)
    before = snapshot(store)
    files = [
        UploadFile(p, name=p.name, uploaded_at="2024-02-10T09:00:00") for p in (good, bad, dup)
    ]
    with pytest.raises(UploadRejected) as refused:
        store.import_files(files)
    assert_unchanged(store, before)
    got = {(p.file, p.row, p.column) for p in refused.value.problems}
    assert got == {("bad.csv", 3, "team"), ("dup.csv", 3, "period")}
    # exactly what importing each file alone says
    alone = [
        p
        for f in (bad, dup)
        for p in store.import_file(f, name=f.name, dry_run=True, uploaded_at="2024-02-10").problems
    ]
    assert sorted(refused.value.problems, key=str) == sorted(alone, key=str)


def test_a_file_already_stored_or_given_twice_is_skipped_as_one_by_one(store, tmp_path):
    first = write(tmp_path, "first.csv", GOOD)
    second = write(tmp_path, "second.csv", ["Oak Ward,restraint,2024-01,All,5,800"])
    again = tmp_path / "again.csv"
    again.write_bytes(second.read_bytes())
    stored = store.import_file(first, name="first.csv", uploaded_at="2024-02-01T08:00:00")
    at = "2024-02-11T10:30:00"
    results = store.import_files(
        [UploadFile(p, name=p.name, uploaded_at=at) for p in (first, second, again)]
    )
    assert [r.upload_id is not None for r in results] == [False, True, False]
    assert results[0].problems[0].message == (
        f"this file was already uploaded, as upload {stored.upload_id} on 2024-02-01 08:00 UTC: "
        "nothing to do"
    )
    assert f"as upload {results[1].upload_id} on 2024-02-11 10:30 UTC" in (
        results[2].problems[0].message
    )
    assert len(store.uploads()) == 2


def test_a_correction_in_the_same_batch_is_its_own_later_upload(store, tmp_path):
    """Two files with the same team-month (a correction) never share a validation call, so
    neither is taken for a duplicate of the other; the later one is shown."""
    first = write(tmp_path, "jan.csv", GOOD)
    fixed = write(tmp_path, "jan-fixed.csv", [GOOD[0].replace(",3,900", ",4,900"), GOOD[1]])
    other = write(tmp_path, "oak.csv", ["Oak Ward,restraint,2024-01,All,5,800"])
    results = store.import_files(
        [
            UploadFile(first, name="jan.csv", uploaded_at="2024-02-05T09:00:00"),
            UploadFile(other, name="oak.csv", uploaded_at="2024-02-06T09:00:00"),
            UploadFile(fixed, name="jan-fixed.csv", uploaded_at="2024-02-20T09:00:00"),
        ]
    )
    assert all(r.ok for r in results)
    shown = store.observations(teams=["Willow Ward"], groups=["All"])
    assert shown["numerator"].tolist() == [4.0]
    assert shown["upload_id"].tolist() == [results[2].upload_id]
    assert store.upload_slices()["upload_id"].nunique() == 3


def test_a_future_month_is_judged_by_each_files_own_arrival(store, tmp_path):
    early = write(tmp_path, "early.csv", ["Oak Ward,restraint,2024-03,All,5,800"])
    files = [UploadFile(early, name="early.csv", uploaded_at="2024-02-27T09:00:00")]
    with pytest.raises(UploadRejected, match="lies in the future"):
        store.import_files(files)
    files = [dataclasses.replace(files[0], uploaded_at="2024-03-02T09:00:00")]
    assert store.import_files(files)[0].ok


def test_validation_reads_only_the_month_of_today(store, tmp_path):
    """What the bulk path relies on to check files that arrived in one month together:
    the validation's outcome depends on the month it is checked in, not the day."""
    path = write(tmp_path, "months.csv", [f"Oak Ward,restraint,{m},All,5,800"
                                          for m in ("2024-01", "2024-02", "2024-03")])  # fmt: skip
    table, _ = read_table(path)
    catalogue = store.catalogue()
    outcomes = []
    for day in (1, 15, 29):
        checked = dataclasses.replace(catalogue, today=dt.date(2024, 2, day))
        clean, problems = validate_observations(table, checked)
        outcomes.append((clean.to_dict("list"), problems))
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert len(outcomes[0][1]) == 1  # March lies in the future all month


def test_files_in_other_shapes_are_read_in_bulk_as_one_by_one(store, tmp_path):
    """The bulk path reads each file through the same intake (header synonyms, names
    matched whatever their case), the two files here validated as one batch (same
    month of arrival, no slice in common): what it stores and says is what each file
    alone gives."""
    header = "Ward,Measure,Month,Ethnic group,Numerator,Denominator\n"
    rows = {
        "jan.csv": ["willow ward,restraint,2024-01,All,3,900",
                    "Oak Ward,restraint,2024-01,All,2,50"],
        "feb.csv": ["Willow Ward,restraint,2024-02,All,4,910",
                    "OAK WARD,restraint,2024-02,All,1,40"],
    }  # fmt: skip
    paths = []
    for name, lines in rows.items():
        path = tmp_path / name
        path.write_text(header + "".join(r + "\n" for r in lines), encoding="utf-8")
        paths.append(path)
    at = ["2024-03-05T09:00:00", "2024-03-06T09:00:00"]
    alone = [
        store.import_file(p, name=p.name, dry_run=True, uploaded_at=t)
        for p, t in zip(paths, at, strict=True)
    ]
    bulk = store.import_files(
        [UploadFile(p, name=p.name, uploaded_at=t) for p, t in zip(paths, at, strict=True)]
    )
    assert [r.rows for r in bulk] == [r.rows for r in alone] == [2, 2]
    assert [r.notes for r in bulk] == [r.notes for r in alone]
    assert all(any("Ward" in note for note in r.notes) for r in bulk)  # read by synonym
    assert all(r.upload_id is not None and not r.problems for r in bulk)
    shown = store.observations()
    assert sorted(shown["team"].unique()) == ["Oak Ward", "Willow Ward"]
    assert shown["numerator"].sum() == 3 + 2 + 4 + 1


# ------------------------------------------------------------ the prebuilt sample store
def test_the_prebuilt_sample_is_built_from_the_sample_files_and_schema_of_today():
    from qi.sample import fingerprint, prebuilt_fingerprint

    assert prebuilt_fingerprint() == fingerprint(), (
        "sample_data/sample_store.sqlite.gz is out of date with the sample's files or the "
        "schema: run `python sample_data/make_sample.py`"
    )


def test_the_prebuilt_sample_copied_is_the_sample_imported(store_url, second_url, tmp_path):
    """A new dashboard copies the prebuilt sample (a first start in a fraction of a
    second); it holds exactly what the ordinary import path stores, on either backend,
    and the store goes on as usual after it (the next ids follow the copied rows).

    The sample is imported here from a copy in another folder, as a clone elsewhere
    (CI's) would: nothing stored may depend on where the sample lay when it was built."""
    from qi.sample import copy_prebuilt, ensure_sample, sample_dir

    elsewhere = tmp_path / "another clone" / "sample_data"
    shutil.copytree(sample_dir(), elsewhere)
    with Store.open(store_url) as imported, Store.open(second_url) as copied:
        load_sample(imported, folder=elsewhere)
        assert copy_prebuilt(copied)
        assert not copy_prebuilt(copied)  # never into a store with something in it
        assert not ensure_sample(copied)
        for read in ("observations", "uploads", "upload_slices", "measures", "pdsa", "owners",
                     "actions", "reviews"):  # fmt: skip
            # when a row was written is when each store got it
            got, want = (getattr(s, read)().drop(columns="created_at", errors="ignore")
                         for s in (copied, imported))  # fmt: skip
            pd.testing.assert_frame_equal(got, want, obj=read)
        pd.testing.assert_frame_equal(audit(copied), audit(imported))
        assert copied.counts() == imported.counts()
        assert copied.version() == imported.version()
        for instant in imported.uploads()["uploaded_at"].sort_values().iloc[::48]:
            at = instant.to_pydatetime()
            pd.testing.assert_frame_equal(
                copied.observations(as_of=at), imported.observations(as_of=at)
            )
        # and then an upload, a change-log entry: new ids after the copied ones
        fix = (HEADER + "Willow Ward,restraint_per_1000_obd,2026-10,Black,3,650\n").encode()
        for store in (imported, copied):
            result = store.import_file(fix, "fix.csv", user="analyst")
            assert result.replaced == 1
        pd.testing.assert_frame_equal(copied.observations(), imported.observations())
        assert copied.version() == imported.version()


def test_a_stale_or_unwanted_prebuilt_sample_is_not_copied(tmp_path, monkeypatch):
    """A prebuilt store older than the sample's files is left alone (the files go
    through the import path), and so is one for a store that already has teams."""

    from qi.sample import SAMPLE_DIR, copy_prebuilt, ensure_sample

    folder = tmp_path / "sample"
    shutil.copytree(SAMPLE_DIR, folder)
    reviews = folder / "reviews.csv"
    reviews.write_text(reviews.read_text().rstrip("\n").rsplit("\n", 1)[0] + "\n")
    monkeypatch.setenv("QI_SAMPLE_DIR", str(folder))
    with Store.open(f"sqlite:///{tmp_path / 'stale.db'}") as store:
        assert not copy_prebuilt(store)
        assert store.counts()["upload"] == 0  # nothing half-written
        assert ensure_sample(store)  # through the import path, from the files
        assert store.counts()["review"] == len(pd.read_csv(reviews))
    monkeypatch.delenv("QI_SAMPLE_DIR")
    with Store.open(f"sqlite:///{tmp_path / 'teams.db'}") as store:
        store.register_teams(SAMPLE_DIR / "teams.csv")
        assert not copy_prebuilt(store)
        assert store.counts()["team"] == 8 and store.counts()["upload"] == 0
