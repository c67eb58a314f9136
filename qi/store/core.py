"""The store's core: connecting, transactions, the audit log, and what every part shares.

* :class:`StoreCore` — the engine, :meth:`~StoreCore.open` / :meth:`~StoreCore.close`,
  the write lock (:meth:`~StoreCore._write`), writing an audit-log entry
  (:meth:`~StoreCore._audit`), the store's :meth:`~StoreCore.version`, table
  :meth:`~StoreCore.counts`, and reading a small table (teams, measures, cycles);
* the errors every part raises: :class:`StoreError`, :class:`StoreBusy`,
  :class:`UploadRejected`, and :class:`ImportResult`, what an import did;
* instants: :func:`utcnow` and :func:`as_utc` (the store keeps naive UTC);
* :func:`default_url`, where the store is when no URL is given.

Every change is one transaction together with its audit-log entry: it lands whole or
not at all. Writes take the store's write lock first (``BEGIN IMMEDIATE`` on SQLite,
an advisory transaction lock on PostgreSQL), so two imports at once are applied one
after the other; one that cannot get the lock within ``lock_timeout`` seconds is
refused with :class:`StoreBusy` and stores nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from qi.store import schema
from qi.store.models import (
    Action,
    Annotation,
    AuditEntry,
    ChangeIdea,
    GroupAlias,
    Measure,
    Observation,
    Owner,
    PDSACycle,
    Replacement,
    ReportingGap,
    Review,
    RoleGrant,
    Session,
    Team,
    Upload,
    User,
)
from qi.store.reading import Problem, problems_frame, read_table

ENV_URL = "QI_DATABASE_URL"
_LOCK_KEY = 7_172_013  # PostgreSQL advisory lock id for the store's writes
#: Audit-log actions that change nothing a page shows (they leave :meth:`StoreCore.version`).
_NOT_CHANGES = ("sign_in", "sign_in_refused", "sign_out")


class StoreError(ValueError):
    """A request the store refuses; the message says why and what to do."""


class StoreBusy(StoreError):
    """Another change held the write lock for too long; nothing was stored."""


class UploadRejected(StoreError):
    """An upload with problems; nothing was stored. ``problems`` lists them all."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = [f"{p.file}:{p.row or ''}:{p.column or ''}: {p.message}" for p in problems]
        super().__init__(f"{len(problems)} problem(s); nothing was stored\n" + "\n".join(lines))

    @property
    def table(self) -> pd.DataFrame:
        return problems_frame(self.problems)


#: Columns of the stored values an upload replaces (:attr:`ImportResult.replacements`):
#: the value shown before (``group``, ``numerator``, ``denominator``, from upload
#: ``upload_id``) and the file's row that replaces it (``new_…``).
REPLACEMENT_COLUMNS = (
    "team", "measure", "period", "period_label", "group", "numerator", "denominator",
    "upload_id", "new_group", "new_numerator", "new_denominator",
)  # fmt: skip


def no_replacements() -> pd.DataFrame:
    return pd.DataFrame(columns=list(REPLACEMENT_COLUMNS))


@dataclass(frozen=True)
class ImportResult:
    """What :meth:`Store.import_file` did: ``upload_id`` is None when nothing was stored.

    ``replacements`` lists the stored values the file replaces (or, for a dry run,
    would replace), old → new (:data:`REPLACEMENT_COLUMNS`); ``replaced`` counts them."""

    file: str
    upload_id: int | None
    rows: int
    problems: list[Problem] = field(default_factory=list)
    replacements: pd.DataFrame = field(default_factory=no_replacements)
    #: how the file was read when that was not plain (sheet, header row, columns, names)
    notes: list[str] = field(default_factory=list)

    @property
    def replaced(self) -> int:
        """How many stored values this upload replaces (shown before, not after)."""
        return len(self.replacements)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def problem_table(self) -> pd.DataFrame:
        return problems_frame(self.problems)


def default_url() -> str:
    """``QI_DATABASE_URL``, else an SQLite file in the user's data folder."""
    url = os.environ.get(ENV_URL)
    if url:
        return url
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("qi-equality-dashboard", appauthor=False))
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # the store's own folder: private
    return f"sqlite:///{folder / 'qi.db'}"


def utcnow() -> dt.datetime:
    """Now, as the naive UTC datetime the store keeps."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def as_utc(when: str | dt.datetime | dt.date | pd.Timestamp | None) -> dt.datetime:
    """An instant as naive UTC: text in ISO 8601, aware datetimes converted, naive taken as UTC.

    A date alone means the end of that day (what was shown at any time on it).
    """
    if when is None:
        return utcnow()
    if isinstance(when, dt.date) and not isinstance(when, dt.datetime):
        return dt.datetime.combine(when, dt.time.max)
    try:
        # text must be ISO 8601 (2026-11-25, 2026-11-25T10:15:30[Z]); never a local
        # spelling such as 01/02/2026, whose day and month order is ambiguous
        stamp = pd.Timestamp(
            dt.datetime.fromisoformat(when.strip()) if isinstance(when, str) else when
        )
    except ValueError:
        stamp = pd.NaT
    if pd.isna(stamp):
        raise StoreError(f"{when!r} is not a date and time: write it as 2026-11-25T10:15:30 (UTC)")
    if isinstance(when, str) and "T" not in when and ":" not in when:  # a date: the whole day
        stamp = stamp + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_pydatetime()


def _private_file(url: str) -> None:
    """Create a new SQLite store's file readable and writable by its owner only (it
    holds password hashes); SQLite gives its journal files the same permissions."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _make_engine(url: str, lock_timeout: float) -> Engine:
    if url.startswith("sqlite"):
        _private_file(url)
        engine = create_engine(url, connect_args={"timeout": lock_timeout})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn, _record):  # pragma: no cover - exercised on every connect
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url and url not in ("sqlite://", "sqlite:///"):
                cur.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):  # pragma: no cover - exercised on every transaction
            mode = (conn.get_execution_options().get("qi_write") and "IMMEDIATE") or ""
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    return create_engine(url, pool_pre_ping=True)


