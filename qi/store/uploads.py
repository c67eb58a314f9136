"""Observations: validating and importing uploads, versions and rollback, reading, export.

:class:`UploadsMixin` is the part of :class:`qi.store.Store` that

* checks an upload without storing it (:meth:`~UploadsMixin.validate`) and stores one as
  a new version (:meth:`~UploadsMixin.import_file`);
* withdraws one (:meth:`~UploadsMixin.rollback`): what it replaced is shown again;
* lists the versions (:meth:`~UploadsMixin.uploads`, :meth:`~UploadsMixin.upload_slices`);
* reads what is shown now or at any earlier instant (:meth:`~UploadsMixin.observations`)
  and writes it out with small numbers suppressed (:meth:`~UploadsMixin.export`).

For each team × measure × month the upload shown is the live one (not rolled back) with
the latest upload time (:func:`_shown_slices`); nothing is ever overwritten.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, and_, func, insert, or_, select, update

from qi import access
from qi.access import Principal
from qi.disclosure import suppress_points
from qi.store import reading
from qi.store.catalogue import CatalogueMixin
from qi.store.core import ImportResult, StoreError, as_utc, utcnow
from qi.store.intake import Intake, read_upload
from qi.store.layouts import Layout, LayoutsMixin
from qi.store.messages import summarise
from qi.store.models import ICS, Collaborative, Observation, Team, Trust, Upload
from qi.store.reading import Problem
from qi.store.validation import Catalogue, validate_observations

#: Columns of :meth:`Store.observations` (and of :func:`qi.load`).
OBSERVATION_COLUMNS = (
    "collaborative",
    "ics",
    "trust",
    "team",
    "measure",
    "period",
    "group",
    "broad_group",
    "numerator",
    "denominator",
    "upload_id",
)


class UploadsMixin(CatalogueMixin, LayoutsMixin):
    """Uploads, their versions, and reading what is shown (a part of :class:`qi.store.Store`)."""

    # ------------------------------------------------------------------ uploads
    def validate(
        self,
        source: str | Path | bytes,
        name: str | None = None,
        *,
        today: dt.date | None = None,
        layout: str | Layout | None = None,
    ) -> tuple[pd.DataFrame, list[Problem]]:
        """Read and check an upload without storing anything: (clean rows, problems).

        Rows for teams the signed-in person may not upload for are problems too.
        ``layout`` is a saved layout's name or a :class:`~qi.store.layouts.Layout`;
        without one the file's shape is detected (:mod:`qi.store.intake`)."""
        clean, problems, _ = self.check_upload(source, name, today=today, layout=layout)
        return clean, problems

    def check_upload(
        self,
        source: str | Path | bytes,
        name: str | None = None,
        *,
        today: dt.date | None = None,
        layout: str | Layout | None = None,
        catalogue: Catalogue | None = None,
    ) -> tuple[pd.DataFrame, list[Problem], Intake]:
        """:meth:`validate`, with how the file was read (its :class:`Intake`: notes)."""
        with self.engine.connect() as conn:
            who = self._require(conn, "upload")
        if isinstance(layout, str):
            layout = self.layout(layout)
        if catalogue is None:
            catalogue = self.catalogue(today)
        elif today is not None:
            catalogue = dataclasses.replace(catalogue, today=today)
        intake = read_upload(source, name, catalogue=catalogue, layout=layout)
        if intake.table is None:
            return pd.DataFrame(), summarise(intake.problems), intake
        clean, more = validate_observations(intake.table, catalogue)
        more = more + self._upload_scope_problems(who, intake.table)
        problems = intake.problems + intake.translate(more)
        if problems:
            problems = intake.reading_note() + problems
        clean["row"] = intake.file_rows(clean["row"]).to_numpy()
        return clean, summarise(problems), intake

    def upload_teams(self) -> list[str]:
        """The teams the signed-in person may upload for."""
        with self.engine.connect() as conn:
            who = self._require(conn, "upload")
            scopes = self._scopes(conn)
        return sorted(scopes.loc[who.allowed("upload", scopes), "team"])

    def upload_template(self, fmt: str = "csv", *, period: str | None = None) -> bytes:
        """A CSV or Excel (``"xlsx"``) template for the catalogue's measures and the teams
        the person may upload for, with the allowed groups and period spellings
        (:mod:`qi.store.template`); ``period`` defaults to last month."""
        from qi.store.template import last_month, template_bytes

        return template_bytes(
            fmt, self.upload_teams(), self.measures(), self.group_aliases(),
            period or last_month(),
        )  # fmt: skip

    def _upload_scope_problems(self, who: Principal, table) -> list[Problem]:
        """A problem for each row of an upload for a team outside ``who``'s scope."""
        if who.local or "team" not in table.data.columns:
            return []
        frame = pd.DataFrame(
            {"team": table.data["team"].astype(str).str.strip(), "_row": table.rows.to_numpy()}
        )
        return self._scope_problems(who, "upload", frame, table.name)

    def import_file(
        self,
        source: str | Path | bytes,
        name: str | None = None,
        *,
        user: str = "system",
        note: str = "",
        dry_run: bool = False,
        today: dt.date | None = None,
        uploaded_at: str | dt.datetime | None = None,
        catalogue: Catalogue | None = None,
        layout: str | Layout | None = None,
    ) -> ImportResult:
        """Validate an upload and, if it has no problem, store it as one new version.

        Returns an :class:`ImportResult`; with any problem (or ``dry_run``) nothing is
        stored. ``uploaded_at`` back-dates the upload (loading a historical sample);
        by default it is the moment the write lock is taken. ``layout`` (a saved
        layout's name, or a :class:`~qi.store.layouts.Layout`) says how to read a file
        in another shape; without one the shape is detected.
        """
        with self.engine.connect() as conn:
            who = self._require(conn, "upload", user)
        if isinstance(source, bytes):
            content, name = source, name or "upload"
        else:
            name = name or str(source)
            try:
                if Path(source).stat().st_size <= reading.MAX_BYTES:
                    source = content = Path(source).read_bytes()  # read once
                else:
                    content = b""
            except OSError:
                content = b""  # reading reports it, with the file's name
        if today is None and uploaded_at is not None:
            today = as_utc(uploaded_at).date()
        clean, problems, intake = self.check_upload(
            source, name, today=today, layout=layout, catalogue=catalogue
        )
        if intake.table is None:
            return ImportResult(name, None, 0, problems, notes=intake.notes)
        if problems or dry_run:
            return ImportResult(name, None, len(clean), problems, notes=intake.notes)
        checksum = hashlib.sha256(content).hexdigest()
        with self._write() as conn:
            # checked again under the write lock: a role revoked meanwhile stops the write
            self._require_teams(conn, "upload", clean["team"].unique(), user)
            earlier = conn.execute(
                select(Upload.id, Upload.uploaded_at).where(
                    Upload.checksum == checksum, Upload.rolled_back_at.is_(None)
                )
            ).first()
            if earlier is not None:
                problem = Problem(
                    name,
                    None,
                    None,
                    f"this file was already uploaded, as upload {earlier.id} on "
                    f"{earlier.uploaded_at:%Y-%m-%d %H:%M} UTC: nothing to do",
                )
                return ImportResult(name, None, len(clean), [problem], notes=intake.notes)
            stamp = as_utc(uploaded_at) if uploaded_at is not None else utcnow()
            upload_id = conn.execute(
                insert(Upload)
                .values(
                    file_name=Path(name).name[:500],
                    checksum=checksum,
                    row_count=len(clean),
                    uploaded_by=who.username,
                    uploaded_at=stamp,
                    note=note,
                )
                .returning(Upload.id)
            ).scalar_one()
            team_ids = dict(conn.execute(select(Team.name, Team.id)).all())
            slices = clean[["team", "measure", "period"]].drop_duplicates()
            replaced = self._count_shown_slices(conn, slices, team_ids)
            _insert_observations(conn, upload_id, clean, team_ids)
            self._audit(
                conn,
                who.username,
                "import",
                "upload",
                upload_id,
                f"{name}: {len(clean)} rows, sha256 {checksum}",
            )
        return ImportResult(name, upload_id, len(clean), [], replaced, notes=intake.notes)

    @staticmethod
    def _count_shown_slices(conn: Connection, slices: pd.DataFrame, team_ids) -> int:
        """How many of these team × measure × period slices already have data shown."""
        if slices.empty:
            return 0
        shown = _shown_slices(
            utcnow(),
            team_ids=slices["team"].map(team_ids).unique().tolist(),
            measures=slices["measure"].unique().tolist(),
        )
        rows = conn.execute(select(shown.c.team_id, shown.c.measure_id, shown.c.period)).all()
        have = {(t, m, pd.Timestamp(p)) for t, m, p in rows}
        wanted = zip(slices["team"].map(team_ids), slices["measure"], slices["period"], strict=True)
        return sum((t, m, pd.Timestamp(p)) in have for t, m, p in wanted)

    def rollback(self, upload_id: int, *, user: str = "system") -> None:
        """Withdraw an upload: what it replaced is shown again. Kept in history."""
        with self._write() as conn:
            who = self._require(conn, "upload", user)
            row = conn.execute(
                select(Upload.id, Upload.rolled_back_at).where(Upload.id == upload_id)
            ).first()
            if row is None:
                raise StoreError(f"there is no upload {upload_id}: see the upload history")
            teams = conn.scalars(
                select(Team.name)
                .join(Observation, Observation.team_id == Team.id)
                .where(Observation.upload_id == upload_id)
                .distinct()
            ).all()
            self._require_teams(conn, "upload", teams, user)
            if row.rolled_back_at is not None:
                raise StoreError(
                    f"upload {upload_id} was already rolled back on "
                    f"{row.rolled_back_at:%Y-%m-%d %H:%M} UTC"
                )
            conn.execute(
                update(Upload)
                .where(Upload.id == upload_id)
                .values(rolled_back_at=utcnow(), rolled_back_by=who.username)
            )
            self._audit(conn, who.username, "rollback", "upload", upload_id)

    def uploads(self) -> pd.DataFrame:
        """The upload history, newest first."""
        cols = [
            "id",
            "file_name",
            "checksum",
            "row_count",
            "uploaded_by",
            "uploaded_at",
            "note",
            "rolled_back_at",
            "rolled_back_by",
        ]
        query = select(*[getattr(Upload, c) for c in cols]).order_by(Upload.id.desc())
        with self.engine.connect() as conn:
            _, readable = self._readable(conn)
            if readable is not None:  # the uploads that hold data of a readable team
                query = query.where(
                    Upload.id.in_(
                        select(Observation.upload_id).where(Observation.team_id.in_(readable))
                    )
                )
            rows = conn.execute(query).all()
        return pd.DataFrame(rows, columns=cols)

    def upload_slices(self) -> pd.DataFrame:
        """Every version of every team × measure × period: which upload brought it, when,
        and whether it was rolled back (what the data-completeness view reads)."""
        o, u = Observation.__table__, Upload.__table__
        query = (
            select(Team.name, o.c.measure_id, o.c.period, o.c.upload_id, u.c.uploaded_at,
                   u.c.rolled_back_at, u.c.uploaded_by)
            .select_from(o)
            .join(u, o.c.upload_id == u.c.id)
            .join(Team, o.c.team_id == Team.id)
            .group_by(Team.name, o.c.measure_id, o.c.period, o.c.upload_id, u.c.uploaded_at,
                      u.c.rolled_back_at, u.c.uploaded_by)
        )  # fmt: skip
        with self.engine.connect() as conn:
            _, readable = self._readable(conn)
            if readable is not None:
                query = query.where(o.c.team_id.in_(readable))
            rows = [tuple(r) for r in conn.execute(query)]
        cols = ["team", "measure", "period", "upload_id", "uploaded_at", "rolled_back_at",
                "uploaded_by"]  # fmt: skip
        frame = pd.DataFrame.from_records(rows, columns=cols)
        frame["period"] = pd.to_datetime(frame["period"])
        return frame.sort_values(["team", "measure", "period", "upload_id"], ignore_index=True)

    # ------------------------------------------------------------------ reading
    def observations(
        self,
        *,
        teams: Iterable[str] | None = None,
        measures: Iterable[str] | None = None,
        groups: Iterable[str] | None = None,
        start: str | dt.date | None = None,
        end: str | dt.date | None = None,
        as_of: str | dt.datetime | dt.date | None = None,
    ) -> pd.DataFrame:
        """The observations shown now (or at the UTC instant ``as_of``), one row per
        team × measure × period × group, with :data:`OBSERVATION_COLUMNS`.

        ``groups`` matches a row's group or its broad group. ``start``/``end`` bound the
        periods (inclusive months). ``period`` is datetime64 (the month's first day).
        """
        measures = None if measures is None else list(measures)
        with self.engine.connect() as conn:
            _, team_ids = self._readable(conn)
            if teams is not None:
                named = conn.scalars(select(Team.id).where(Team.name.in_(list(teams)))).all()
                team_ids = named if team_ids is None else sorted(set(named) & set(team_ids))
        shown = _shown_slices(as_utc(as_of), team_ids=team_ids, measures=measures)
        o = Observation.__table__
        query = (
            select(
                Collaborative.name,
                ICS.name,
                Trust.name,
                Team.name,
                o.c.measure_id,
                o.c.period,
                o.c.group,
                o.c.broad_group,
                o.c.numerator,
                o.c.denominator,
                o.c.upload_id,
            )
            .select_from(o)
            .join(
                shown,
                and_(
                    o.c.team_id == shown.c.team_id,
                    o.c.measure_id == shown.c.measure_id,
                    o.c.period == shown.c.period,
                    o.c.upload_id == shown.c.upload_id,
                ),
            )
            .join(Team, o.c.team_id == Team.id)
            .join(Trust, Team.trust_id == Trust.id)
            .join(ICS, Trust.ics_id == ICS.id)
            .join(Collaborative, ICS.collaborative_id == Collaborative.id)
        )
        if team_ids is not None:
            query = query.where(o.c.team_id.in_(list(team_ids)))
        if measures is not None:
            query = query.where(o.c.measure_id.in_(list(measures)))
        if groups is not None:
            groups = list(groups)
            query = query.where(or_(o.c.group.in_(groups), o.c.broad_group.in_(groups)))
        if start is not None:
            query = query.where(o.c.period >= pd.Timestamp(start).date().replace(day=1))
        if end is not None:
            query = query.where(o.c.period <= pd.Timestamp(end).date())
        with self.engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(query)]
        frame = pd.DataFrame.from_records(rows, columns=list(OBSERVATION_COLUMNS))
        frame["period"] = pd.to_datetime(frame["period"])
        frame["numerator"] = frame["numerator"].astype(float)
        frame["denominator"] = pd.to_numeric(frame["denominator"]).astype(float)
        frame["upload_id"] = frame["upload_id"].astype("int64")
        return frame.sort_values(["team", "measure", "group", "period"], ignore_index=True)

    def export(self, path: str | Path, *, as_of=None, small_numbers: bool | None = None) -> int:
        """Write what is shown (now or ``as_of``) in the upload layout, as CSV or Excel.

        Small numbers (1 to 7, and what would give them back) are shown as ``*`` for
        teams whose unsuppressed counts the signed-in person may not see, or everywhere
        with ``small_numbers=False``; ``small_numbers=True`` asks for them unsuppressed
        and is refused without the right."""
        from qi.store.export import write_table

        data = self.observations(as_of=as_of)
        allowed = self.may_see_small_numbers(data["team"].unique())
        if small_numbers:
            with self.engine.connect() as conn:
                who = self._principal(conn)
            if who is None or not who.may("small_numbers") or not allowed.all():
                hidden = ", ".join(allowed.index[~allowed.to_numpy()][:5])
                raise access.refuse(who, "small_numbers", f"for {hidden}" if hidden else "")
        show = data["team"].map(allowed).fillna(False).to_numpy(dtype=bool, copy=True)
        if small_numbers is False:
            show[:] = False
        frame = pd.DataFrame(
            {
                "team": data["team"],
                "measure": data["measure"],
                "period": data["period"].dt.strftime("%Y-%m"),
                "group": data["group"],
                "numerator": data["numerator"],
                "denominator": data["denominator"],
            }
        )
        for col in ("numerator", "denominator"):  # whole counts written as 3, not 3.0
            frame[col] = pd.Series(
                [int(v) if v == v and float(v).is_integer() else v for v in frame[col].tolist()],
                index=frame.index,
                dtype=object,
            )
        if not show.all():
            hidden = suppress_points(frame[~show], line=["team", "measure", "period"], values=())
            frame.loc[~show, ["numerator", "denominator"]] = hidden[
                ["numerator", "denominator"]
            ].to_numpy()
        write_table(frame, path)
        return len(frame)


