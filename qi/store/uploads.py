"""Observations: validating and importing uploads, versions and rollback, reading, export.

:class:`UploadsMixin` is the part of :class:`qi.store.Store` that

* checks an upload without storing it (:meth:`~UploadsMixin.validate`) and stores one as
  a new version (:meth:`~UploadsMixin.import_file`);
* withdraws one (:meth:`~UploadsMixin.rollback`): what it replaced is shown again;
* lists the versions (:meth:`~UploadsMixin.uploads`, :meth:`~UploadsMixin.upload_slices`);
* reads what is shown now or at any earlier instant (:meth:`~UploadsMixin.observations`)
  and writes it out with small numbers suppressed (:meth:`~UploadsMixin.export`).

A correction replaces exactly the rows it holds (team × measure × period × group): when
an upload is stored, every older version of its team × measure × periods whose group
overlaps one of its rows (the same group, or a group and its own parts) is recorded as
replaced by it (:class:`~qi.store.models.Replacement`). A row is shown at an instant
when its upload is live then and no upload replacing it is (:func:`_shown`), so a
rollback shows again what its upload replaced, and ``as_of`` reads what was shown at
any instant; nothing is ever overwritten. The work of an upload reads only the stored
versions of its own team × measure × periods (:func:`_versions`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    String,
    and_,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    type_coerce,
    update,
)

from qi import access
from qi import periods as freq
from qi.access import Principal
from qi.disclosure import suppress_points
from qi.store import reading
from qi.store._frames import Coded, read_columns
from qi.store.catalogue import CatalogueMixin
from qi.store.core import (
    REPLACEMENT_COLUMNS,
    ImportResult,
    StoreError,
    as_utc,
    no_replacements,
    utcnow,
)
from qi.store.export import as_typed
from qi.store.groups import GroupMap, overlaps
from qi.store.intake import Intake, read_upload
from qi.store.layouts import Layout, LayoutsMixin
from qi.store.messages import summarise
from qi.store.models import ICS, Collaborative, Observation, Replacement, Team, Trust, Upload
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
            catalogue = catalogue.on(today)
        intake = read_upload(source, name, catalogue=catalogue, layout=layout)
        if intake.table is None:
            return pd.DataFrame(), summarise(intake.problems), intake
        clean, problems = self._checked(intake, who, validate_observations(intake.table, catalogue))
        return clean, problems, intake

    def _checked(
        self, intake: Intake, who: Principal, validated: tuple[pd.DataFrame, list[Problem]]
    ) -> tuple[pd.DataFrame, list[Problem]]:
        """An intake's validation (clean rows, problems) in the file's own rows and
        columns, with the rows outside ``who``'s scope as problems too."""
        clean, more = validated
        more = more + self._upload_scope_problems(who, intake.table)
        problems = intake.problems + intake.translate(more)
        if problems:
            problems = intake.reading_note() + problems
        clean["row"] = intake.file_rows(clean["row"]).to_numpy()
        return clean, summarise(problems)

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
            {
                "team": as_typed(table.data["team"].astype(str).str.strip()),
                "_row": table.rows.to_numpy(),
            }
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
        if catalogue is None:
            catalogue = self.catalogue(today)
        elif today is not None:
            catalogue = catalogue.on(today)
        clean, problems, intake = self.check_upload(
            source, name, layout=layout, catalogue=catalogue
        )
        if intake.table is None:
            return ImportResult(name, None, 0, problems, notes=intake.notes)
        if problems:
            return ImportResult(name, None, len(clean), problems, notes=intake.notes)
        if dry_run:
            replacing = self.replacements(clean, catalogue=catalogue, user=user)
            return ImportResult(name, None, len(clean), [], replacing, notes=intake.notes)
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
            rows = clean.assign(team_id=clean["team"].map(team_ids).astype("int64"))
            versions = _versions(conn, rows, stamp)
            _insert_observations(conn, upload_id, clean, team_ids)
            replacing = _replace(conn, upload_id, stamp, rows, versions, catalogue)
            self._audit(
                conn,
                who.username,
                "import",
                "upload",
                upload_id,
                f"{name}: {len(clean)} rows, sha256 {checksum}",
            )
        labelled = _with_labels(replacing, catalogue)
        return ImportResult(name, upload_id, len(clean), [], labelled, notes=intake.notes)

    def replacements(
        self, clean: pd.DataFrame, *, catalogue: Catalogue | None = None, user: str = ""
    ) -> pd.DataFrame:
        """The stored values that the validated rows ``clean`` (of :meth:`validate`) would
        replace if stored now, old → new (:data:`~qi.store.core.REPLACEMENT_COLUMNS`):
        what the Upload page and ``qi import --dry-run`` show before anything is stored.

        It shows stored values unsuppressed, so it needs the right to upload for every
        team of ``clean`` (AccessDenied otherwise), as storing them would."""
        if clean.empty:
            return no_replacements()
        catalogue = catalogue or self.catalogue()
        with self.engine.connect() as conn:
            self._require_teams(conn, "upload", clean["team"].unique(), user)
            team_ids = dict(conn.execute(select(Team.name, Team.id)).all())
            known = clean["team"].isin(team_ids)
            rows = clean[known].assign(team_id=clean.loc[known, "team"].map(team_ids))
            rows["team_id"] = rows["team_id"].astype("int64")
            versions = _versions(conn, rows, utcnow())
        pairs = _overlapping(rows, versions, _group_map(catalogue))
        shown = pairs[pairs["shown"].astype(bool)]
        return _with_labels(_replacement_frame(shown), catalogue)

    def rollback(self, upload_id: int, *, user: str = "system") -> int:
        """Withdraw an upload: what it replaced is shown again. Kept in history.

        Returns how many stored values it had replaced that are shown again."""
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
            now = utcnow()
            conn.execute(
                update(Upload)
                .where(Upload.id == upload_id)
                .values(rolled_back_at=now, rolled_back_by=who.username)
            )
            o, r, u = Observation.__table__, Replacement.__table__, Upload.__table__
            again = conn.scalar(
                select(func.count())
                .select_from(r)
                .join(o, o.c.id == r.c.observation_id)
                .join(u, u.c.id == o.c.upload_id)
                .where(r.c.upload_id == upload_id, _shown(o, u, now))
            )
            self._audit(conn, who.username, "rollback", "upload", upload_id)
        return int(again or 0)

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
        o = Observation.__table__
        # the distinct slices of each upload (the index on team, measure, period, upload
        # answers this), with the uploads' and teams' own columns added in pandas
        query = select(
            o.c.team_id, o.c.measure_id, type_coerce(o.c.period, String), o.c.upload_id
        ).distinct()
        with self.engine.connect() as conn:
            _, readable = self._readable(conn)
            if readable is not None:
                query = query.where(o.c.team_id.in_(readable))
            # (read as columns: a national store has a quarter of a million slices)
            read = read_columns(conn, query, _SLICE_KINDS)
            slices = pd.DataFrame.from_records([], columns=list(_SLICE_KINDS))
            if len(read["team_id"]):
                slices = pd.DataFrame({name: read[name] for name in ("team_id", "upload_id")})
                slices.insert(1, "measure", read["measure"].strings())
                slices.insert(2, "period", read["period"].strings())
            used = set(slices["upload_id"].tolist())
            uploads = [
                tuple(r)
                for r in conn.execute(select(Upload.id, Upload.uploaded_at,
                                             Upload.rolled_back_at, Upload.uploaded_by))
                if r.id in used
            ]  # fmt: skip
            teams = conn.execute(select(Team.id, Team.name)).all()
        cols = ["team", "measure", "period", "upload_id", "uploaded_at", "rolled_back_at",
                "uploaded_by"]  # fmt: skip
        # (read as the rows of one query would be: each column's type from its values)
        upload = pd.DataFrame.from_records(uploads, columns=["id", *cols[4:]])
        in_use = set(slices["team_id"].tolist())
        team = pd.DataFrame.from_records(
            [tuple(t) for t in teams if t.id in in_use], columns=["id", "team"]
        )
        at_team = pd.Index(team["id"]).get_indexer(slices["team_id"])
        at_upload = pd.Index(upload["id"]).get_indexer(slices["upload_id"])
        frame = pd.concat(
            [
                team["team"].take(at_team).reset_index(drop=True),
                slices[["measure", "period", "upload_id"]],
                upload[cols[4:]].take(at_upload).reset_index(drop=True),
            ],
            axis=1,
        )
        frame["period"] = pd.to_datetime(frame["period"]).dt.as_unit("s")  # (as from dates)
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
        at = as_utc(as_of)
        o, u = Observation.__table__, Upload.__table__
        values = ["measure", "period", "group", "broad_group", "numerator", "denominator",
                  "upload_id"]  # fmt: skip
        query = (
            # (the month as the driver gives it, text or a date, for pandas to read at
            # once: a date type would have SQLAlchemy convert it row by row)
            select(
                o.c.team_id,
                o.c.measure_id,
                type_coerce(o.c.period, String),
                *[o.c[c] for c in values[2:]],
            )
            .select_from(o)
            .join(u, o.c.upload_id == u.c.id)
            .where(_shown(o, u, at))
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
            places = pd.DataFrame(
                conn.execute(
                    select(Team.id, Collaborative.name, ICS.name, Trust.name, Team.name)
                    .join(Trust, Team.trust_id == Trust.id)
                    .join(ICS, Trust.ics_id == ICS.id)
                    .join(Collaborative, ICS.collaborative_id == Collaborative.id)
                ).all(),
                columns=["team_id", "collaborative", "ics", "trust", "team"],
            )
            # read as columns, text as codes into its few values; the team's names
            # joined here (one lookup per team), not on every row
            columns = read_columns(conn, query, _OBSERVATION_KINDS)
        return _observation_frame(columns, places)

    def export(self, path: str | Path, *, as_of=None, small_numbers: bool | None = None) -> int:
        """Write what is shown (now or ``as_of``) in the upload layout, as CSV or Excel.

        Small numbers (1 to 7, and what would give them back) are shown as ``*`` for
        teams whose unsuppressed counts the signed-in person may not see, or everywhere
        with ``small_numbers=False``; ``small_numbers=True`` asks for them unsuppressed
        and is refused without the right."""
        from qi.store.export import write_table

        data = self.observations(as_of=as_of)
        frequency = data["measure"].map(self.measures().set_index("id")["frequency"])
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
                "period": _period_labels(data["period"], frequency),
                "group": data["group"],
                "numerator": data["numerator"],
                "denominator": data["denominator"],
            }
        )
        for col in ("numerator", "denominator"):  # whole counts written as 3, not 3.0
            frame[col] = _whole_as_int(frame[col])
        if not show.all():
            hidden = suppress_points(frame[~show], line=["team", "measure", "period"], values=())
            frame.loc[~show, ["numerator", "denominator"]] = hidden[
                ["numerator", "denominator"]
            ].to_numpy()
        write_table(frame, path)
        return len(frame)


