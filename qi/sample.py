"""Loading the bundled sample collaborative through the ordinary import path.

The files live in ``sample_data/`` beside the package (see its README): the teams,
the measure catalogue, the monthly upload files with a manifest saying who uploaded
each and when, the change package and the change log. :func:`load_sample` registers
the teams and measures, imports every upload in the manifest's order, back-dated to
its ``uploaded_at`` (so late uploads and corrections look as they happened), and
loads the change package, then the change ideas (tagged with its changes) and PDSA
cycles. Uploads already in the store are skipped, so loading twice changes nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from qi.store import Store, UploadRejected
from qi.store.bulk import UploadFile

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample_data"
#: The sample as a store: built by ``make_sample.py`` through :func:`load_sample` (the
#: ordinary import path), gzipped SQLite, with the :func:`fingerprint` of the files and
#: schema it was built from. :func:`ensure_sample` copies it into an empty store, in
#: tenths of a second instead of seconds; a test checks the copy equals the import.
PREBUILT = "sample_store.sqlite.gz"
#: Tables the migrations fill (the bundled group aliases and groupings): never copied.
_SEEDED = ("alembic_version", "group_alias", "grouping")
#: Columns that say when a row was written: a copy writes them now.
_WRITTEN_AT = ("created_at", "at")


def sample_dir() -> Path:
    """The sample's folder: ``QI_SAMPLE_DIR`` if set, else ``sample_data/`` of the project."""
    folder = Path(os.environ.get("QI_SAMPLE_DIR") or SAMPLE_DIR)
    if not (folder / "uploads.csv").exists():
        raise FileNotFoundError(
            f"the sample collaborative is not at {folder}: run "
            "`python sample_data/make_sample.py` from the project folder"
        )
    return folder


def load_sample(
    store: Store, *, folder: Path | None = None, user: str = "sample", one_by_one: bool = False
) -> str:
    """Load the sample into ``store``; returns a one-line summary.

    ``one_by_one`` imports each upload in its own transaction with
    :meth:`~qi.store.Store.import_file` (as a team would, and slower)."""
    folder = Path(folder) if folder is not None else sample_dir()

    def table(file: str) -> dict:
        # named by the file, never by where the sample lies on this machine: the
        # prebuilt sample is copied to stores elsewhere, with its audit trail
        return {"source": folder / file, "name": file, "user": user}

    store.register_teams(**table("teams.csv"))
    store.load_measures(**table("measures.csv"))
    manifest = pd.read_csv(folder / "uploads.csv", dtype=str, keep_default_na=False)
    manifest = manifest.sort_values("uploaded_at", kind="stable")
    catalogue = store.catalogue()
    files = [
        UploadFile(
            folder / rec.file,
            name=rec.file,
            user=rec.uploaded_by or user,
            note=getattr(rec, "note", ""),
            uploaded_at=rec.uploaded_at,
        )
        for rec in manifest.itertuples(index=False)
    ]
    if one_by_one:
        results = [
            store.import_file(
                f.source, name=f.name, user=f.user, note=f.note, uploaded_at=f.uploaded_at,
                catalogue=catalogue,
            )
            for f in files
        ]  # fmt: skip
    else:
        results = store.import_files(files, catalogue=catalogue)
    stored = skipped = 0
    for result in results:
        if result.upload_id is not None:
            stored += 1
        elif all("already uploaded" in p.message for p in result.problems):
            skipped += 1
        else:
            raise UploadRejected(result.problems)
    changes = cycles = 0
    if (folder / "change_package.csv").exists():  # before the cycles, whose tags it holds
        changes = store.load_change_package(**table("change_package.csv"))
    if (folder / "pdsa.csv").exists():
        cycles = store.import_pdsa(**table("pdsa.csv"))
    owners = actions = 0
    if (folder / "owners.csv").exists():
        owners = store.load_owners(**table("owners.csv"))
    if (folder / "actions.csv").exists() and not store.counts()["action"]:
        actions = store.add_actions(**table("actions.csv"))
    reviews = 0
    if (folder / "reviews.csv").exists() and not store.counts()["review"]:
        reviews = store.load_reviews(**table("reviews.csv"))
    return (
        f"sample loaded: {stored} uploads stored, {skipped} already there, {changes} changes "
        f"in the change package, {cycles} PDSA rows, "
        f"{owners} owners, {reviews} reviews, {actions} actions"
    )


def ensure_sample(store: Store, *, user: str = "sample") -> bool:
    """Load the sample into an empty store (no uploads yet); True if it did.

    A store with nothing in it at all gets a copy of the prebuilt sample
    (:func:`copy_prebuilt`) when it is up to date with the sample's files and the
    schema; otherwise the sample goes through :func:`load_sample`."""
    if store.counts()["upload"]:
        return False
    try:
        folder = sample_dir()
    except FileNotFoundError:
        return False
    if user == "sample" and copy_prebuilt(store, folder=folder):
        return True
    load_sample(store, folder=folder, user=user)
    return True