def _insert_observations(conn: Connection, upload_id: int, clean: pd.DataFrame, team_ids) -> None:
    """Insert an upload's rows with the driver's ``executemany`` (no per-row ORM work)."""
    o = Observation.__table__
    cols = ["upload_id", "team_id", "measure_id", "period", "group", "broad_group",
            "numerator", "denominator"]  # fmt: skip
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    quote = conn.dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(o.name)} ({', '.join(quote(c) for c in cols)}) "
        f"VALUES ({', '.join([mark] * len(cols))})"
    )
    periods = clean["period"].dt.strftime("%Y-%m-%d") if sqlite else clean["period"].dt.date
    denominators = [None if d != d else d for d in clean["denominator"].astype(float).tolist()]
    params = list(
        zip(
            [upload_id] * len(clean),
            clean["team"].map(team_ids).astype("int64").tolist(),
            clean["measure"].tolist(),
            periods.tolist(),
            clean["group"].tolist(),
            clean["broad_group"].tolist(),
            clean["numerator"].astype(float).tolist(),
            denominators,
            strict=True,
        )
    )
    if conn.dialect.driver == "psycopg":  # COPY is an order of magnitude faster there
        copy_sql = f"COPY {quote(o.name)} ({', '.join(quote(c) for c in cols)}) FROM STDIN"
        with conn.connection.driver_connection.cursor() as cur, cur.copy(copy_sql) as copy:
            for row in params:
                copy.write_row(row)
        return
    for start in range(0, len(params), 20_000):
        conn.exec_driver_sql(sql, params[start : start + 20_000])