#: What :func:`~qi.store._frames.read_columns` makes of each column of the
#: observations' query.
_OBSERVATION_KINDS = {
    "team_id": "int", "measure": "text", "period": "text", "group": "text",
    "broad_group": "text", "numerator": "float", "denominator": "float", "upload_id": "int",
}  # fmt: skip


#: What :func:`~qi.store._frames.read_columns` makes of each column of
#: :meth:`UploadsMixin.upload_slices`' query.
_SLICE_KINDS = {"team_id": "int", "measure": "text", "period": "text", "upload_id": "int"}


def _observation_frame(columns: dict, places: pd.DataFrame) -> pd.DataFrame:
    """The observations read as columns (:data:`_OBSERVATION_KINDS`) as the frame of
    :meth:`UploadsMixin.observations`: its columns, dtypes and values, sorted by team,
    measure, group and period (stably: rows alike in all four keep the order read).

    The sort is done on integer codes (each text's rank among its few values), and
    each text column is made once, already in order, from its few values."""
    team_id = columns["team_id"]
    if not len(team_id):
        return _empty_observations(places)
    at = pd.Index(places["team_id"]).get_indexer(team_id)  # one lookup per team
    team_names = places["team"].to_numpy(dtype=object)
    team_rank = Coded(np.arange(len(places)), team_names.tolist()).ranks()
    measure, period, group = columns["measure"], columns["period"], columns["group"]
    months = pd.to_datetime(pd.Series(period.values)).dt.as_unit("s").to_numpy()
    month_rank = np.unique(months, return_inverse=True)[1].reshape(-1)
    keys = [team_rank[at], measure.ranks(), group.ranks(), month_rank[period.codes]]
    order = _stable_order(keys, [len(places), len(measure.values), len(group.values), len(months)])
    at = at[order]

    def text(values: list, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
        return pd.array(np.asarray(values, dtype=object), dtype="str").take(codes)

    frame = {c: text(places[c].tolist(), at) for c in OBSERVATION_COLUMNS[:4]}
    frame["measure"] = text(measure.values, measure.codes[order])
    frame["period"] = months[period.codes[order]]
    for name in ("group", "broad_group"):
        frame[name] = text(columns[name].values, columns[name].codes[order])
    frame["numerator"] = columns["numerator"][order]
    frame["denominator"] = columns["denominator"][order]
    frame["upload_id"] = columns["upload_id"][order]
    return pd.DataFrame(frame, columns=list(OBSERVATION_COLUMNS), copy=False)


def _stable_order(keys: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    """The stable order of rows sorted by ``keys`` (integer ranks, the first key first,
    each below its size): as one combined key where it fits in 62 bits, else by each."""
    if np.prod([float(max(n, 1)) for n in sizes]) < 2.0**62:
        combined = np.zeros(len(keys[0]), dtype=np.int64)
        for key, size in zip(keys, sizes, strict=True):
            combined *= max(size, 1)
            combined += key
        return np.argsort(combined, kind="stable")
    return np.lexsort(keys[::-1])


def _empty_observations(places: pd.DataFrame) -> pd.DataFrame:
    """:meth:`UploadsMixin.observations` when nothing is shown: its columns and dtypes."""
    frame = pd.DataFrame.from_records([], columns=["team_id", *OBSERVATION_COLUMNS[4:]])
    frame.pop("team_id")
    names = {c: pd.Series(np.empty(0, dtype=object)) for c in OBSERVATION_COLUMNS[:4]}
    frame = pd.concat([pd.DataFrame(names), frame], axis=1)
    frame["period"] = pd.to_datetime(frame["period"]).dt.as_unit("s")
    frame["numerator"] = frame["numerator"].astype(float)
    frame["denominator"] = pd.to_numeric(frame["denominator"]).astype(float)
    frame["upload_id"] = frame["upload_id"].astype("int64")
    return frame


def _whole_as_int(values: pd.Series) -> pd.Series:
    """Numbers as Python objects, whole ones as ints (3, not 3.0); NaN stays NaN."""
    v = values.to_numpy(dtype=float)
    out = v.astype(object)
    whole = np.isfinite(v) & (np.floor(v) == v)
    small = whole & (np.abs(v) < 2.0**62)
    out[small] = v[small].astype(np.int64).astype(object)
    out[whole & ~small] = [int(x) for x in v[whole & ~small]]
    return pd.Series(out, index=values.index, dtype=object)


def _insert_rows(conn: Connection, table, cols: list[str], params: list[tuple]) -> None:
    """Insert rows with the driver's ``executemany`` (COPY on psycopg): no per-row ORM work."""
    if not params:
        return
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in cols)
    if conn.dialect.driver == "psycopg":  # COPY is an order of magnitude faster there
        copy_sql = f"COPY {quote(table.name)} ({names}) FROM STDIN"
        with conn.connection.driver_connection.cursor() as cur, cur.copy(copy_sql) as copy:
            for row in params:
                copy.write_row(row)
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join([mark] * len(cols))})"
    for start in range(0, len(params), 20_000):
        conn.exec_driver_sql(sql, params[start : start + 20_000])


