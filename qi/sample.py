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

import os
from pathlib import Path

import pandas as pd

from qi.store import Store, UploadRejected
from qi.store.bulk import UploadFile

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample_data"


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
    store.register_teams(folder / "teams.csv", user=user)
    store.load_measures(folder / "measures.csv", user=user)
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
        changes = store.load_change_package(folder / "change_package.csv", user=user)
    if (folder / "pdsa.csv").exists():
        cycles = store.import_pdsa(folder / "pdsa.csv", user=user)
    owners = actions = 0
    if (folder / "owners.csv").exists():
        owners = store.load_owners(folder / "owners.csv", user=user)
    if (folder / "actions.csv").exists() and not store.counts()["action"]:
        actions = store.add_actions(folder / "actions.csv", user=user)
    reviews = 0
    if (folder / "reviews.csv").exists() and not store.counts()["review"]:
        reviews = store.load_reviews(folder / "reviews.csv", user=user)
    return (
        f"sample loaded: {stored} uploads stored, {skipped} already there, {changes} changes "
        f"in the change package, {cycles} PDSA rows, "
        f"{owners} owners, {reviews} reviews, {actions} actions"
    )


def ensure_sample(store: Store, *, user: str = "sample") -> bool:
    """Load the sample into an empty store (no uploads yet); True if it did."""
    if store.counts()["upload"]:
        return False
    try:
        folder = sample_dir()
    except FileNotFoundError:
        return False
    load_sample(store, folder=folder, user=user)
    return True