def _shown_slices(at: dt.datetime, *, team_ids=None, measures=None):
    """For each team × measure × period, the upload shown at ``at``: a subquery.

    The shown upload is the live one (uploaded by ``at``, not rolled back by then)
    with the latest ``uploaded_at``, ties going to the later id: upload time, not
    the order of import, decides, so a back-dated upload never hides a later one.
    Restricted to some teams and measures when given, which keeps it small.
    """
    o, u = Observation.__table__, Upload.__table__
    live = and_(u.c.uploaded_at <= at, or_(u.c.rolled_back_at.is_(None), u.c.rolled_back_at > at))
    rank = (
        func.row_number()
        .over(
            partition_by=(o.c.team_id, o.c.measure_id, o.c.period),
            order_by=(u.c.uploaded_at.desc(), o.c.upload_id.desc()),
        )
        .label("rank")
    )
    query = (
        select(o.c.team_id, o.c.measure_id, o.c.period, o.c.upload_id, rank)
        .join(u, o.c.upload_id == u.c.id)
        .where(live)
    )
    if team_ids is not None:
        query = query.where(o.c.team_id.in_(list(team_ids)))
    if measures is not None:
        query = query.where(o.c.measure_id.in_(list(measures)))
    ranked = query.subquery("ranked")
    return (
        select(ranked.c.team_id, ranked.c.measure_id, ranked.c.period, ranked.c.upload_id)
        .where(ranked.c.rank == 1)
        .subquery("shown")
    )