def _insert_observations(conn: Connection, upload_id: int, clean: pd.DataFrame, team_ids) -> None:
    """Insert an upload's rows: on PostgreSQL as one CSV written by pyarrow and sent
    with ``COPY`` (:func:`_copy_observations`), elsewhere with :func:`_insert_rows`."""
    cols = ["upload_id", "team_id", "measure_id", "period", "group", "broad_group",
            "numerator", "denominator"]  # fmt: skip
    if conn.dialect.driver == "psycopg":
        _copy_observations(conn, upload_id, clean, team_ids, cols)
        return
    periods = clean["period"].dt.strftime("%Y-%m-%d")
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
    _insert_rows(conn, Observation.__table__, cols, params)


def _copy_observations(
    conn: Connection, upload_id: int, clean: pd.DataFrame, team_ids, cols: list[str]
) -> None:
    """An upload's rows sent to PostgreSQL as one CSV made column by column (no Python
    object per row): every value quoted but NULL, so an empty text stays a text, and
    numbers written exactly (the shortest text that reads back as the same float)."""
    import pyarrow as pa
    from pyarrow import csv

    if clean.empty:
        return
    n = len(clean)
    text = pa.large_string()
    table = pa.table(
        [
            pa.array(np.full(n, upload_id, dtype=np.int64)),
            pa.array(clean["team"].map(team_ids).astype("int64").to_numpy()),
            pa.array(clean["measure"], type=text),
            pa.array(clean["period"].to_numpy().astype("datetime64[D]")),
            pa.array(clean["group"], type=text),
            pa.array(clean["broad_group"], type=text),
            pa.array(clean["numerator"].astype(float).to_numpy()),
            # no denominator (NaN) is NULL, as the rows inserted one by one have it
            pa.array(clean["denominator"].astype(float).to_numpy(), from_pandas=True),
        ],
        names=cols,
    )
    sink = pa.BufferOutputStream()
    csv.write_csv(table, sink, csv.WriteOptions(include_header=False, quoting_style="all_valid"))
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in cols)
    sql = f"COPY {quote(Observation.__tablename__)} ({names}) FROM STDIN (FORMAT csv, {{}})"
    driver = conn.connection.driver_connection
    with driver.cursor() as cur, cur.copy(sql.format("ENCODING 'UTF8'")) as copy:
        copy.write(memoryview(sink.getvalue()))