class StoreCore:
    """What every part of the store stands on: the engine, transactions and the audit log.

    :class:`qi.store.Store` is this plus its parts (people, catalogue, uploads, change
    log); use that.
    """

    def __init__(self, engine: Engine, *, lock_timeout: float = 30.0):
        self.engine = engine
        self.lock_timeout = lock_timeout
        #: the session this store acts for (see :meth:`sign_in`); None: no one signed in
        self.token: str | None = None
        self.expires_at: dt.datetime | None = None
        self._owns_engine = True

    @classmethod
    def open(cls, url: str | None = None, *, lock_timeout: float = 30.0) -> Self:
        """Connect to ``url`` (default :func:`default_url`) and bring its schema up to date."""
        url = url or default_url()
        engine = _make_engine(url, lock_timeout)
        schema.upgrade(engine)
        return cls(engine, lock_timeout=lock_timeout)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction holding the store's write lock."""
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(qi_write=True)
                with conn.begin():
                    if conn.dialect.name == "postgresql":
                        ms = int(self.lock_timeout * 1000)
                        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {ms}")
                        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
                    yield conn
        except OperationalError as exc:
            msg = str(exc.orig).lower()
            if "locked" in msg or "lock timeout" in msg or "lock_timeout" in msg:
                raise StoreBusy(
                    "the store is busy with another change (an import or rollback) and stayed "
                    f"busy for {self.lock_timeout:g} s; nothing was stored: try again"
                ) from exc
            raise

    @staticmethod
    def _audit(conn: Connection, actor: str, action: str, entity: str, entity_id="", detail=""):
        conn.execute(
            insert(AuditEntry).values(
                at=utcnow(),
                actor=actor,
                action=action,
                entity=entity,
                entity_id=str(entity_id),
                detail=str(detail),
            )
        )

    def version(self) -> int:
        """A number that changes whenever anything a page shows changes: the id of the
        latest audit-log entry, sign-ins and sign-outs aside (they change nothing shown).

        Every change (upload, rollback, catalogue, change log, role) is written with its
        audit-log entry in one transaction, so a cache keyed on this number is never
        stale. It needs no rights: it says that something changed, never what."""
        with self.engine.connect() as conn:
            latest = conn.scalar(
                select(func.max(AuditEntry.id)).where(AuditEntry.action.not_in(_NOT_CHANGES))
            )
        return int(latest or 0)

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables (what a test compares before and after)."""
        with self.engine.connect() as conn:
            return {
                model.__tablename__: conn.scalar(select(func.count()).select_from(model))
                for model in (
                    Team,
                    Measure,
                    Upload,
                    Observation,
                    Replacement,
                    ChangeIdea,
                    PDSACycle,
                    Annotation,
                    AuditEntry,
                    GroupAlias,
                    Owner,
                    Action,
                    User,
                    RoleGrant,
                    Session,
                    Review,
                    ReportingGap,
                )
            }

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def read_small_table(
        source: str | Path | bytes | pd.DataFrame,
        columns: tuple[str, ...],
        optional: tuple[str, ...] = (),
        name: str | None = None,
    ) -> tuple[pd.DataFrame, str]:
        """A small table (teams, measures, cycles) as stripped text, with ``_row`` numbers;
        ``optional`` columns are empty when the table has none. ``source`` may be the
        bytes of an uploaded file called ``name``; ``name`` is how problems and the audit
        trail name the file (a path's own text when not given)."""
        if isinstance(source, pd.DataFrame):
            name = "table"
            data = source.rename(columns=str.lower).astype(object)
            frame = data.where(data.notna(), "").astype(str)
            frame["_row"] = np.arange(2, len(frame) + 2)
        else:
            table, problems = read_table(source, name)
            if table is None or problems:
                raise UploadRejected(problems)
            name, frame = table.name, table.data.astype(str)
            frame["_row"] = table.rows.to_numpy()
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise UploadRejected(
                [
                    Problem(
                        name,
                        None,
                        None,
                        f"the file has no column {', '.join(map(repr, missing))}: "
                        f"the header must name {', '.join(columns)}",
                    )
                ]
            )
        for c in optional:
            if c not in frame.columns:
                frame[c] = ""
        for c in (*columns, *optional):
            frame[c] = frame[c].str.strip()
        return frame[[*columns, *optional, "_row"]], name
