"""The change package: the collaborative's shared list of changes, placed on a driver diagram.

:class:`ChangePackageMixin` is the part of :class:`qi.store.Store` that keeps the list a
facilitator maintains: each change has a short ``tag`` (``deescalation``), its words
(``change``), the ``primary_driver`` and ``secondary_driver`` it sits under on the aim's
driver diagram, and an optional ``description``. Teams tag their change ideas with it
(the ``tag`` column of :meth:`~qi.store.Store.import_pdsa`, or
:meth:`ChangePackageMixin.set_change_tag`), so :mod:`qi.learning` can say which changes
were tested where, for whom, and what followed.

* :meth:`~ChangePackageMixin.load_change_package` — replace the package from a table
  (a facilitator of the whole collaborative: the package is shared by every team);
* :meth:`~ChangePackageMixin.change_package` — the package, in its order;
* :meth:`~ChangePackageMixin.set_change_tag` — tag one change idea (audited).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from sqlalchemy import func, insert, select, update

from qi.store._text import _required_text, _too_long
from qi.store.catalogue import CatalogueMixin
from qi.store.core import StoreError, UploadRejected
from qi.store.models import ChangeIdea, ChangePackage, Team
from qi.store.reading import Problem

#: The columns of a change package file (``description`` may be left out).
PACKAGE_COLUMNS = ("tag", "change", "primary_driver", "secondary_driver")
#: What :meth:`ChangePackageMixin.change_package` returns.
PACKAGE_FRAME = (*PACKAGE_COLUMNS, "description", "position")
#: A tag: short, lower case, letters, digits, "-" and "_" (it goes in files and addresses).
TAG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
#: The word :mod:`qi.learning` uses for change ideas without a tag (never a tag itself).
UNTAGGED = "untagged"


def tag_problem(tag: str) -> str | None:
    """Why ``tag`` cannot be a tag (None if it can)."""
    if tag == UNTAGGED:
        return f"'{UNTAGGED}' is kept for change ideas without a tag: choose another tag"
    if not TAG.match(tag):
        return (
            "a tag is up to 100 lower-case letters, digits, '-' or '_', starting with a "
            "letter or digit (as deescalation or safety-huddle)"
        )
    return None


class ChangePackageMixin(CatalogueMixin):
    """The shared change package (a part of :class:`qi.store.Store`)."""

    def load_change_package(
        self,
        source: str | Path | bytes | pd.DataFrame,
        *,
        user: str = "system",
        name: str | None = None,
    ) -> int:
        """Replace the change package with the table ``source`` (:data:`PACKAGE_COLUMNS`,
        optional ``description``), in its order: a path, a frame, or the bytes of an
        uploaded file called ``name``. Needs a facilitator of the collaborative.

        Every problem is named by file, row and column and nothing is changed: an empty
        or malformed tag, a tag listed twice, text too long, and a tag some change idea
        carries that the new package leaves out (re-tag those ideas first)."""
        who = self._require_collaborative("manage_catalogue", user)
        frame, name = self.read_small_table(source, PACKAGE_COLUMNS, ("description",), name)
        problems = _required_text(frame, name, PACKAGE_COLUMNS)
        problems += _too_long(
            frame, name,
            {"tag": 100, "change": 500, "primary_driver": 300, "secondary_driver": 300},
        )  # fmt: skip
        for tag, row in zip(frame["tag"], frame["_row"], strict=True):
            why = tag_problem(tag) if tag else None
            if why:
                problems.append(Problem(name, int(row), "tag", why))
        twice = frame["tag"].ne("") & frame["tag"].duplicated(keep="first")
        for tag, row in zip(frame.loc[twice, "tag"], frame.loc[twice, "_row"], strict=True):
            problems.append(Problem(name, int(row), "tag", f"tag '{tag}' is listed twice"))
        problems += self._tags_in_use_problems(frame, name)
        if problems:
            raise UploadRejected(problems)
        with self._write() as conn:
            self._require_collaborative("manage_catalogue", user, conn)
            # checked again under the write lock: a tag given to an idea meanwhile stays
            late = self._tags_in_use_problems(frame, name, conn)
            if late:
                raise UploadRejected(late)
            conn.execute(
                ChangePackage.__table__.delete().where(ChangePackage.tag.not_in(list(frame["tag"])))
            )
            known = set(conn.scalars(select(ChangePackage.tag)))
            for position, rec in enumerate(frame.itertuples(index=False)):
                values = {
                    "change": rec.change, "primary_driver": rec.primary_driver,
                    "secondary_driver": rec.secondary_driver, "description": rec.description,
                    "position": position,
                }  # fmt: skip
                if rec.tag in known:
                    conn.execute(
                        update(ChangePackage).where(ChangePackage.tag == rec.tag).values(**values)
                    )
                else:
                    conn.execute(insert(ChangePackage).values(tag=rec.tag, **values))
            self._audit(
                conn, who.username, "load_change_package", "change_package", "",
                f"{name}: {len(frame)} changes",
            )  # fmt: skip
        return len(frame)

    def _tags_in_use_problems(self, frame: pd.DataFrame, name: str, conn=None) -> list[Problem]:
        """A problem for each tag carried by change ideas that ``frame`` leaves out."""
        query = (
            select(ChangeIdea.tag, func.count())
            .where(ChangeIdea.tag.is_not(None))
            .group_by(ChangeIdea.tag)
        )
        if conn is None:
            with self.engine.connect() as c:
                used = c.execute(query).all()
        else:
            used = conn.execute(query).all()
        keep = set(frame["tag"])
        return [
            Problem(name, None, "tag",
                    f"tag '{tag}' is carried by {n} change idea(s) but is not in this file: "
                    "keep it, or re-tag those ideas first")
            for tag, n in sorted(used) if tag not in keep
        ]  # fmt: skip

    def change_package(self) -> pd.DataFrame:
        """The change package (:data:`PACKAGE_FRAME`), in the facilitator's order."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*[getattr(ChangePackage, c) for c in PACKAGE_FRAME]).order_by(
                    ChangePackage.position, ChangePackage.tag
                )
            ).all()
        return pd.DataFrame(rows, columns=list(PACKAGE_FRAME))

    def set_change_tag(self, change_idea_id: int, tag: str | None, *, user: str = "system"):
        """Tag change idea ``change_idea_id`` with a change of the package (None or ""
        removes its tag). Needs ``edit_changes`` for the idea's team; audited with the
        tag before and after."""
        tag = (tag or "").strip() or None
        with self._write() as conn:
            self._require(conn, "edit_changes", user)
            found = conn.execute(
                select(Team.name, ChangeIdea.tag)
                .join(ChangeIdea, ChangeIdea.team_id == Team.id)
                .where(ChangeIdea.id == int(change_idea_id))
            ).first()
            if found is None:
                raise StoreError(f"there is no change idea {change_idea_id}")
            who = self._require_teams(conn, "edit_changes", [found.name], user)
            if (
                tag is not None
                and conn.scalar(select(ChangePackage.tag).where(ChangePackage.tag == tag)) is None
            ):
                raise StoreError(
                    f"unknown tag {tag!r}: it is not in the change package (qi package)"
                )
            conn.execute(
                update(ChangeIdea).where(ChangeIdea.id == int(change_idea_id)).values(tag=tag)
            )
            self._audit(
                conn, who.username, "set_change_tag", "change_idea", change_idea_id,
                f"{found.tag or '(none)'} -> {tag or '(none)'}",
            )  # fmt: skip