def _live(u, at: dt.datetime):
    """An upload live at ``at``: uploaded by then and not rolled back by then."""
    return and_(u.c.uploaded_at <= at, or_(u.c.rolled_back_at.is_(None), u.c.rolled_back_at > at))


def _unreplaced(o, at: dt.datetime):
    """No upload replacing the observation ``o`` is live at ``at``."""
    r, v = Replacement.__table__, Upload.__table__.alias("replacing")
    return ~exists(
        select(r.c.observation_id)
        .join(v, v.c.id == r.c.upload_id)
        .where(r.c.observation_id == o.c.id, _live(v, at))
    )


def _shown(o, u, at: dt.datetime):
    """The observation ``o`` of upload ``u`` is shown at ``at``: its upload is live then
    and no upload replacing it is. Upload time, not the order of import, decides (a
    back-dated upload never hides a later one: see :func:`_replace`)."""
    return and_(_live(u, at), _unreplaced(o, at))


#: Columns of :func:`_versions`.
VERSION_COLUMNS = (
    "id", "team_id", "measure_id", "period", "group", "broad_group", "numerator",
    "denominator", "upload_id", "uploaded_at", "shown",
)  # fmt: skip


#: What :func:`~qi.store._frames.read_columns` makes of each column of
#: :func:`_versions`' query (dates and times read as the text the database writes).
_VERSION_KINDS = {
    "id": "int", "team_id": "int", "measure_id": "text", "period": "text", "group": "text",
    "broad_group": "text", "numerator": "float", "denominator": "float", "upload_id": "int",
    "uploaded_at": "text", "shown": "int",
}  # fmt: skip


