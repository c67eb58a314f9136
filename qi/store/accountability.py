"""What a board holds teams to: reviews of owned measures, and who is expected to report.

:class:`AccountabilityMixin` is the part of :class:`qi.store.Store` that records

* **reviews** (:meth:`~AccountabilityMixin.record_review`,
  :meth:`~AccountabilityMixin.reviews`): the owner of a team's measure, or someone for
  them, says the chart was reviewed — an explicit act, not inferred from an action;
* **reporting gaps** (:meth:`~AccountabilityMixin.mark_not_expected`,
  :meth:`~AccountabilityMixin.not_expected`): a team not expected to report a measure
  (or any) for a while — a ward closed for refurbishment, a team that stopped — so a
  roll-up's month can be complete without it (:func:`qi.series.coverage`).

Both need the ``edit_changes`` right for the team, and are in the audit log.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import insert, select

from qi.store.changelog import ChangeLogMixin
from qi.store.core import StoreError, UploadRejected, utcnow
from qi.store.models import Measure, Owner, ReportingGap, Review, Team
from qi.store.reading import Problem

#: Columns of :meth:`AccountabilityMixin.reviews`.
REVIEW_COLUMNS = ("team", "measure", "reviewed_on", "note", "created_at", "created_by")
#: Columns of :meth:`AccountabilityMixin.not_expected`.
GAP_COLUMNS = ("id", "team", "measure", "start", "end", "reason", "created_at", "created_by")


def _month(value, what: str) -> dt.date:
    try:
        t = pd.Timestamp(value)
    except (TypeError, ValueError):
        t = pd.NaT
    if pd.isna(t):
        raise StoreError(f"{what} must be a month, as 2025-08; got {value!r}")
    return t.date().replace(day=1)


class AccountabilityMixin(ChangeLogMixin):
    """Reviews and reporting gaps (a part of :class:`qi.store.Store`)."""

    # ------------------------------------------------------------------ reviews
    def record_review(
        self,
        team: str,
        measure: str,
        *,
        reviewed_on: dt.date | str | None = None,
        note: str = "",
        user: str = "system",
    ) -> None:
        """Record that ``team``'s ``measure`` was reviewed (today by default). The measure
        must have an owner (:meth:`load_owners`): reviews are what the owner is held to."""
        when = "" if reviewed_on is None else str(pd.Timestamp(reviewed_on).date())
        row = pd.DataFrame([{"team": team, "measure": measure, "reviewed_on": when,
                             "note": note}])  # fmt: skip
        try:
            self.load_reviews(row, user=user)
        except UploadRejected as exc:  # one review: its problems as one plain message
            raise StoreError("; ".join(p.message for p in exc.problems)) from None

    def load_reviews(self, source, *, user: str = "system", name: str | None = None) -> int:
        """Record reviews from a table (``team``, ``measure``, ``reviewed_on`` — a date, or
        empty for today — and an optional ``note``), in one transaction: every row is
        checked first and nothing is stored if one is wrong."""
        with self.engine.connect() as conn:
            who = self._require(conn, "edit_changes", user)
        frame, name = self.read_small_table(
            source, ("team", "measure", "reviewed_on"), ("note",), name
        )
        problems = self._scope_problems(who, "edit_changes", frame, name)
        problems += self._check_team_measure(frame, name)
        today = utcnow().date()
        when = pd.to_datetime(frame["reviewed_on"].replace("", str(today)), errors="coerce",
                              format="ISO8601")  # fmt: skip
        for r, w in zip(frame["_row"], when, strict=True):
            if pd.isna(w):
                problems.append(Problem(name, int(r), "reviewed_on",
                                        "reviewed_on must be a date, as 2026-11-20"))  # fmt: skip
            elif w.date() > today:
                problems.append(Problem(name, int(r), "reviewed_on",
                                        "a review cannot be dated in the future"))  # fmt: skip
        if problems:
            raise UploadRejected(problems)
        with self._write() as conn:
            # checked again under the write lock: a role revoked meanwhile stops the write
            self._require_teams(conn, "edit_changes", frame["team"].unique(), user)
            team_ids = dict(conn.execute(select(Team.name, Team.id)).all())
            owned = {
                (t, m)
                for t, m in conn.execute(
                    select(Team.name, Owner.measure_id).join(Team, Owner.team_id == Team.id)
                )
            }
            unowned = [
                Problem(
                    name,
                    int(r),
                    "measure",
                    f"{t} has no owner for {m!r}: set one first (qi owners); reviews are "
                    "what the owner is held to",
                )
                for r, t, m in zip(frame["_row"], frame["team"], frame["measure"], strict=True)
                if (t, m) not in owned
            ]
            if unowned:
                raise UploadRejected(unowned)
            conn.execute(
                insert(Review),
                [
                    {"team_id": team_ids[t], "measure_id": m, "reviewed_on": w.date(),
                     "note": note, "created_at": utcnow(), "created_by": who.username}
                    for t, m, w, note in zip(frame["team"], frame["measure"], when,
                                             frame["note"], strict=True)
                ],
            )  # fmt: skip
            self._audit(conn, who.username, "review", "review", "",
                        f"{name}: {len(frame)} reviews")  # fmt: skip
        return len(frame)

    def reviews(self) -> pd.DataFrame:
        """Every review recorded (:data:`REVIEW_COLUMNS`), oldest first."""
        query = (
            select(Team.name, Review.measure_id, Review.reviewed_on, Review.note,
                   Review.created_at, Review.created_by)
            .join(Team, Review.team_id == Team.id)
            .order_by(Review.reviewed_on, Review.id)
        )  # fmt: skip
        rows = self._readable_rows(query)
        frame = pd.DataFrame.from_records(rows, columns=list(REVIEW_COLUMNS))
        frame["reviewed_on"] = pd.to_datetime(frame["reviewed_on"])
        return frame

    # ------------------------------------------------------------------ reporting gaps
    def mark_not_expected(
        self,
        team: str,
        *,
        start,
        end=None,
        measure: str | None = None,
        reason: str,
        user: str = "system",
    ) -> int:
        """Say ``team`` is not expected to report ``measure`` (every measure when None)
        from the month ``start`` to the month ``end`` (open-ended when None)."""
        first = _month(start, "start")
        last = None if end in (None, "") else _month(end, "end")
        if last is not None and last < first:
            raise StoreError(f"end ({last:%Y-%m}) is before start ({first:%Y-%m})")
        if not str(reason).strip():
            raise StoreError("give a reason (for example: ward closed for refurbishment)")
        with self._write() as conn:
            self._require(conn, "edit_changes", user)
            team_id = conn.scalar(select(Team.id).where(Team.name == team))
            if team_id is None:
                raise StoreError(f"unknown team {team!r}")
            who = self._require_teams(conn, "edit_changes", [team], user)
            if measure and conn.scalar(select(Measure.id).where(Measure.id == measure)) is None:
                raise StoreError(f"unknown measure {measure!r}")
            new_id = conn.execute(
                insert(ReportingGap)
                .values(
                    team_id=team_id, measure_id=measure or None, start=first, end=last,
                    reason=str(reason), created_at=utcnow(), created_by=who.username,
                )
                .returning(ReportingGap.id)
            ).scalar_one()  # fmt: skip
            span = f"{first:%Y-%m} to {last:%Y-%m}" if last else f"from {first:%Y-%m}"
            self._audit(conn, who.username, "not_expected", "reporting_gap", new_id,
                        f"{team}: {measure or 'every measure'} {span}")  # fmt: skip
        return new_id

    def not_expected(self) -> pd.DataFrame:
        """Every reporting gap (:data:`GAP_COLUMNS`; ``measure`` None: every measure)."""
        query = (
            select(ReportingGap.id, Team.name, ReportingGap.measure_id, ReportingGap.start,
                   ReportingGap.end, ReportingGap.reason, ReportingGap.created_at,
                   ReportingGap.created_by)
            .join(Team, ReportingGap.team_id == Team.id)
            .order_by(ReportingGap.start, ReportingGap.id)
        )  # fmt: skip
        rows = self._readable_rows(query)
        frame = pd.DataFrame.from_records(rows, columns=list(GAP_COLUMNS))
        for col in ("start", "end"):
            frame[col] = pd.to_datetime(frame[col])
        return frame
