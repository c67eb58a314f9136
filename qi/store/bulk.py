"""Importing many upload files at once: the same checks and the same store as one by one.

:meth:`BulkImportMixin.import_files` is :meth:`~qi.store.uploads.UploadsMixin.import_file`
for a batch (the sample collaborative's 288 files, a collaborative moving its history
in): every file is read and checked by the ordinary validation, and the files that
pass are stored in one transaction, in the order given, each as its own upload with
its own audit-log entry, so the store ends exactly as if they had been imported one
after the other (a test compares the two).

What makes it fast is checking many files in one validation call: the files are put
in batches that the validation cannot tell from one file — files checked against the
same month (an upload's future months are judged from the month it arrived) and that
share no team × measure × month (so no row of one file can clash with a row of
another) — and each batch is validated as one table. A batch with any problem is
checked again file by file, so every problem is reported exactly as
:meth:`~qi.store.uploads.UploadsMixin.import_file` reports it, naming its own file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import insert, select

from qi.access import Principal
from qi.store import reading
from qi.store.core import ImportResult, UploadRejected, as_utc, utcnow
from qi.store.intake import Intake, read_upload
from qi.store.messages import summarise
from qi.store.models import AuditEntry, Team, Upload
from qi.store.reading import Problem, Table
from qi.store.uploads import (
    UploadsMixin,
    _insert_observations,
    _replace,
    _versions,
    _with_labels,
)
from qi.store.validation import REQUIRED, Catalogue, validate_observations


@dataclass(frozen=True)
class UploadFile:
    """One file of a bulk import: what :meth:`~qi.store.Store.import_file` is told of it."""

    source: str | Path
    name: str | None = None
    user: str = "system"
    note: str = ""
    #: back-dates the upload (a historical sample); None: the moment it is stored
    uploaded_at: str | dt.datetime | None = None


@dataclass
class _Read:
    """A file read and shaped (its :class:`Intake`) and, once validated, checked."""

    file: UploadFile
    name: str
    intake: Intake
    content: bytes
    today: dt.date
    who: Principal
    problems: list[Problem] = dataclasses.field(default_factory=list)
    clean: pd.DataFrame | None = None

    @property
    def table(self) -> Table | None:
        return self.intake.table


class BulkImportMixin(UploadsMixin):
    """Many uploads in one transaction (a part of :class:`qi.store.Store`)."""

    def import_files(
        self, files: Sequence[UploadFile], *, catalogue: Catalogue | None = None
    ) -> list[ImportResult]:
        """Validate every file and, if none has a problem, store them all in one transaction.

        Each file becomes one upload, in the order given, exactly as
        :meth:`import_file` would store it (back-dated to its ``uploaded_at``, with its
        audit-log entry); a file whose content is already a live upload (or appears
        earlier in the batch) is skipped with the same message. With any problem in
        any file, nothing is stored and :class:`UploadRejected` lists every problem.
        Returns one :class:`ImportResult` per file, with the values each replaced.
        """
        catalogue = catalogue if catalogue is not None else self.catalogue()
        with self.engine.connect() as conn:
            principals = {f.user: self._require(conn, "upload", f.user) for f in files}
        reads = [self._read_upload(f, catalogue, principals[f.user]) for f in files]
        self._validate_batched(reads, catalogue)
        problems = [p for r in reads for p in r.problems]
        if problems:
            raise UploadRejected(problems)
        with self._write() as conn:
            for user in principals:  # again under the write lock: a role revoked meanwhile
                teams = {t for r in reads if r.file.user == user for t in r.clean["team"]}
                self._require_teams(conn, "upload", teams, user)
            team_ids = dict(conn.execute(select(Team.name, Team.id)).all())
            checksums = [hashlib.sha256(r.content).hexdigest() for r in reads]
            live = {
                row.checksum: (row.id, row.uploaded_at)
                for row in conn.execute(
                    select(Upload.id, Upload.uploaded_at, Upload.checksum).where(
                        Upload.checksum.in_(set(checksums)), Upload.rolled_back_at.is_(None)
                    )
                )
            }
            # a file already stored, or given earlier in this batch, is skipped
            new = [i for i, c in enumerate(checksums) if c not in live and c not in checksums[:i]]
            now = utcnow()
            values = [
                {
                    "file_name": Path(reads[i].name).name[:500],
                    "checksum": checksums[i],
                    "row_count": len(reads[i].clean),
                    "uploaded_by": principals[reads[i].file.user].username,
                    "uploaded_at": as_utc(reads[i].file.uploaded_at)
                    if reads[i].file.uploaded_at is not None
                    else now,
                    "note": reads[i].file.note,
                }
                for i in new
            ]
            ids: list[int] = []
            replaced: dict[int, pd.DataFrame] = {}
            if values:  # one statement; the ids come back in the order given
                ids = (
                    conn.execute(
                        insert(Upload).returning(Upload.id, sort_by_parameter_order=True), values
                    )
                    .scalars()
                    .all()
                )
                # one upload after another, as import_file stores them: each records
                # which stored versions it replaces before the next one is stored
                for i, upload_id, v in zip(new, ids, values, strict=True):
                    clean = reads[i].clean
                    rows = clean.assign(team_id=clean["team"].map(team_ids).astype("int64"))
                    stamp = v["uploaded_at"]
                    versions = _versions(conn, rows, stamp)
                    _insert_observations(conn, upload_id, clean, team_ids)
                    replaced[i] = _with_labels(
                        _replace(conn, upload_id, stamp, rows, versions, catalogue), catalogue
                    )
                conn.execute(
                    insert(AuditEntry),
                    [
                        {
                            "at": utcnow(),
                            "actor": v["uploaded_by"],
                            "action": "import",
                            "entity": "upload",
                            "entity_id": str(upload_id),
                            "detail": f"{reads[i].name}: {v['row_count']} rows, sha256 "
                            f"{v['checksum']}",
                        }
                        for i, v, upload_id in zip(new, values, ids, strict=True)
                    ],
                )
        if values and self.engine.dialect.name == "postgresql":
            # fresh statistics for the planner: straight after a large load they are
            # missing or stale until autovacuum comes round, and the reads' plans with
            # them (nested loops over what the planner takes for a few hundred rows)
            with self.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "ANALYZE upload, observation"
                )
        stored = {
            i: (upload_id, v["uploaded_at"])
            for i, upload_id, v in zip(new, ids, values, strict=True)
        }
        results = []
        for i, (r, checksum) in enumerate(zip(reads, checksums, strict=True)):
            if i in stored:
                results.append(
                    ImportResult(
                        r.name, stored[i][0], len(r.clean), [], replaced[i], notes=r.intake.notes
                    )
                )
                continue
            earlier_id, earlier_at = live.get(checksum) or stored[checksums.index(checksum)]
            problem = Problem(
                r.name,
                None,
                None,
                f"this file was already uploaded, as upload {earlier_id} on "
                f"{earlier_at:%Y-%m-%d %H:%M} UTC: nothing to do",
            )
            results.append(
                ImportResult(r.name, None, len(r.clean), [problem], notes=r.intake.notes)
            )
        return results

    @staticmethod
    def _read_upload(file: UploadFile, catalogue: Catalogue, who: Principal) -> _Read:
        """Read and shape one file as :meth:`import_file` does (read once, from bytes)."""
        name = file.name or str(file.source)
        source: str | Path | bytes = file.source
        try:
            if Path(source).stat().st_size <= reading.MAX_BYTES:
                source = content = Path(source).read_bytes()
            else:
                content = b""
        except OSError:
            content = b""  # reading reports it, with the file's name
        today = as_utc(file.uploaded_at).date() if file.uploaded_at is not None else None
        today = today or catalogue.today
        intake = read_upload(source, name, catalogue=dataclasses.replace(catalogue, today=today))
        read = _Read(file, name, intake, content, today, who)
        if intake.table is None:
            read.problems = summarise(intake.problems)
        return read

    def _validate_batched(self, reads: list[_Read], catalogue: Catalogue) -> None:
        """Validate the files, many in one call where that cannot change the outcome;
        each file's problems come out as :meth:`check_upload` gives them."""
        for batch in _batches([r for r in reads if r.table is not None]):
            checked = dataclasses.replace(catalogue, today=batch[0].today)
            if len(batch) > 1:
                joined = Table(
                    batch[0].name,
                    pd.concat([r.table.data for r in batch], ignore_index=True),
                    pd.Series(np.concatenate([r.table.rows.to_numpy() for r in batch])),
                )
                clean, more = validate_observations(joined, checked)
                if not more and len(clean) == len(joined.data):
                    bounds = np.cumsum([0] + [len(r.table.data) for r in batch])
                    for r, a, b in zip(batch, bounds[:-1], bounds[1:], strict=True):
                        part = clean.iloc[a:b].reset_index(drop=True)
                        r.clean, r.problems = self._checked(r.intake, r.who, (part, []))
                    continue
            for r in batch:  # one file, or a batch with a problem: each file on its own
                r.clean, r.problems = self._checked(
                    r.intake, r.who, validate_observations(r.table, checked)
                )


def _batches(reads: list[_Read]) -> list[list[_Read]]:
    """Files in batches that validate as one table exactly as each alone: the same
    month of arrival, the same columns (all those an upload needs), and no team ×
    measure × month (as written) in two files of a batch. The files keep their order."""
    batches: list[list[_Read]] = []
    open_batch: dict[tuple, tuple[list[_Read], set]] = {}
    for r in reads:
        data = r.table.data
        if r.intake.problems or not set(REQUIRED) <= set(data.columns):
            batches.append([r])  # checked alone, so its problems read as they always do
            continue
        slices = {
            (str(t).strip(), str(m).strip(), str(p).strip())
            for t, m, p in zip(
                data["team"].tolist(), data["measure"].tolist(), data["period"].tolist(),
                strict=True,
            )
        }  # fmt: skip
        key = (r.today.year, r.today.month, tuple(data.columns))
        current = open_batch.get(key)
        if current is None or current[1] & slices:
            current = ([], set())
            batches.append(current[0])
            open_batch[key] = current
        current[0].append(r)
        current[1].update(slices)
    return batches