def _versions(conn: Connection, rows: pd.DataFrame, at: dt.datetime) -> pd.DataFrame:
    """Every stored version (rolled back or not) of the team × measure × periods of
    ``rows`` (with ``team_id``, ``measure``, ``period``), and whether each is shown at
    ``at``: :data:`VERSION_COLUMNS`.

    Read with the slice index on the upload's own teams, measures and periods, so the
    work is proportional to the upload and its earlier versions, not to the store; read
    into columns (:func:`~qi.store._frames.read_columns`), not row objects, since a file
    replacing a year of a collaborative meets hundreds of thousands of versions."""
    if rows.empty:
        return pd.DataFrame(columns=list(VERSION_COLUMNS))
    o, u = Observation.__table__, Upload.__table__
    periods = sorted({p.date() for p in pd.to_datetime(rows["period"].unique())})
    query = (
        select(
            o.c.id, o.c.team_id, o.c.measure_id, type_coerce(o.c.period, String), o.c.group,
            o.c.broad_group, o.c.numerator, o.c.denominator, o.c.upload_id,
            type_coerce(u.c.uploaded_at, String), case((_shown(o, u, at), 1), else_=0),
        )
        .join(u, o.c.upload_id == u.c.id)
        .where(
            o.c.team_id.in_(sorted(int(t) for t in rows["team_id"].unique())),
            o.c.measure_id.in_(sorted(rows["measure"].unique())),
            o.c.period.in_(periods),
        )
    )  # fmt: skip
    columns = read_columns(conn, query, _VERSION_KINDS)
    if not len(columns["id"]):
        return pd.DataFrame(columns=list(VERSION_COLUMNS))
    found = pd.DataFrame(
        {
            name: _decoded(column, dates=name in ("period", "uploaded_at"))
            if isinstance(column, Coded)
            else column
            for name, column in columns.items()
        },
        columns=list(VERSION_COLUMNS),
    )
    # only the upload's own slices (the query reads the product of its teams, measures
    # and periods)
    keys = rows[["team_id", "measure", "period"]].drop_duplicates()
    keys = keys.rename(columns={"measure": "measure_id"})
    keys["period"] = pd.to_datetime(keys["period"])
    return found.merge(keys, on=["team_id", "measure_id", "period"], how="inner")


