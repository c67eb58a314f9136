"""The change log: change ideas and PDSA cycles, owners, decisions and actions, notes.

:class:`ChangeLogMixin` is the part of :class:`qi.store.Store` that records what teams
tried and decided, beside their data:

* change ideas and their plan-do-study-act cycles (:meth:`~ChangeLogMixin.import_pdsa`,
  :meth:`~ChangeLogMixin.pdsa`), each idea optionally tagged with a change of the
  collaborative's change package (:mod:`qi.store.package`);
* who owns each team × measure and how often it is reviewed
  (:meth:`~ChangeLogMixin.load_owners`, :meth:`~ChangeLogMixin.owners`);
* decisions and actions, e.g. from a board meeting (:meth:`~ChangeLogMixin.add_actions`,
  :meth:`~ChangeLogMixin.complete_action`, :meth:`~ChangeLogMixin.actions`);
* annotations, free text on one point of a chart
  (:meth:`~ChangeLogMixin.add_annotation`, :meth:`~ChangeLogMixin.annotations`).

Writing any of them needs the ``edit_changes`` right for every team named.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import insert, select, update

from qi.store._text import _required_text, _too_long
from qi.store.core import StoreError, UploadRejected, utcnow
from qi.store.models import (
    Action,
    Annotation,
    ChangeIdea,
    ChangePackage,
    Measure,
    Owner,
    PDSACycle,
    Team,
)
from qi.store.package import ChangePackageMixin
from qi.store.reading import Problem

#: How far people with lived experience shaped a change idea.
LIVED_EXPERIENCE = ("co-designed", "consulted", "not involved")
#: The stages of a plan-do-study-act cycle.
PDSA_STAGES = ("plan", "do", "study", "act")


class ChangeLogMixin(ChangePackageMixin):
    """Change ideas, PDSA cycles, owners, actions and annotations (a part of
    :class:`qi.store.Store`)."""

    # ------------------------------------------------------------------ change ideas
    PDSA_COLUMNS = (
        "team",
        "measure",
        "group",
        "change_idea",
        "cycle",
        "stage",
        "start",
        "end",
        "learning",
        "lived_experience",
    )

    def import_pdsa(
        self,
        source: str | Path | pd.DataFrame,
        *,
        user: str = "system",
        name: str | None = None,
    ) -> int:
        """Load change ideas and PDSA cycles (:attr:`PDSA_COLUMNS`, and optionally ``tag``,
        a change of the change package); a cycle stage given again (same idea, cycle and
        stage) is updated. An empty ``tag`` (or none in the file) leaves an idea's tag as it
        is (:meth:`set_change_tag` changes or removes it); an unknown tag is refused."""
        with self.engine.connect() as conn:
            who = self._require(conn, "edit_changes", user)
        frame, name = self.read_small_table(source, self.PDSA_COLUMNS, ("tag",), name)
        problems = self._scope_problems(who, "edit_changes", frame, name)
        problems += _required_text(
            frame,
            name,
            ("team", "measure", "change_idea", "cycle", "stage", "start", "lived_experience"),
        )
        problems += _too_long(frame, name, {"change_idea": 500, "group": 200})
        cat = self.catalogue()
        rows = frame["_row"].to_numpy()

        def bad(mask, column, message):
            for r in rows[np.asarray(mask, dtype=bool)]:
                problems.append(Problem(name, int(r), column, message))

        bad(
            frame["team"].ne("") & ~frame["team"].isin(cat.teams),
            "team",
            "unknown team: register it first (qi teams)",
        )
        bad(
            frame["measure"].ne("") & ~frame["measure"].isin(cat.measures.index),
            "measure",
            "unknown measure: load it into the catalogue first (qi measures)",
        )
        cycle = pd.to_numeric(frame["cycle"], errors="coerce")
        bad(
            frame["cycle"].ne("") & (cycle.isna() | (cycle % 1 != 0) | (cycle < 1)),
            "cycle",
            "cycle must be a whole number from 1",
        )
        stage = frame["stage"].str.lower()
        bad(
            stage.ne("") & ~stage.isin(PDSA_STAGES),
            "stage",
            f"stage must be one of {', '.join(PDSA_STAGES)}",
        )
        lived = frame["lived_experience"].str.lower()
        bad(
            lived.ne("") & ~lived.isin(LIVED_EXPERIENCE),
            "lived_experience",
            f"lived_experience must be one of {', '.join(LIVED_EXPERIENCE)}",
        )
        start = pd.to_datetime(frame["start"], errors="coerce", format="ISO8601")
        end = pd.to_datetime(frame["end"].replace("", None), errors="coerce", format="ISO8601")
        bad(frame["start"].ne("") & start.isna(), "start", "start must be a date, as 2025-03-14")
        bad(frame["end"].ne("") & end.isna(), "end", "end must be a date, as 2025-04-30, or empty")
        bad(end.notna() & start.notna() & (end < start), "end", "end is before start")
        tagged = frame["tag"].ne("")
        if tagged.any():
            package = set(self.change_package()["tag"])
            bad(
                tagged & ~frame["tag"].isin(package),
                "tag",
                "unknown tag: it is not in the change package (qi package)",
            )
        if problems:
            raise UploadRejected(problems)
        with self._write() as conn:
            # checked again under the write lock: a role revoked meanwhile stops the write
            self._require_teams(conn, "edit_changes", frame["team"].unique(), user)
            if tagged.any():  # and the package may have lost a tag meanwhile
                package = set(conn.scalars(select(ChangePackage.tag)))
                gone = frame.loc[tagged & ~frame["tag"].isin(package), "_row"]
                if len(gone):
                    raise UploadRejected(
                        [Problem(name, int(r), "tag", "unknown tag: it is not in the change "
                                 "package (qi package)") for r in gone]
                    )  # fmt: skip
            team_ids = dict(conn.execute(select(Team.name, Team.id)).all())
            for i, rec in enumerate(frame.itertuples(index=False)):
                idea = conn.scalar(
                    select(ChangeIdea.id).where(
                        ChangeIdea.team_id == team_ids[rec.team],
                        ChangeIdea.measure_id == rec.measure,
                        ChangeIdea.title == rec.change_idea,
                    )
                )
                idea_values = {"group": rec.group or None, "lived_experience": lived.iat[i]}
                if rec.tag:
                    idea_values["tag"] = rec.tag
                if idea is None:
                    idea = conn.execute(
                        insert(ChangeIdea)
                        .values(
                            team_id=team_ids[rec.team],
                            measure_id=rec.measure,
                            title=rec.change_idea,
                            **idea_values,
                        )
                        .returning(ChangeIdea.id)
                    ).scalar_one()
                else:
                    conn.execute(
                        update(ChangeIdea).where(ChangeIdea.id == idea).values(**idea_values)
                    )
                key = (
                    PDSACycle.change_idea_id == idea,
                    PDSACycle.cycle == int(cycle.iat[i]),
                    PDSACycle.stage == stage.iat[i],
                )
                conn.execute(PDSACycle.__table__.delete().where(*key))
                conn.execute(
                    insert(PDSACycle).values(
                        change_idea_id=idea,
                        cycle=int(cycle.iat[i]),
                        stage=stage.iat[i],
                        start=start.iat[i].date(),
                        end=None if pd.isna(end.iat[i]) else end.iat[i].date(),
                        learning=rec.learning,
                    )
                )
            self._audit(
                conn, who.username, "import_pdsa", "pdsa_cycle", "", f"{name}: {len(frame)} rows"
            )
        return len(frame)

    def pdsa(self, *, teams: Iterable[str] | None = None, measures: Iterable[str] | None = None):
        """Change ideas and their PDSA cycles, one row per cycle stage."""
        query = (
            select(
                Team.name,
                ChangeIdea.measure_id,
                ChangeIdea.group,
                ChangeIdea.title,
                ChangeIdea.lived_experience,
                PDSACycle.cycle,
                PDSACycle.stage,
                PDSACycle.start,
                PDSACycle.end,
                PDSACycle.learning,
                ChangeIdea.id,
                ChangeIdea.tag,
            )
            .join(ChangeIdea, PDSACycle.change_idea_id == ChangeIdea.id)
            .join(Team, ChangeIdea.team_id == Team.id)
            .order_by(Team.name, ChangeIdea.measure_id, PDSACycle.start, PDSACycle.cycle)
        )
        if teams is not None:
            query = query.where(Team.name.in_(list(teams)))
        if measures is not None:
            query = query.where(ChangeIdea.measure_id.in_(list(measures)))
        rows = self._readable_rows(query)
        frame = pd.DataFrame(
            rows,
            columns=[
                "team",
                "measure",
                "group",
                "change_idea",
                "lived_experience",
                "cycle",
                "stage",
                "start",
                "end",
                "learning",
                "change_idea_id",
                "tag",
            ],
        )
        for col in ("start", "end"):
            frame[col] = pd.to_datetime(frame[col])
        return frame

    # ------------------------------------------------------------------ accountability
    OWNER_COLUMNS = ("team", "measure", "owner", "sponsor", "review_every_months")
    ACTION_COLUMNS = ("team", "measure", "period", "raised_by", "decision", "action", "owner",
                      "due", "done")  # fmt: skip

    def load_owners(
        self,
        source: str | Path | pd.DataFrame,
        *,
        user: str = "system",
        name: str | None = None,
    ) -> int:
        """Set the owner, sponsor and review cadence of team × measure pairs; ``since``
        (optional, a date) is when the owner took it on — by default the day the owner
        is first set or changed (reloading the same owner keeps the date)."""
        with self.engine.connect() as conn:
            who = self._require(conn, "edit_changes", user)
        frame, name = self.read_small_table(source, self.OWNER_COLUMNS, ("since",), name)
        problems = self._scope_problems(who, "edit_changes", frame, name)
        problems += self._check_team_measure(frame, name)
        problems += _required_text(frame, name, ("owner", "sponsor"))
        problems += _too_long(frame, name, {"owner": 200, "sponsor": 200})
        cadence = pd.to_numeric(frame["review_every_months"].replace("", "1"), errors="coerce")
        for r in frame.loc[cadence.isna() | (cadence < 1) | (cadence % 1 != 0), "_row"]:
            problems.append(
                Problem(name, int(r), "review_every_months", "must be a whole number of months")
            )
        since = pd.to_datetime(frame["since"].replace("", None), errors="coerce",
                               format="ISO8601")  # fmt: skip
        for r in frame.loc[frame["since"].ne("") & since.isna(), "_row"]:
            problems.append(Problem(name, int(r), "since", "since must be a date, as 2025-03-01"))
        if problems:
            raise UploadRejected(problems)
        today = utcnow().date()
        with self._write() as conn:
            # checked again under the write lock: a role revoked meanwhile stops the write
            self._require_teams(conn, "edit_changes", frame["team"].unique(), user)
            team_ids = dict(conn.execute(select(Team.name, Team.id)).all())
            for i, rec in enumerate(frame.itertuples(index=False)):
                key = (Owner.team_id == team_ids[rec.team], Owner.measure_id == rec.measure)
                before = conn.execute(select(Owner.owner, Owner.since).where(*key)).first()
                if pd.notna(since.iat[i]):
                    start = since.iat[i].date()
                elif before is not None and before.owner == rec.owner and before.since:
                    start = before.since
                else:
                    start = today
                conn.execute(Owner.__table__.delete().where(*key))
                conn.execute(
                    insert(Owner).values(
                        team_id=team_ids[rec.team], measure_id=rec.measure, owner=rec.owner,
                        sponsor=rec.sponsor, review_every_months=int(cadence.iat[i]),
                        since=start,
                    )
                )  # fmt: skip
            self._audit(
                conn, who.username, "load_owners", "owner", "", f"{name}: {len(frame)} rows"
            )
        return len(frame)

    def owners(self) -> pd.DataFrame:
        """Each owned team × measure: :attr:`OWNER_COLUMNS` and ``since`` (when the owner
        was set)."""
        query = (
            select(Team.name, Owner.measure_id, Owner.owner, Owner.sponsor,
                   Owner.review_every_months, Owner.since)
            .join(Team, Owner.team_id == Team.id)
            .order_by(Team.name, Owner.measure_id)
        )  # fmt: skip
        rows = self._readable_rows(query)
        frame = pd.DataFrame.from_records(rows, columns=[*self.OWNER_COLUMNS, "since"])
        frame["since"] = pd.to_datetime(frame["since"])
        return frame

    def add_actions(
        self,
        source: str | Path | pd.DataFrame,
        *,
        user: str = "system",
        name: str | None = None,
    ) -> int:
        """Record decisions and actions (:attr:`ACTION_COLUMNS`), e.g. from a board meeting."""
        with self.engine.connect() as conn:
            who = self._require(conn, "edit_changes", user)
        frame, name = self.read_small_table(source, self.ACTION_COLUMNS, name=name)
        problems = self._scope_problems(who, "edit_changes", frame, name)
        problems += self._check_team_measure(frame, name)
        problems += _required_text(frame, name, ("period", "raised_by", "owner"))
        problems += _too_long(frame, name, {"owner": 200})
        rows = frame["_row"].to_numpy()

        def bad(mask, column, message):
            for r in rows[np.asarray(mask, dtype=bool)]:
                problems.append(Problem(name, int(r), column, message))

        from qi.store.validation import parse_periods

        periods, reasons = parse_periods(frame["period"])
        bad(reasons.ne("") & frame["period"].ne(""), "period", "period must be a month, as 2025-03")
        bad(~frame["raised_by"].isin(["board", "team", ""]), "raised_by", "board or team")
        bad(frame["decision"].eq("") & frame["action"].eq(""), "action",
            "give a decision or an action")  # fmt: skip
        dates = {}
        for col in ("due", "done"):
            dates[col] = pd.to_datetime(frame[col].replace("", None), errors="coerce",
                                        format="ISO8601")  # fmt: skip
            bad(frame[col].ne("") & dates[col].isna(), col, f"{col} must be a date, as 2025-03-31")
        if problems:
            raise UploadRejected(problems)
        with self._write() as conn:
            # checked again under the write lock: a role revoked meanwhile stops the write
            self._require_teams(conn, "edit_changes", frame["team"].unique(), user)
            team_ids = dict(conn.execute(select(Team.name, Team.id)).all())
            for i, rec in enumerate(frame.itertuples(index=False)):
                conn.execute(
                    insert(Action).values(
                        team_id=team_ids[rec.team], measure_id=rec.measure,
                        period=periods.iat[i].date(), raised_by=rec.raised_by,
                        decision=rec.decision, action=rec.action, owner=rec.owner,
                        due=None if pd.isna(dates["due"].iat[i]) else dates["due"].iat[i].date(),
                        done=None if pd.isna(dates["done"].iat[i]) else dates["done"].iat[i].date(),
                        created_at=utcnow(), created_by=who.username,
                    )
                )  # fmt: skip
            self._audit(
                conn, who.username, "add_actions", "action", "", f"{name}: {len(frame)} rows"
            )
        return len(frame)

    def complete_action(self, action_id: int, *, done: dt.date | None = None, user="system"):
        """Mark an action done (today by default)."""
        with self._write() as conn:
            self._require(conn, "edit_changes", user)
            team = conn.scalar(
                select(Team.name)
                .join(Action, Action.team_id == Team.id)
                .where(Action.id == action_id)
            )
            if team is None:
                raise StoreError(f"there is no action {action_id}")
            who = self._require_teams(conn, "edit_changes", [team], user)
            when = done or utcnow().date()
            conn.execute(update(Action).where(Action.id == action_id).values(done=when))
            self._audit(conn, who.username, "complete_action", "action", action_id, str(when))

    def update_action(
        self,
        action_id: int,
        *,
        decision: str,
        action: str,
        owner: str,
        due: dt.date | None = None,
        user: str = "system",
    ) -> None:
        """Change an action's decision, action, owner and due date (in place; audited)."""
        if not str(decision).strip() and not str(action).strip():
            raise StoreError("give a decision or an action")
        if not str(owner).strip():
            raise StoreError("give the action an owner (a role)")
        if len(str(owner)) > 200:
            raise StoreError("the owner is longer than 200 characters")
        with self._write() as conn:
            self._require(conn, "edit_changes", user)
            team = conn.scalar(
                select(Team.name).join(Action, Action.team_id == Team.id)
                .where(Action.id == action_id)
            )  # fmt: skip
            if team is None:
                raise StoreError(f"there is no action {action_id}")
            who = self._require_teams(conn, "edit_changes", [team], user)
            conn.execute(
                update(Action).where(Action.id == action_id).values(
                    decision=str(decision), action=str(action), owner=str(owner), due=due
                )
            )  # fmt: skip
            self._audit(conn, who.username, "update_action", "action", action_id)

    def actions(self) -> pd.DataFrame:
        """Every decision and action, with ``id``, ``created_at`` and ``created_by``."""
        query = (
            select(Action.id, Team.name, Action.measure_id, Action.period, Action.raised_by,
                   Action.decision, Action.action, Action.owner, Action.due, Action.done,
                   Action.created_at, Action.created_by)
            .join(Team, Action.team_id == Team.id)
            .order_by(Action.period, Action.id)
        )  # fmt: skip
        rows = self._readable_rows(query)
        frame = pd.DataFrame.from_records(
            rows, columns=["id", *self.ACTION_COLUMNS, "created_at", "created_by"]
        )
        for col in ("period", "due", "done"):
            frame[col] = pd.to_datetime(frame[col])
        return frame

    def _check_team_measure(self, frame: pd.DataFrame, name: str) -> list[Problem]:
        cat = self.catalogue()
        problems = []
        for col, known, what in (
            ("team", cat.teams, "team: register it first (qi teams)"),
            (
                "measure",
                set(cat.measures.index),
                "measure: load it into the catalogue first (qi measures)",
            ),
        ):
            for r, v in zip(frame["_row"], frame[col], strict=True):
                if v not in known:
                    problems.append(Problem(name, int(r), col, f"unknown {what}"))
        return problems  # fmt: skip

    # ------------------------------------------------------------------ annotations
    def add_annotation(
        self, *, team: str, measure: str, period, text: str, author: str, group: str | None = None
    ) -> int:
        """Free text on one point of a chart (stored as typed; shown as text, never markup)."""
        if not str(text).strip():
            raise StoreError("an annotation needs some text")
        if group is not None and len(str(group)) > 200:
            raise StoreError("an annotation's group is longer than 200 characters")
        with self._write() as conn:
            self._require(conn, "edit_changes", author)
            team_id = conn.scalar(select(Team.id).where(Team.name == team))
            if team_id is None:
                raise StoreError(f"unknown team {team!r}")
            who = self._require_teams(conn, "edit_changes", [team], author)
            if conn.scalar(select(Measure.id).where(Measure.id == measure)) is None:
                raise StoreError(f"unknown measure {measure!r}")
            new_id = conn.execute(
                insert(Annotation)
                .values(
                    team_id=team_id,
                    measure_id=measure,
                    group=group,
                    period=pd.Timestamp(period).date().replace(day=1),
                    text=str(text),
                    author=who.username,
                    created_at=utcnow(),
                )
                .returning(Annotation.id)
            ).scalar_one()
            self._audit(conn, who.username, "annotate", "annotation", new_id)
        return new_id

    def update_annotation(self, annotation_id: int, *, text: str, user: str = "system") -> None:
        """Change a note's text (in place; stored as typed; audited)."""
        if not str(text).strip():
            raise StoreError("an annotation needs some text")
        with self._write() as conn:
            self._require(conn, "edit_changes", user)
            team = conn.scalar(
                select(Team.name).join(Annotation, Annotation.team_id == Team.id)
                .where(Annotation.id == annotation_id)
            )  # fmt: skip
            if team is None:
                raise StoreError(f"there is no note {annotation_id}")
            who = self._require_teams(conn, "edit_changes", [team], user)
            conn.execute(
                update(Annotation).where(Annotation.id == annotation_id).values(text=str(text))
            )
            self._audit(conn, who.username, "update_annotation", "annotation", annotation_id)

    def annotations(self, *, team: str | None = None, measure: str | None = None) -> pd.DataFrame:
        query = (
            select(
                Annotation.id,
                Team.name,
                Annotation.measure_id,
                Annotation.group,
                Annotation.period,
                Annotation.text,
                Annotation.author,
                Annotation.created_at,
            )
            .join(Team, Annotation.team_id == Team.id)
            .order_by(Annotation.period, Annotation.id)
        )
        if team is not None:
            query = query.where(Team.name == team)
        if measure is not None:
            query = query.where(Annotation.measure_id == measure)
        rows = self._readable_rows(query)
        frame = pd.DataFrame(
            rows,
            columns=["id", "team", "measure", "group", "period", "text", "author", "created_at"],
        )
        frame["period"] = pd.to_datetime(frame["period"])
        return frame
