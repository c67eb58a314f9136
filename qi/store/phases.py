"""Recorded phases: a new phase of a series from a logged change, with its reason.

:class:`PhasesMixin` is the part of :class:`qi.store.Store` that keeps the phases teams
accepted (:meth:`~PhasesMixin.record_phase`, :meth:`~PhasesMixin.recorded_phases`,
:meth:`~PhasesMixin.withdraw_phase`). A phase starts at the first month of a PDSA cycle
of a change idea logged for that very series (team × measure × group; an idea without
a group is the ``All`` series'), and the store refuses any other start. Whether a
sustained shift really follows the change is :func:`qi.phasing.accept`'s check (it
recomputes the offers from the stored data, under the store's write lock, when it
calls :meth:`record_phase`).

Writing needs the ``edit_changes`` right for the team; every write is in the audit log;
a withdrawn phase is kept, marked with who withdrew it and when.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

import pandas as pd
from sqlalchemy import func, insert, select, update

from qi.store.accountability import _month
from qi.store.core import StoreError, utcnow
from qi.store.models import ChangeIdea, PDSACycle, RecordedPhase, Team

#: Columns of :meth:`PhasesMixin.recorded_phases`.
PHASE_COLUMNS = (
    "id", "team", "measure", "group", "start", "change_idea", "change_idea_id", "cycle",
    "reason", "created_at", "created_by", "withdrawn_at", "withdrawn_by",
)  # fmt: skip
ALL = "All"


class PhasesMixin:
    """Phases recorded from logged changes (a part of :class:`qi.store.Store`)."""

    def record_phase(
        self,
        *,
        team: str,
        measure: str,
        group: str = ALL,
        start,
        change_idea: int | str,
        cycle: int | None = None,
        supported: Callable[[], str],
        user: str = "system",
    ) -> int:
        """Record a new phase of ``team`` × ``measure`` × ``group`` from the month
        ``start``, after ``change_idea`` (its id, or its title on that team's measure)
        and its PDSA ``cycle`` (None: its first).

        ``supported`` says which sustained shift follows the change: it is called
        under the store's write lock (so no upload or rollback can come between the
        check and the record) and returns the reason to store, or raises
        :class:`StoreError` to refuse. The store holds no statistics:
        :func:`qi.phasing.accept` passes one that computes the offers again from the
        stored data; use that.

        Refused (:class:`StoreError`) when the change idea is not logged for this
        series, when ``start`` is not the first month of that cycle, when a phase is
        already recorded (and not withdrawn) from that month, when ``supported``
        refuses or gives no reason. Returns the new phase's id."""
        month = _month(start, "a phase's start")
        group = str(group or ALL)
        where = f"{team} · {measure} · {group}"
        with self._write() as conn:
            self._require(conn, "edit_changes", user)
            team_id = conn.scalar(select(Team.id).where(Team.name == team))
            if team_id is None:
                raise StoreError(f"unknown team {team!r}")
            who = self._require_teams(conn, "edit_changes", [team], user)
            ideas = select(ChangeIdea.id, ChangeIdea.title, ChangeIdea.group).where(
                ChangeIdea.team_id == team_id, ChangeIdea.measure_id == measure
            )
            if isinstance(change_idea, str):
                ideas = ideas.where(ChangeIdea.title == change_idea)
            else:
                ideas = ideas.where(ChangeIdea.id == int(change_idea))
            idea = conn.execute(ideas).first()
            if idea is None or (idea.group or ALL) != group:
                raise StoreError(
                    f"no phase for {where}: the change idea {change_idea!r} is not logged "
                    "for this series (a phase starts at a logged change)"
                )
            stages = select(PDSACycle.cycle, func.min(PDSACycle.start)).where(
                PDSACycle.change_idea_id == idea.id
            ).group_by(PDSACycle.cycle)  # fmt: skip
            cycles = dict(conn.execute(stages).all())
            if not cycles:
                raise StoreError(f"no phase for {where}: {idea.title!r} has no PDSA cycle")
            number = min(cycles) if cycle is None else int(cycle)
            if number not in cycles:
                raise StoreError(f"no phase for {where}: {idea.title!r} has no PDSA cycle {number}")
            began = pd.Timestamp(cycles[number]) if cycles[number] is not None else pd.NaT
            if pd.isna(began) or began.date().replace(day=1) != month:
                when = "has no start" if pd.isna(began) else f"started in {began:%Y-%m}"
                raise StoreError(
                    f"no phase for {where} from {month:%Y-%m}: PDSA {number} of "
                    f"{idea.title!r} {when}"
                )
            taken = conn.scalar(
                select(RecordedPhase.id).where(
                    RecordedPhase.team_id == team_id, RecordedPhase.measure_id == measure,
                    RecordedPhase.group == group, RecordedPhase.start == month,
                    RecordedPhase.withdrawn_at.is_(None),
                )
            )  # fmt: skip
            if taken is not None:
                raise StoreError(
                    f"a phase of {where} from {month:%Y-%m} is already recorded (phase {taken})"
                )
            reason = str(supported() or "").strip()
            if not reason:
                raise StoreError(f"a phase of {where} needs its reason")
            new_id = conn.execute(
                insert(RecordedPhase).values(
                    team_id=team_id, measure_id=measure, group=group, start=month,
                    change_idea_id=idea.id, cycle=number, reason=reason,
                    created_at=utcnow(), created_by=who.username,
                ).returning(RecordedPhase.id)
            ).scalar_one()  # fmt: skip
            self._audit(
                conn, who.username, "record_phase", "recorded_phase", new_id,
                f"{where} from {month:%Y-%m}: {reason}",
            )  # fmt: skip
        return int(new_id)

    def withdraw_phase(self, phase_id: int, *, user: str = "system") -> None:
        """Withdraw a recorded phase: kept, marked with who withdrew it and when."""
        with self._write() as conn:
            self._require(conn, "edit_changes", user)
            row = conn.execute(
                select(Team.name, RecordedPhase.withdrawn_at)
                .join(RecordedPhase, RecordedPhase.team_id == Team.id)
                .where(RecordedPhase.id == int(phase_id))
            ).first()
            if row is None:
                raise StoreError(f"there is no recorded phase {phase_id}")
            if row.withdrawn_at is not None:
                raise StoreError(f"phase {phase_id} was already withdrawn")
            who = self._require_teams(conn, "edit_changes", [row.name], user)
            conn.execute(
                update(RecordedPhase)
                .where(RecordedPhase.id == int(phase_id))
                .values(withdrawn_at=utcnow(), withdrawn_by=who.username)
            )
            self._audit(conn, who.username, "withdraw_phase", "recorded_phase", phase_id)

    def recorded_phases(
        self,
        *,
        teams: Iterable[str] | None = None,
        as_of: dt.datetime | None = None,
        withdrawn: bool = False,
    ) -> pd.DataFrame:
        """The recorded phases (:data:`PHASE_COLUMNS`) of the teams the reader may read
        (only ``teams`` when given), oldest first; as they were at ``as_of`` (a naive UTC
        instant: recorded by then, a withdrawal after it not yet made). Withdrawn ones
        are left out unless ``withdrawn``."""
        query = (
            select(
                RecordedPhase.id, Team.name, RecordedPhase.measure_id, RecordedPhase.group,
                RecordedPhase.start, ChangeIdea.title, RecordedPhase.change_idea_id,
                RecordedPhase.cycle, RecordedPhase.reason, RecordedPhase.created_at,
                RecordedPhase.created_by, RecordedPhase.withdrawn_at, RecordedPhase.withdrawn_by,
            )
            .join(Team, RecordedPhase.team_id == Team.id)
            .join(ChangeIdea, RecordedPhase.change_idea_id == ChangeIdea.id)
            .order_by(Team.name, RecordedPhase.measure_id, RecordedPhase.start, RecordedPhase.id)
        )  # fmt: skip
        if teams is not None:
            query = query.where(Team.name.in_(list(teams)))
        frame = pd.DataFrame(self._readable_rows(query), columns=list(PHASE_COLUMNS))
        frame["start"] = pd.to_datetime(frame["start"])
        for col in ("created_at", "withdrawn_at"):
            frame[col] = pd.to_datetime(frame[col])
        if as_of is not None:
            at = pd.Timestamp(as_of)
            at = at.tz_convert("UTC").tz_localize(None) if at.tzinfo else at
            frame = frame[frame["created_at"] <= at].copy()
            later = frame["withdrawn_at"] > at
            frame.loc[later, ["withdrawn_at", "withdrawn_by"]] = [pd.NaT, None]
        if not withdrawn:
            frame = frame[frame["withdrawn_at"].isna()]
        return frame.reset_index(drop=True)