def _decoded(column: Coded, *, dates: bool) -> np.ndarray:
    """A text column read as codes, as one value per row: each distinct text made once
    (and, for ``dates``, parsed once: the ISO text SQLite and PostgreSQL write)."""
    values = np.asarray(column.values, dtype=object)
    if dates:
        values = pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601").to_numpy()
    return values[column.codes]


def _group_map(catalogue: Catalogue) -> GroupMap:
    return catalogue.group_map


def _overlapping(rows: pd.DataFrame, versions: pd.DataFrame, groups: GroupMap) -> pd.DataFrame:
    """Each pair of a new row and a stored version of the same team × measure × period
    whose groups overlap (the same group, or one a part of the other): the stored
    version's :data:`VERSION_COLUMNS` and the new row's ``new_group``, ``new_numerator``,
    ``new_denominator`` (and ``team``, ``measure``)."""
    if versions.empty or rows.empty:
        return pd.DataFrame(
            columns=[*VERSION_COLUMNS, "team", "measure", "new_group", "new_numerator",
                     "new_denominator"]
        )  # fmt: skip
    new = rows[["team", "team_id", "measure", "period", "group", "broad_group", "numerator",
                "denominator"]].rename(columns={
        "group": "new_group", "numerator": "new_numerator", "denominator": "new_denominator",
        "measure": "measure_id",
    })  # fmt: skip
    new["period"] = pd.to_datetime(new["period"])
    pairs = versions.merge(new, on=["team_id", "measure_id", "period", "broad_group"])
    if pairs.empty:
        return pairs.assign(measure=pairs["measure_id"])
    paths: dict[tuple[str, str], tuple[str, ...]] = {}

    def path(group: str, broad: str) -> tuple[str, ...]:
        key = (group, broad)
        if key not in paths:
            paths[key] = groups.path(group, broad)
        return paths[key]

    keep = (pairs["group"] == pairs["new_group"]).to_numpy(copy=True)
    other = np.flatnonzero(~keep)  # another group of the same broad group: a part of it?
    keep[other] = [
        overlaps(path(g, b), path(n, b))
        for g, n, b in zip(
            pairs["group"].to_numpy()[other],
            pairs["new_group"].to_numpy()[other],
            pairs["broad_group"].to_numpy()[other],
            strict=True,
        )
    ]
    return pairs[keep].assign(measure=lambda f: f["measure_id"])


def _replace(
    conn: Connection,
    upload_id: int,
    stamp: dt.datetime,
    rows: pd.DataFrame,
    versions: pd.DataFrame,
    catalogue: Catalogue,
) -> pd.DataFrame:
    """Record what the new upload replaces, and return the values it hides that were
    shown at ``stamp`` (old → new).

    A stored version older than the upload (by upload time, then id) is replaced by it.
    When the upload is back-dated before a stored version, the upload's own row is
    replaced by that later upload instead, so the later one stays shown."""
    pairs = _overlapping(rows, versions, _group_map(catalogue))
    if pairs.empty:
        return no_replacements()
    older = (pairs["uploaded_at"] < pd.Timestamp(stamp)) | (
        (pairs["uploaded_at"] == pd.Timestamp(stamp)) & (pairs["upload_id"] < upload_id)
    )
    edges = [(int(i), int(upload_id)) for i in pairs.loc[older, "id"].unique()]
    later = pairs[~older]
    if len(later):
        o = Observation.__table__
        mine = pd.DataFrame.from_records(
            list(map(tuple, conn.execute(
                select(o.c.id, o.c.team_id, o.c.measure_id, o.c.period, o.c.group)
                .where(o.c.upload_id == upload_id)
            ).fetchall())),
            columns=["new_id", "team_id", "measure_id", "period", "new_group"],
        )  # fmt: skip
        mine["period"] = pd.to_datetime(mine["period"])
        hidden = later.merge(mine, on=["team_id", "measure_id", "period", "new_group"])
        edges += list({(int(i), int(u)) for i, u in zip(hidden["new_id"], hidden["upload_id"],
                                                        strict=True)})  # fmt: skip
    _insert_rows(conn, Replacement.__table__, ["observation_id", "upload_id"], edges)
    return _replacement_frame(pairs[older & pairs["shown"].astype(bool)])


