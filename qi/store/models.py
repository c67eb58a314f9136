"""The store's tables, as SQLAlchemy 2 declarative models.

The schema is created and changed only by the Alembic migrations in
``qi/store/migrations`` (never ``create_all``), so a collaborative's database can be
upgraded in place. The models here describe the head revision.

Design
------
* **Observations are never updated or deleted.** Each belongs to the upload that
  brought it. A correction is a new upload that replaces exactly the rows it holds:
  when it is stored, each older row of the same team × measure × period whose group
  it overlaps (the same group, or a group and its own parts) gets a
  :class:`Replacement` naming the correcting upload. A row is *shown* at an instant
  when its upload is live then (uploaded before it, not rolled back by then) and no
  upload replacing it is live then. A rollback stamps ``rolled_back_at`` on the
  upload, so what it replaced is shown again. "What did the board see on date D" is
  one query, and history is never lost.
* Times are stored as naive UTC ``DateTime`` on every backend.
* Periods are the first day of their period (``Date``): the month, the financial
  quarter or the financial year, by the measure's ``frequency``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Collaborative(Base):
    __tablename__ = "collaborative"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class ICS(Base):
    """An integrated care system, the level above trusts."""

    __tablename__ = "ics"
    __table_args__ = (UniqueConstraint("collaborative_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collaborative_id: Mapped[int] = mapped_column(ForeignKey("collaborative.id"))
    name: Mapped[str] = mapped_column(String(200))


class Trust(Base):
    __tablename__ = "trust"
    __table_args__ = (UniqueConstraint("ics_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ics_id: Mapped[int] = mapped_column(ForeignKey("ics.id"))
    name: Mapped[str] = mapped_column(String(200))


class Team(Base):
    """A team (ward or community team). Uploads name teams, so names are unique."""

    __tablename__ = "team"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trust_id: Mapped[int] = mapped_column(ForeignKey("trust.id"))
    name: Mapped[str] = mapped_column(String(200), unique=True)


class Measure(Base):
    """One entry of the measure catalogue."""

    __tablename__ = "measure"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    definition: Mapped[str] = mapped_column(Text, default="")
    numerator_definition: Mapped[str] = mapped_column(Text, default="")
    denominator_definition: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[str] = mapped_column(String(100), default="")
    multiplier: Mapped[float] = mapped_column(Float, default=1.0)
    chart: Mapped[str] = mapped_column(String(10))
    improvement: Mapped[str] = mapped_column(String(10))
    target: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: the measure's groups in display order, separated by ";"
    groups: Mapped[str] = mapped_column(Text, default="")
    #: the grouping its groups belong to (a :class:`Grouping` name): how ethnic
    #: categories map into them
    grouping: Mapped[str] = mapped_column(String(100), default="ethnicity")
    #: month, quarter (financial) or year (financial): what one period is
    frequency: Mapped[str] = mapped_column(String(10), default="month")


class GroupAlias(Base):
    """How a group value typed in an upload maps to an ethnic category and broad group.

    ``alias`` is normalised (lower case, single spaces, no punctuation). Seeded from
    ``qi/store/data/ethnic_groups.csv``; a facilitator may add or change rows.
    """

    __tablename__ = "group_alias"
    alias: Mapped[str] = mapped_column(String(200), primary_key=True)
    code: Mapped[str | None] = mapped_column(String(4), nullable=True)
    label: Mapped[str] = mapped_column(String(200))
    broad_group: Mapped[str] = mapped_column(String(100))


class Grouping(Base):
    """One group of a grouping (the groups a measure reports) and what it is made of.

    ``members`` are broad ethnic groups, or categories by label or code, separated by
    ";"; ``aliases`` are other spellings of the group. Seeded from
    ``qi/store/data/groupings.csv`` (``ethnicity``: the six broad groups; ``wres``:
    White, BME, Unknown); a facilitator may add groupings.
    """

    __tablename__ = "grouping"
    grouping: Mapped[str] = mapped_column(String(100), primary_key=True)
    group: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    members: Mapped[str] = mapped_column(Text, default="")
    aliases: Mapped[str] = mapped_column(Text, default="")


class Upload(Base):
    __tablename__ = "upload"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(500))
    checksum: Mapped[str] = mapped_column(String(64), index=True)
    row_count: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    rolled_back_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    rolled_back_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Observation(Base):
    __tablename__ = "observation"
    __table_args__ = (
        UniqueConstraint("upload_id", "team_id", "measure_id", "period", "group"),
        Index("ix_observation_slice", "team_id", "measure_id", "period", "upload_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("upload.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    measure_id: Mapped[str] = mapped_column(ForeignKey("measure.id"))
    period: Mapped[dt.date] = mapped_column(Date)
    group: Mapped[str] = mapped_column(String(200))
    broad_group: Mapped[str] = mapped_column(String(100))
    numerator: Mapped[float] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float, nullable=True)


class Replacement(Base):
    """An observation replaced by a later upload (while that upload is live).

    Written when the later upload is stored (or, for an upload back-dated before a
    stored one, the other way round), for every older version of the same team ×
    measure × period whose group overlaps one of its rows.
    """

    __tablename__ = "replacement"
    __table_args__ = (Index("ix_replacement_upload", "upload_id"),)
    observation_id: Mapped[int] = mapped_column(ForeignKey("observation.id"), primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("upload.id"), primary_key=True)


class ChangePackage(Base):
    """One change of the collaborative's shared change package: a tag that teams give
    their change ideas, placed on the driver diagram (aim → primary driver → secondary
    driver → change). The facilitator keeps the list."""

    __tablename__ = "change_package"
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)
    #: the change as the package names it
    change: Mapped[str] = mapped_column(String(500))
    primary_driver: Mapped[str] = mapped_column(String(300))
    secondary_driver: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    #: order on the driver diagram
    position: Mapped[int] = mapped_column(Integer, default=0)


class ChangeIdea(Base):
    __tablename__ = "change_idea"
    __table_args__ = (UniqueConstraint("team_id", "measure_id", "title"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    measure_id: Mapped[str] = mapped_column(ForeignKey("measure.id"))
    group: Mapped[str | None] = mapped_column(String(200), nullable=True)
    title: Mapped[str] = mapped_column(String(500))
    #: co-designed, consulted or not involved
    lived_experience: Mapped[str] = mapped_column(String(20))
    #: the change of the shared change package this idea tests (None: not tagged)
    tag: Mapped[str | None] = mapped_column(ForeignKey("change_package.tag"), nullable=True)


class PDSACycle(Base):
    __tablename__ = "pdsa_cycle"
    __table_args__ = (UniqueConstraint("change_idea_id", "cycle", "stage"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    change_idea_id: Mapped[int] = mapped_column(ForeignKey("change_idea.id"))
    cycle: Mapped[int] = mapped_column(Integer)
    #: plan, do, study or act
    stage: Mapped[str] = mapped_column(String(10))
    start: Mapped[dt.date] = mapped_column(Date)
    end: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    learning: Mapped[str] = mapped_column(Text, default="")


class RecordedPhase(Base):
    """A new phase of one series (team × measure × group) from the start of a logged
    change, recorded because a sustained shift followed it; ``reason`` says which rule
    found the shift ("after PDSA 2: a run of 8 below the centre line"). Withdrawn, never
    deleted: ``withdrawn_at`` and ``withdrawn_by`` say when and by whom."""

    __tablename__ = "recorded_phase"
    __table_args__ = (Index("ix_recorded_phase_series", "team_id", "measure_id", "group"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    measure_id: Mapped[str] = mapped_column(ForeignKey("measure.id"))
    #: the series' group ("All" for everyone)
    group: Mapped[str] = mapped_column(String(200))
    #: the first month of the new phase
    start: Mapped[dt.date] = mapped_column(Date)
    change_idea_id: Mapped[int] = mapped_column(ForeignKey("change_idea.id"))
    #: the PDSA cycle of the change the phase starts from (None: the idea's first)
    cycle: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    withdrawn_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Annotation(Base):
    """Free text on one point of a chart."""

    __tablename__ = "annotation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    measure_id: Mapped[str] = mapped_column(ForeignKey("measure.id"))
    group: Mapped[str | None] = mapped_column(String(200), nullable=True)
    period: Mapped[dt.date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    entity: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class Owner(Base):
    """Who is accountable for a team's measure, and how often it is reviewed."""

    __tablename__ = "owner"
    __table_args__ = (UniqueConstraint("team_id", "measure_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    measure_id: Mapped[str] = mapped_column(ForeignKey("measure.id"))
    #: roles, not necessarily accounts ("Ward manager", "Director of Nursing")
    owner: Mapped[str] = mapped_column(String(200))
    sponsor: Mapped[str] = mapped_column(String(200))
    review_every_months: Mapped[int] = mapped_column(Integer, default=1)
    #: when the owner was set: the first review falls due a cadence after it
    since: Mapped[dt.date | None] = mapped_column(Date, nullable=True)


class Review(Base):
    """An owned team × measure reviewed: the owner (or someone for them) looked at the
    chart and says so."""

    __tablename__ = "review"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    measure_id: Mapped[str] = mapped_column(ForeignKey("measure.id"))
    reviewed_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(200))


class ReportingGap(Base):
    """A team not expected to report (one measure, or all when ``measure_id`` is None)
    from ``start`` to ``end`` (open when None): a ward closed, a team that stopped."""

    __tablename__ = "reporting_gap"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    measure_id: Mapped[str | None] = mapped_column(ForeignKey("measure.id"), nullable=True)
    start: Mapped[dt.date] = mapped_column(Date)
    end: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(200))


