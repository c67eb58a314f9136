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

from qi import access
from qi.charts import CHART_TYPES
from qi.store._text import _required_text, _too_long
from qi.store.core import StoreError, UploadRejected
from qi.store.groups import ALIAS_COLUMNS, normalise
from qi.store.models import ICS, Collaborative, GroupAlias, Measure, Team, Trust
from qi.store.people import PeopleMixin
from qi.store.reading import Problem
from qi.store.validation import Catalogue

#: A measure's direction of improvement.
IMPROVEMENTS = ("increase", "decrease", "neutral")


class CatalogueMixin(PeopleMixin):
    """Teams, measures and group aliases (a part of :class:`qi.store.Store`)."""

    # ------------------------------------------------------------------ structure
    def register_teams(self, source: str | Path | pd.DataFrame, *, user: str = "system") -> int:
        """Add or move teams from a table with ``collaborative``, ``ics``, ``trust``, ``team``.

        Returns the number of rows read. A team that exists moves to the trust given.
        """
        with self.engine.connect() as conn:
            who = self._require(conn, "manage_catalogue", user)
            scopes = self._scopes(conn)
        frame, name = self.read_small_table(source, ("collaborative", "ics", "trust", "team"))
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

    def load_measures(self, source: str | Path | pd.DataFrame, *, user: str = "system") -> int:
        """Add or update the measure catalogue from a table with :attr:`MEASURE_COLUMNS`."""
        who = self._require_collaborative("manage_catalogue", user)
        frame, name = self.read_small_table(source, self.MEASURE_COLUMNS)
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
        if problems:
            raise UploadRejected(problems)
        with self._write() as conn:
            # checked again under the write lock: a role revoked meanwhile stops the write
            self._require_collaborative("manage_catalogue", user, conn)
            for i, rec in enumerate(frame.itertuples(index=False)):
                groups = ";".join(g.strip() for g in rec.groups.split(";") if g.strip())
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
                    "groups": groups,
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
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*[getattr(Measure, c) for c in self.MEASURE_COLUMNS]).order_by(Measure.id)
            ).all()
        frame = pd.DataFrame(rows, columns=list(self.MEASURE_COLUMNS))
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
            self._audit(
                conn, who.username, "set_group_aliases", "group_alias", "", f"{len(table)} rows"
            )
        return len(table)

    def catalogue(self, today: dt.date | None = None) -> Catalogue:
        """What uploads are validated against, as it stands now."""
        measures = self.measures().set_index("id")
        with self.engine.connect() as conn:
            teams = frozenset(conn.scalars(select(Team.name)).all())
        kwargs = {} if today is None else {"today": today}
        return Catalogue(teams=teams, measures=measures, aliases=self.group_aliases(), **kwargs)


def _get_or_create(conn: Connection, model, **values) -> int:
    where = [getattr(model, k) == v for k, v in values.items()]
    found = conn.scalar(select(model.id).where(*where))
    if found is not None:
        return found
    return conn.execute(insert(model).values(**values).returning(model.id)).scalar_one()