def _replacement_frame(pairs: pd.DataFrame) -> pd.DataFrame:
    """Pairs of :func:`_overlapping` as :data:`~qi.store.core.REPLACEMENT_COLUMNS`."""
    out = pd.DataFrame(
        {
            "team": pairs["team"], "measure": pairs["measure_id"], "period": pairs["period"],
            "period_label": "", "group": pairs["group"],
            "numerator": pairs["numerator"].astype(float),
            "denominator": pd.to_numeric(pairs["denominator"]).astype(float),
            "upload_id": pairs["upload_id"].astype("int64"), "new_group": pairs["new_group"],
            "new_numerator": pairs["new_numerator"].astype(float),
            "new_denominator": pd.to_numeric(pairs["new_denominator"]).astype(float),
        }
    )  # fmt: skip
    return out.sort_values(["team", "measure", "period", "group"], ignore_index=True)[
        list(REPLACEMENT_COLUMNS)
    ]


def _with_labels(frame: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    """``period_label`` filled by each measure's frequency (2024-04, 2024/25 Q1, 2024/25)."""
    if frame.empty:
        return frame
    table = catalogue.measures
    frequency = frame["measure"].map(table["frequency"]) if "frequency" in table.columns else None
    return frame.assign(period_label=_period_labels(frame["period"], frequency))


def _period_labels(period: pd.Series, frequency: pd.Series | None) -> pd.Series:
    """Each period as written for its measure's frequency (month when unknown)."""
    if frequency is None:
        frequency = pd.Series("month", index=period.index)
    frequency = frequency.fillna("month")
    out = pd.Series("", index=period.index, dtype=object)
    for f in frequency.unique():
        rows = frequency == f
        out[rows] = freq.labels(period[rows], f)
    return out


def _value_text(numerator: float, denominator: float) -> str:
    """``3 / 650``, or ``12.5`` without a denominator."""
    top = f"{numerator:g}"
    return top if denominator != denominator else f"{top} / {denominator:g}"


def replacement_table(replacements: pd.DataFrame) -> pd.DataFrame:
    """The stored values a file replaces, as a person reads them: ``team``, ``measure``,
    ``period`` (written for the measure's frequency), ``group`` (``old → new`` when the
    file gives the group another way, e.g. a broad group as its categories),
    ``stored`` (numerator / denominator, and the upload it came from) and ``new``."""
    r = replacements
    if r.empty:
        return pd.DataFrame(columns=["team", "measure", "period", "group", "stored", "new"])
    group = [
        old if old == new else f"{old} → {new}"
        for old, new in zip(r["group"], r["new_group"], strict=True)
    ]
    stored = [
        f"{_value_text(n, d)} (upload {u})"
        for n, d, u in zip(r["numerator"], r["denominator"], r["upload_id"], strict=True)
    ]
    new = [_value_text(n, d) for n, d in zip(r["new_numerator"], r["new_denominator"], strict=True)]
    period = r["period_label"].where(r["period_label"].ne(""), r["period"].dt.strftime("%Y-%m"))
    return pd.DataFrame(
        {"team": r["team"], "measure": r["measure"], "period": period, "group": group,
         "stored": stored, "new": new}
    )  # fmt: skip


def replacement_lines(replacements: pd.DataFrame, limit: int = 20) -> list[str]:
    """One line per replaced value (``team · measure · period · group: old → new``), at
    most ``limit`` of them and a last line saying how many more."""
    # the text only of the lines printed: a file that replaces a whole year of a
    # collaborative replaces hundreds of thousands of values
    table = replacement_table(replacements.head(limit))
    lines = [
        f"  {t.team} · {t.measure} · {t.period} · {t.group}: {t.stored} → {t.new}"
        for t in table.itertuples(index=False)
    ]
    if len(replacements) > limit:
        lines.append(f"  … and {len(replacements) - limit:,} more")
    return lines