class Action(Base):
    """A decision or action recorded when a board or team reviewed a chart."""

    __tablename__ = "action"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    measure_id: Mapped[str] = mapped_column(ForeignKey("measure.id"))
    period: Mapped[dt.date] = mapped_column(Date)
    #: board or team
    raised_by: Mapped[str] = mapped_column(String(10))
    decision: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(200))
    due: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    done: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(200))


class User(Base):
    """A person who signs in (a local account, or one matched to an identity provider
    by e-mail). ``password_hash`` is Argon2id; the clear password is never stored."""

    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class RoleGrant(Base):
    """A role over a scope: the collaborative, a trust or a team, by name."""

    __tablename__ = "role_grant"
    __table_args__ = (UniqueConstraint("user_id", "role", "scope", "scope_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    role: Mapped[str] = mapped_column(String(20))
    scope: Mapped[str] = mapped_column(String(20))
    scope_name: Mapped[str] = mapped_column(String(200))


class Session(Base):
    """A signed-in session. Only the SHA-256 of its token is kept."""

    __tablename__ = "app_session"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    #: password, identity provider (oidc)
    method: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class UploadLayout(Base):
    """A saved way of reading one shape of upload file (:mod:`qi.store.layouts`):
    ``spec`` is the layout as JSON. Replaced whole when saved again; every change is
    in the audit log with the layout it saved."""

    __tablename__ = "upload_layout"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    spec: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(200))
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