def fingerprint(folder: Path | None = None) -> str:
    """What the prebuilt sample was built from: a hash of every data file of the sample
    (the CSV files and uploads, not the prebuilt store, the README or the script) and
    of the schema's head revision."""
    from qi.store.schema import head_revision

    folder = Path(folder) if folder is not None else sample_dir()
    digest = hashlib.sha256(head_revision().encode())
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".csv", ".xlsx"):
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def build_prebuilt(folder: Path | None = None) -> Path:
    """Build :data:`PREBUILT` in ``folder`` through :func:`load_sample` (a new SQLite
    store, the ordinary import path), with its :func:`fingerprint`; returns its path."""
    from sqlalchemy import create_engine, text

    folder = Path(folder) if folder is not None else sample_dir()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "sample.sqlite"
        with Store.open(f"sqlite:///{db}") as store:
            load_sample(store, folder=folder)
            with store.engine.begin() as conn:
                conn.execute(text("CREATE TABLE qi_prebuilt (fingerprint TEXT NOT NULL)"))
                conn.execute(text("INSERT INTO qi_prebuilt VALUES (:f)"),
                             {"f": fingerprint(folder)})  # fmt: skip
        vacuum = create_engine(f"sqlite:///{db}", isolation_level="AUTOCOMMIT")
        with vacuum.connect() as conn:
            conn.exec_driver_sql("VACUUM")
        vacuum.dispose()
        out = folder / PREBUILT
        with open(db, "rb") as src, gzip.GzipFile(out, "wb", mtime=0) as dst:
            shutil.copyfileobj(src, dst)
    return out


def prebuilt_fingerprint(folder: Path | None = None) -> str | None:
    """The :func:`fingerprint` the prebuilt sample in ``folder`` was built from (None
    when there is none): up to date when it equals ``fingerprint(folder)``."""
    from sqlalchemy import create_engine, text

    folder = Path(folder) if folder is not None else sample_dir()
    packed = folder / PREBUILT
    if not packed.exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        db = _unpacked(packed, Path(tmp))
        source = create_engine(f"sqlite:///{db}")
        try:
            with source.connect() as src:
                return src.execute(text("SELECT fingerprint FROM qi_prebuilt")).scalar()
        finally:
            source.dispose()


def _unpacked(packed: Path, into: Path) -> Path:
    db = into / "sample.sqlite"
    with gzip.open(packed, "rb") as src, open(db, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return db


def copy_prebuilt(store: Store, *, folder: Path | None = None) -> bool:
    """Copy the prebuilt sample into ``store`` in one transaction; True if it did.

    Only into a store with nothing in it (the tables the migrations fill aside), and
    only a prebuilt store whose fingerprint is that of the sample's files and schema
    now (else False, and nothing is written). Rows keep their ids and the upload
    times of the sample's manifest; when each row was written (``created_at``, the
    audit log's ``at``) is now, as it would be after :func:`load_sample`."""
    from sqlalchemy import create_engine, func, insert, select, text

    from qi.store.core import utcnow
    from qi.store.models import Base

    folder = Path(folder) if folder is not None else sample_dir()
    packed = folder / PREBUILT
    if not packed.exists():
        return False
    tables = [t for t in Base.metadata.sorted_tables if t.name not in _SEEDED]
    with tempfile.TemporaryDirectory() as tmp:
        source = create_engine(f"sqlite:///{_unpacked(packed, Path(tmp))}")
        try:
            with source.connect() as src:
                built_from = src.execute(text("SELECT fingerprint FROM qi_prebuilt")).scalar()
                if built_from != fingerprint(folder):
                    return False
                rows = {t.name: src.execute(select(t)).mappings().all() for t in tables}
        finally:
            source.dispose()
    now = utcnow()
    with store._write() as conn:
        if any(conn.scalar(select(func.count()).select_from(t)) for t in tables):
            return False  # not empty after all: leave it to the import path
        for table in tables:
            batch = [dict(r) for r in rows[table.name]]
            if not batch:
                continue
            for col in _WRITTEN_AT:
                if col in table.c:
                    for r in batch:
                        r[col] = now
            conn.execute(insert(table), batch)
            serial = table.autoincrement_column
            if conn.dialect.name == "postgresql" and serial is not None:
                # rows came with their ids: the next id follows them
                conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table.name}', "
                         f"'{serial.name}'), (SELECT max({serial.name}) FROM {table.name}))")
                )  # fmt: skip
    return True
