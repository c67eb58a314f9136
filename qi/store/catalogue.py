"""What the collaborative measures, and where: teams, the measure catalogue, group aliases.

:class:`CatalogueMixin` is the part of :class:`qi.store.Store` that keeps the structure
(collaborative › integrated care system › trust › team:
:meth:`~CatalogueMixin.register_teams`, :meth:`~CatalogueMixin.teams`), the measure
catalogue (:meth:`~CatalogueMixin.load_measures`, :meth:`~CatalogueMixin.measures`), the
mapping of group spellings to NHS ethnic categories
(:meth:`~CatalogueMixin.group_aliases`, :meth:`~CatalogueMixin.set_group_aliases`), and
gives them together as the :class:`~qi.store.validation.Catalogue` an upload is checked
against (:meth:`~CatalogueMixin.catalogue`). They are shared by every team, so changing
them needs a role over the whole collaborative.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, insert, select, update

from qi import access, periods
from qi.charts import CHART_TYPES
from qi.store._text import _required_text, _too_long
from qi.store.core import StoreError, UploadRejected
from qi.store.groups import (
    ALIAS_COLUMNS,
    DEFAULT_GROUPING,
    GROUPING_COLUMNS,
    GroupMap,
    is_category,
    normalise,
    split_list,
)
from qi.store.models import (
    ICS,
    Collaborative,
    GroupAlias,
    Grouping,
    Measure,
    Observation,
    Team,
    Trust,
)
from qi.store.people import PeopleMixin
from qi.store.reading import Problem
from qi.store.validation import Catalogue

#: A measure's direction of improvement.
IMPROVEMENTS = ("increase", "decrease", "neutral")


class CatalogueMixin(PeopleMixin):
    """Teams, measures and group aliases (a part of :class:`qi.store.Store`)."""

    # ------------------------------------------------------------------ structure
    def register_teams(
        self,
        source: str | Path | pd.DataFrame,
        *,
        user: str = "system",
        name: str | None = None,
    ) -> int:
        """Add or move teams from a table with ``collaborative``, ``ics``, ``trust``, ``team``.

        Returns the number of rows read. A team that exists moves to the trust given.
        """
        with self.engine.connect() as conn:
            who = self._require(conn, "manage_catalogue", user)
            scopes = self._scopes(conn)
        frame, name = self.read_small_table(
            source, ("collaborative", "ics", "trust", "team"), name=name
        )
        for collab in frame["collaborative"].unique():
            if not who.covers("manage_catalogue", "collaborative", collab, scopes):
                raise access.refuse(who, "manage_catalogue", f"for collaborative {collab}")
        problems = _required_text(frame, name, ("collaborative", "ics", "trust", "team"))
        problems += _too_long(
            frame, name, dict.fromkeys(("collaborative", "ics", "trust", "team"), 200)
        )
        dup = frame["team"].duplicated(keep="first") & frame["team"].ne("")
        for i in np.flatnonzero(dup.to_numpy()):
            problems.append(
                Problem(name, int(frame["_row"].iat[i]), "team", "this team is listed twice")
            )
        moving = scopes[scopes["team"].isin(set(frame["team"]))]
        for collab in moving["collaborative"].unique():  # a team moved out of a collaborative
            if not who.covers("manage_catalogue", "collaborative", collab, scopes):
                raise access.refuse(who, "manage_catalogue", f"for collaborative {collab}")
        # roles are granted on a trust by name, so a trust name means one trust
        with self.engine.connect() as conn:
            known = pd.DataFrame(
                conn.execute(
                    select(Trust.name, ICS.name, Collaborative.name)
                    .join(ICS, Trust.ics_id == ICS.id)
                    .join(Collaborative, ICS.collaborative_id == Collaborative.id)
                ).all(),
                columns=["trust", "ics", "collaborative"],
            )
        places = pd.concat([known, frame[["trust", "ics", "collaborative"]]]).drop_duplicates()
        shared = set(places.loc[places["trust"].duplicated(keep=False), "trust"])
        for r, t in zip(frame["_row"], frame["trust"], strict=True):
            if t in shared:
                problems.append(
                    Problem(name, int(r), "trust",
                            f"a trust called {t} is in another ICS or collaborative: a trust "
                            "name must name one trust")
                )  # fmt: skip
        if problems:
            raise UploadRejected(problems)
        with self._write() as conn:
            # checked again under the write lock: a role revoked meanwhile stops the write
            self._require_collaborative("manage_catalogue", user, conn)
            for rec in frame.itertuples(index=False):
                collab = _get_or_create(conn, Collaborative, name=rec.collaborative)
                ics = _get_or_create(conn, ICS, collaborative_id=collab, name=rec.ics)
                trust = _get_or_create(conn, Trust, ics_id=ics, name=rec.trust)
                existing = conn.scalar(select(Team.id).where(Team.name == rec.team))
                if existing is None:
                    conn.execute(insert(Team).values(name=rec.team, trust_id=trust))
                else:
                    conn.execute(update(Team).where(Team.id == existing).values(trust_id=trust))
            self._audit(
                conn, who.username, "register_teams", "team", "", f"{name}: {len(frame)} rows"
            )
        return len(frame)

    def teams(self) -> pd.DataFrame:
        """Every team with its trust, integrated care system and collaborative."""
        query = (
            select(
                Collaborative.name.label("collaborative"),
                ICS.name.label("ics"),
                Trust.name.label("trust"),
                Team.name.label("team"),
            )
            .join(Trust, Team.trust_id == Trust.id)
            .join(ICS, Trust.ics_id == ICS.id)
            .join(Collaborative, ICS.collaborative_id == Collaborative.id)
            .order_by(Collaborative.name, ICS.name, Trust.name, Team.name)
        )
        with self.engine.connect() as conn:
            _, readable = self._readable(conn)
            if readable is not None:
                query = query.where(Team.id.in_(readable))
            return pd.DataFrame(
                conn.execute(query).all(), columns=["collaborative", "ics", "trust", "team"]
            )

    # ------------------------------------------------------------------ measures
    MEASURE_COLUMNS = (
        "id",
        "name",
        "definition",
        "numerator_definition",
        "denominator_definition",
        "unit",
        "multiplier",
        "chart",
        "improvement",
        "target",
        "groups",
    )
    #: Catalogue columns a file may leave out: ``grouping`` (default ``ethnicity``, the
    #: six broad ethnic groups) and ``frequency`` (default ``month``).
    OPTIONAL_MEASURE_COLUMNS = ("grouping", "frequency")

    def load_measures(
        self,
        source: str | Path | pd.DataFrame,
        *,
        user: str = "system",
        name: str | None = None,
    ) -> int:
        """Add or update the measure catalogue from a table with :attr:`MEASURE_COLUMNS`
        (and, if given, :attr:`OPTIONAL_MEASURE_COLUMNS`).

        ``groups`` may be left empty when ``grouping`` names a grouping: its groups are
        taken. A measure's frequency and grouping cannot change once data is stored for
        it (its stored periods and groups were read by them)."""
        who = self._require_collaborative("manage_catalogue", user)
        frame, name = self.read_small_table(
            source, self.MEASURE_COLUMNS, self.OPTIONAL_MEASURE_COLUMNS, name
        )
        problems = _required_text(frame, name, ("id", "name", "chart", "improvement"))
        problems += _too_long(frame, name, {"id": 100, "name": 300, "unit": 100})
        rows = frame["_row"].to_numpy()

        def bad(mask, column, message):
            for r in rows[np.asarray(mask, dtype=bool)]:
                problems.append(Problem(name, int(r), column, message))

        bad(frame["id"].duplicated() & frame["id"].ne(""), "id", "this measure id is listed twice")
        charts = sorted(CHART_TYPES)
        bad(
            frame["chart"].ne("") & ~frame["chart"].isin(charts),
            "chart",
            f"unknown chart type: use one of {', '.join(charts)}",
        )
        bad(
            frame["improvement"].ne("") & ~frame["improvement"].isin(IMPROVEMENTS),
            "improvement",
            f"improvement must be one of {', '.join(IMPROVEMENTS)}",
        )
        mult = pd.to_numeric(frame["multiplier"].replace("", "1"), errors="coerce")
        bad(mult.isna() | (mult <= 0), "multiplier", "multiplier must be a number above 0")
        target = pd.to_numeric(frame["target"].replace("", np.nan), errors="coerce")
        bad(target.isna() & frame["target"].ne(""), "target", "target must be a number or empty")
        frequency = frame["frequency"].map(periods.frequency_of)
        bad(
            frequency.isna(),
            "frequency",
            f"frequency must be one of {', '.join(periods.FREQUENCIES)} (financial quarters "
            "and years), or empty for month",
        )
        known = self.groupings()
        grouping = frame["grouping"].replace("", DEFAULT_GROUPING)
        names = set(known["grouping"])
        bad(
            ~grouping.isin(names),
            "grouping",
            f"unknown grouping: use one of {', '.join(sorted(names))} (qi groupings adds one)",
        )
        of_grouping = known.groupby("grouping")["group"].agg(tuple).to_dict()
        groups = [
            ";".join(split_list(g)) or ";".join(of_grouping.get(gr, ()))
            for g, gr in zip(frame["groups"], grouping, strict=True)
        ]
        with self.engine.connect() as conn:
            stored = {
                m: (f, g)
                for m, f, g in conn.execute(select(Measure.id, Measure.frequency, Measure.grouping))
            }
            with_data = set(conn.scalars(select(Observation.measure_id).distinct()).all())
        for column, new, i in (("frequency", frequency, 0), ("grouping", grouping, 1)):
            changed = [
                m in with_data and v is not None and stored.get(m, (v, v))[i] != v
                for m, v in zip(frame["id"], new, strict=True)
            ]
            bad(
                changed,
                column,
                f"this measure already has data stored by its {column}: its {column} cannot "
                "change (make a new measure)",
            )
        if problems:
            raise UploadRejected(problems)
        with self._write() as conn:
            # checked again under the write lock: a role revoked meanwhile stops the write
            self._require_collaborative("manage_catalogue", user, conn)
            for i, rec in enumerate(frame.itertuples(index=False)):
                values = {
                    "name": rec.name,
                    "definition": rec.definition,
                    "numerator_definition": rec.numerator_definition,
                    "denominator_definition": rec.denominator_definition,
                    "unit": rec.unit,
                    "multiplier": float(mult.iat[i]),
                    "chart": rec.chart,
                    "improvement": rec.improvement,
                    "target": None if np.isnan(target.iat[i]) else float(target.iat[i]),
                    "groups": groups[i],
                    "grouping": grouping.iat[i],
                    "frequency": frequency.iat[i],
                }
                if conn.scalar(select(Measure.id).where(Measure.id == rec.id)) is None:
                    conn.execute(insert(Measure).values(id=rec.id, **values))
                else:
                    conn.execute(update(Measure).where(Measure.id == rec.id).values(**values))
            self._audit(
                conn, who.username, "load_measures", "measure", "", f"{name}: {len(frame)} rows"
            )
        return len(frame)

    def measures(self) -> pd.DataFrame:
        """The measure catalogue; ``groups`` as a tuple of group names."""
        columns = [*self.MEASURE_COLUMNS, *self.OPTIONAL_MEASURE_COLUMNS]
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*[getattr(Measure, c) for c in columns]).order_by(Measure.id)
            ).all()
        frame = pd.DataFrame(rows, columns=columns)
        frame["groups"] = frame["groups"].map(lambda s: tuple(g for g in s.split(";") if g))
        return frame

    # ------------------------------------------------------------------ group aliases
    def group_aliases(self) -> pd.DataFrame:
        """The mapping of group values to NHS ethnic categories and broad groups."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*[getattr(GroupAlias, c) for c in ALIAS_COLUMNS]).order_by(GroupAlias.alias)
            ).all()
        return pd.DataFrame(rows, columns=list(ALIAS_COLUMNS))

    def set_group_aliases(self, table: pd.DataFrame, *, user: str = "system") -> int:
        """Add or change aliases (columns ``alias``, ``code``, ``label``, ``broad_group``;
        ``_row``, if there, numbers the rows in messages, as ``read_small_table`` does).
        A bad row is refused with its row number, and nothing is changed."""
        who = self._require_collaborative("manage_catalogue", user)
        missing = [c for c in ("alias", "label", "broad_group") if c not in table.columns]
        if missing:
            raise StoreError(f"the alias table needs the columns {missing}")
        with self._write() as conn:
            # checked again under the write lock: a role revoked meanwhile stops the write
            self._require_collaborative("manage_catalogue", user, conn)
            for i, rec in enumerate(table.to_dict("records")):
                row = rec.pop("_row", i + 2)  # header = row 1
                cell = {k: "" if pd.isna(v) else str(v).strip() for k, v in rec.items()}
                alias = normalise(cell["alias"])
                if not alias or not cell["label"] or not cell["broad_group"]:
                    raise StoreError(
                        f"row {row}: alias {cell['alias']!r}: alias, label and broad_group "
                        "are needed; nothing was changed"
                    )
                limits = {"alias": 200, "code": 4, "label": 200, "broad_group": 100}
                for col, limit in limits.items():
                    if len(cell.get(col, "")) > limit:
                        raise StoreError(
                            f"row {row}, column {col}: alias {cell['alias'][:60]!r}: {col} is "
                            f"longer than {limit} characters; nothing was changed"
                        )
                values = {
                    "code": cell.get("code") or None,
                    "label": cell["label"],
                    "broad_group": cell["broad_group"],
                }
                conn.execute(GroupAlias.__table__.delete().where(GroupAlias.alias == alias))
                conn.execute(insert(GroupAlias).values(alias=alias, **values))
            _check_labels(conn)
            self._audit(
                conn, who.username, "set_group_aliases", "group_alias", "", f"{len(table)} rows"
            )
        return len(table)

    # ------------------------------------------------------------------ groupings
    def groupings(self) -> pd.DataFrame:
        """The groupings a measure may report (:data:`~qi.store.groups.GROUPING_COLUMNS`
        and ``position``, the group's place in its grouping), in order."""
        cols = [*GROUPING_COLUMNS, "position"]
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*[getattr(Grouping, c) for c in cols]).order_by(
                    Grouping.grouping, Grouping.position
                )
            ).all()
        return pd.DataFrame(rows, columns=cols)

    def set_groupings(self, source: str | Path | pd.DataFrame, *, user: str = "system") -> int:
        """Add or replace groupings from a table with ``grouping``, ``group``, ``members``
        (broad ethnic groups, or categories by label or code, separated by ";") and
        ``aliases`` (other spellings of the group, optional). Every grouping named is
        replaced whole, its groups in the order given. A member that is not a broad
        group or category, or one given to two groups of a grouping, is refused with
        its row, and nothing is changed."""
        who = self._require_collaborative("manage_catalogue", user)
        frame, name = self.read_small_table(source, ("grouping", "group", "members"), ("aliases",))
        problems = _required_text(frame, name, ("grouping", "group", "members"))
        problems += _too_long(frame, name, {"grouping": 100, "group": 100})
        groups = GroupMap(self.group_aliases(), frame.iloc[0:0].assign(position=0))
        known = set(groups.broads) | set(groups.exact)
        for grouping, group, members, row in zip(
            frame["grouping"], frame["group"], frame["members"], frame["_row"], strict=True
        ):
            seen = frame[(frame["grouping"] == grouping) & (frame["_row"] < row)]
            if group in set(seen["group"]):
                problems.append(Problem(name, int(row), "group", "this group is listed twice"))
            earlier = {normalise(m) for ms in seen["members"] for m in split_list(ms)}
            for member in split_list(members):
                if normalise(member) not in known:
                    problems.append(
                        Problem(name, int(row), "members",
                                f"'{member}' is not a broad ethnic group or an ethnic category")
                    )  # fmt: skip
                elif normalise(member) in earlier:
                    problems.append(
                        Problem(name, int(row), "members",
                                f"'{member}' is already in another group of {grouping}")
                    )  # fmt: skip
        if problems:
            raise UploadRejected(problems)
        with self._write() as conn:
            self._require_collaborative("manage_catalogue", user, conn)
            for grouping in frame["grouping"].unique():
                conn.execute(Grouping.__table__.delete().where(Grouping.grouping == grouping))
            frame = frame.assign(position=frame.groupby("grouping").cumcount())
            for rec in frame.itertuples(index=False):
                conn.execute(
                    insert(Grouping).values(
                        grouping=rec.grouping, group=rec.group, position=int(rec.position),
                        members=";".join(split_list(rec.members)),
                        aliases=";".join(split_list(rec.aliases)),
                    )
                )  # fmt: skip
            self._audit(
                conn, who.username, "set_groupings", "grouping", "", f"{name}: {len(frame)} rows"
            )
        return len(frame)

    def catalogue(self, today: dt.date | None = None) -> Catalogue:
        """What uploads are validated against, as it stands now."""
        measures = self.measures().set_index("id")
        with self.engine.connect() as conn:
            teams = frozenset(conn.scalars(select(Team.name)).all())
        kwargs = {} if today is None else {"today": today}
        return Catalogue(
            teams=teams, measures=measures, aliases=self.group_aliases(),
            groupings=self.groupings(), **kwargs,
        )  # fmt: skip


def _check_labels(conn: Connection) -> None:
    """Each category label names one category: one broad group (and at most one code)."""
    rows = pd.DataFrame(
        conn.execute(select(GroupAlias.code, GroupAlias.label, GroupAlias.broad_group)).all(),
        columns=["code", "label", "broad_group"],
    )
    category = [
        is_category(c, lab, b)
        for c, lab, b in zip(rows["code"], rows["label"], rows["broad_group"], strict=True)
    ]
    cats = rows[category]
    broads = cats.groupby("label")["broad_group"].nunique()
    codes = cats.dropna(subset=["code"]).groupby("label")["code"].nunique()
    clash = sorted(set(broads[broads > 1].index) | set(codes[codes > 1].index))
    if clash:
        raise StoreError(
            f"the category '{clash[0]}' would have two broad groups or codes: give every "
            "alias of a category the same code and broad group; nothing was changed"
        )


def _get_or_create(conn: Connection, model, **values) -> int:
    where = [getattr(model, k) == v for k, v in values.items()]
    found = conn.scalar(select(model.id).where(*where))
    if found is not None:
        return found
    return conn.execute(insert(model).values(**values).returning(model.id)).scalar_one()
