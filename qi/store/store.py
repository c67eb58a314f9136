"""The store: one interface over SQLite (the default) and PostgreSQL.

>>> store = Store.open("sqlite:///qi.db")          # doctest: +SKIP
>>> store.register_teams("teams.csv")              # doctest: +SKIP
>>> store.load_measures("measures.csv")            # doctest: +SKIP
>>> result = store.import_file("march.csv", user="ward-manager")  # doctest: +SKIP
>>> result.upload_id, result.problems              # doctest: +SKIP
>>> data = store.observations(measures=["restraint"], as_of="2026-01-31")  # doctest: +SKIP

Every change is one transaction together with its audit-log entry: it lands whole or
not at all. Writes take the store's write lock first (``BEGIN IMMEDIATE`` on SQLite,
an advisory transaction lock on PostgreSQL), so two imports at once are applied one
after the other; one that cannot get the lock within ``lock_timeout`` seconds is
refused with :class:`StoreBusy` and stores nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import OperationalError

from qi import access
from qi.access import AccessDenied, Grant, Principal
from qi.charts import CHART_TYPES
from qi.disclosure import suppress_points
from qi.store import schema
from qi.store.groups import ALIAS_COLUMNS, normalise
from qi.store.models import (
    ICS,
    Action,
    Annotation,
    AuditEntry,
    ChangeIdea,
    Collaborative,
    GroupAlias,
    Measure,
    Observation,
    Owner,
    PDSACycle,
    RoleGrant,
    Session,
    Team,
    Trust,
    Upload,
    User,
)
from qi.store.reading import Problem, problems_frame, read_table
from qi.store.validation import Catalogue, validate_observations

ENV_URL = "QI_DATABASE_URL"
IMPROVEMENTS = ("increase", "decrease", "neutral")
LIVED_EXPERIENCE = ("co-designed", "consulted", "not involved")
PDSA_STAGES = ("plan", "do", "study", "act")
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
_LOCK_KEY = 7_172_013  # PostgreSQL advisory lock id for the store's writes


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


@dataclass(frozen=True)
class ImportResult:
    """What :meth:`Store.import_file` did: ``upload_id`` is None when nothing was stored."""

    file: str
    upload_id: int | None
    rows: int
    problems: list[Problem] = field(default_factory=list)
    replaced: int = 0  # team × measure × period slices this upload now shows instead of others

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
    folder.mkdir(parents=True, exist_ok=True)
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


def _make_engine(url: str, lock_timeout: float) -> Engine:
    if url.startswith("sqlite"):
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


class Store:
    """A collaborative's data: structure, measure catalogue, versioned observations, change log."""

    def __init__(self, engine: Engine, *, lock_timeout: float = 30.0):
        self.engine = engine
        self.lock_timeout = lock_timeout
        #: the session this store acts for (see :meth:`sign_in`); None: no one signed in
        self.token: str | None = None
        self.expires_at: dt.datetime | None = None
        self._owns_engine = True

    @classmethod
    def open(cls, url: str | None = None, *, lock_timeout: float = 30.0) -> Store:
        """Connect to ``url`` (default :func:`default_url`) and bring its schema up to date."""
        url = url or default_url()
        engine = _make_engine(url, lock_timeout)
        schema.upgrade(engine)
        return cls(engine, lock_timeout=lock_timeout)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    def __enter__(self) -> Store:
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

    # ------------------------------------------------------------------ access
    def _bound(self, token: str, expires_at: dt.datetime | None) -> Store:
        view = Store(self.engine, lock_timeout=self.lock_timeout)
        view.token, view.expires_at, view._owns_engine = token, expires_at, False
        return view

    def has_accounts(self) -> bool:
        """Whether anyone has an account: then every request needs a signed-in session."""
        with self.engine.connect() as conn:
            return conn.scalar(select(User.id).limit(1)) is not None

    def whoami(self, user: str = "") -> Principal | None:
        """Who this store acts for: the signed-in person, the local user (no accounts),
        or None (accounts exist, no one signed in). A bad session raises AccessDenied."""
        with self.engine.connect() as conn:
            return self._principal(conn, user)

    def _principal(self, conn: Connection, user: str = "") -> Principal | None:
        if self.token is None:
            if conn.scalar(select(User.id).limit(1)) is None:
                return Principal.local_user(user or "local user")
            return None
        row = conn.execute(
            select(
                Session.expires_at, Session.ended_at, User.id, User.username, User.display_name,
                User.active,
            )
            .join(User, Session.user_id == User.id)
            .where(Session.token_sha256 == access.token_digest(self.token))
        ).first()  # fmt: skip
        if row is None:
            raise AccessDenied("this session is not recognised: sign in again; nothing was changed")
        if row.ended_at is not None:
            raise AccessDenied(
                f"this session ended (signed out) at {row.ended_at:%Y-%m-%d %H:%M} UTC: "
                "sign in again; nothing was changed"
            )
        if row.expires_at <= utcnow():
            raise AccessDenied(
                f"this session expired at {row.expires_at:%Y-%m-%d %H:%M} UTC: sign in again; "
                "nothing was changed"
            )
        if not row.active:
            raise AccessDenied(f"the account {row.username} is disabled; nothing was changed")
        grants = conn.execute(
            select(RoleGrant.role, RoleGrant.scope, RoleGrant.scope_name)
            .where(RoleGrant.user_id == row.id)
            .order_by(RoleGrant.id)
        ).all()
        return Principal(
            username=row.username,
            grants=tuple(Grant(*g) for g in grants),
            display_name=row.display_name,
        )

    @staticmethod
    def _scopes(conn: Connection) -> pd.DataFrame:
        """Every team with its trust and collaborative (what grants are matched on)."""
        rows = conn.execute(
            select(Team.id, Team.name, Trust.name, Collaborative.name)
            .join(Trust, Team.trust_id == Trust.id)
            .join(ICS, Trust.ics_id == ICS.id)
            .join(Collaborative, ICS.collaborative_id == Collaborative.id)
        ).all()
        return pd.DataFrame(rows, columns=["team_id", "team", "trust", "collaborative"])

    def _require(self, conn: Connection, permission: str, user: str = "") -> Principal:
        """The principal, if it holds ``permission`` somewhere; else AccessDenied."""
        who = self._principal(conn, user)
        if who is None or not who.may(permission):
            raise access.refuse(who, permission)
        return who

    def _require_teams(
        self, conn: Connection, permission: str, teams: Iterable[str], user: str = ""
    ) -> Principal:
        """The principal, if it holds ``permission`` for every one of ``teams``."""
        who = self._require(conn, permission, user)
        if who.local:
            return who
        scopes = self._scopes(conn)
        scopes = scopes[scopes["team"].isin(set(teams))]
        refused = scopes.loc[~who.allowed(permission, scopes), "team"].tolist()
        if refused:
            raise access.refuse(who, permission, "for " + ", ".join(sorted(refused)))
        return who

    def _scope_problems(
        self, who: Principal, permission: str, frame: pd.DataFrame, name: str
    ) -> list[Problem]:
        """A problem for every row of ``frame`` whose team is outside ``who``'s scope."""
        if who.local or frame.empty:
            return []
        with self.engine.connect() as conn:
            scopes = self._scopes(conn)
        ok_teams = set(scopes.loc[who.allowed(permission, scopes), "team"])
        known = set(scopes["team"])
        out = []
        for row, team in zip(frame["_row"], frame["team"], strict=True):
            if team in known and team not in ok_teams:
                out.append(
                    Problem(
                        name,
                        int(row),
                        "team",
                        f"{who.label} may not {access.PERMISSIONS[permission]} for {team}",
                    )
                )
        return out

    def _readable(self, conn: Connection, user: str = "") -> tuple[Principal, list[int] | None]:
        """(principal, team ids it may read; None for every team)."""
        who = self._require(conn, "read", user)
        if who.local:
            return who, None
        scopes = self._scopes(conn)
        ok = who.allowed("read", scopes)
        if ok.all():
            return who, None
        return who, scopes.loc[ok, "team_id"].astype(int).tolist()

    def may_see_small_numbers(self, teams: Iterable[str]) -> pd.Series:
        """For each team, whether whoever this store acts for may see its unsuppressed
        small numbers (a Series of bools indexed by team)."""
        teams = list(dict.fromkeys(teams))
        with self.engine.connect() as conn:
            who = self._principal(conn)
            if who is None:
                return pd.Series(False, index=teams, dtype=bool)
            scopes = self._scopes(conn).set_index("team").reindex(teams)
        frame = scopes.reset_index().fillna("")
        return pd.Series(who.allowed("small_numbers", frame), index=teams, dtype=bool)

    def _require_collaborative(
        self, permission: str, user: str = "", conn: Connection | None = None
    ) -> Principal:
        """The principal, if a grant over a whole collaborative gives ``permission``
        (the catalogue and the group mapping are shared by every team)."""
        if conn is None:
            with self.engine.connect() as conn:
                return self._require_collaborative(permission, user, conn)
        who = self._require(conn, permission, user)
        if self._collaborative_grant(who, permission):
            return who
        raise access.refuse(who, permission, "(it needs a role over the collaborative)")

    def _upload_scope_problems(self, who: Principal, table) -> list[Problem]:
        """A problem for each row of an upload for a team outside ``who``'s scope."""
        if who.local or "team" not in table.data.columns:
            return []
        frame = pd.DataFrame(
            {"team": table.data["team"].astype(str).str.strip(), "_row": table.rows.to_numpy()}
        )
        return self._scope_problems(who, "upload", frame, table.name)

    # sessions
    def sign_in(self, username: str, password: str, *, hours: float = access.SESSION_HOURS):
        """A store acting for ``username`` after checking the password; its ``token``
        opens the same session later (:meth:`with_session`). A wrong user name or
        password is refused with one message, and recorded (without the password);
        after 5 refusals in 15 minutes the account waits."""
        name = str(username).strip().lower()
        refusal = None
        # one transaction under the write lock: attempts are counted one after another,
        # so parallel guesses cannot all slip under the limit
        with self._write() as conn:
            recent = conn.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(
                    AuditEntry.action == "sign_in_refused",
                    AuditEntry.entity_id == name[:200],
                    AuditEntry.at > utcnow() - dt.timedelta(minutes=15),
                )
            )
            row = conn.execute(
                select(User.id, User.password_hash, User.active).where(User.username == name)
            ).first()
            if recent >= 5:
                refusal = (
                    "too many refused sign-ins for this user name in the last 15 minutes: "
                    "wait, then try again"
                )
            else:
                # always one Argon2 check, so the time taken does not say whether the
                # account exists or has a password
                real = row is not None and bool(row.password_hash)
                ok = access.verify_password(
                    row.password_hash if real else access.DUMMY_HASH, password
                )
                if not (real and ok and row.active):
                    # an unknown name is not kept: it may be a password typed in the wrong box
                    who = name[:200] if row is not None else "(unknown user name)"
                    self._audit(conn, "anonymous", "sign_in_refused", "user", who)
                    refusal = "user name or password not recognised"
        if refusal:
            raise AccessDenied(refusal)
        return self._open_session(row.id, name, "password", hours)

    def sign_in_identity(self, email: str, *, hours: float = access.SESSION_HOURS) -> Store:
        """A store acting for the account with this e-mail address, for an identity
        the web server has already verified (OpenID Connect via ``st.login``).

        This trusts its caller, as a database trusts whoever holds its credentials:
        it is for the dashboard's server, never for anything a user types."""
        mail = str(email or "").strip().lower()
        with self.engine.connect() as conn:
            row = conn.execute(
                select(User.id, User.username, User.active).where(func.lower(User.email) == mail)
            ).first()
        if not mail or row is None or not row.active:
            raise AccessDenied(
                f"{mail[:200] or 'this identity'} has no account here: ask a facilitator to add you"
            )
        return self._open_session(row.id, row.username, "oidc", hours)

    def _open_session(self, user_id: int, username: str, method: str, hours: float) -> Store:
        token = access.new_token()
        now = utcnow()
        expires = now + dt.timedelta(hours=hours)
        with self._write() as conn:
            conn.execute(
                insert(Session).values(
                    token_sha256=access.token_digest(token), user_id=user_id, method=method,
                    created_at=now, expires_at=expires,
                )
            )  # fmt: skip
            self._audit(conn, username, "sign_in", "user", username, method)
        return self._bound(token, expires)

    def with_session(self, token: str) -> Store:
        """A store acting for the session ``token``; refused at once if the session is
        unknown, ended or expired."""
        view = self._bound(str(token), None)
        with self.engine.connect() as conn:
            view._principal(conn)
            view.expires_at = conn.scalar(
                select(Session.expires_at).where(
                    Session.token_sha256 == access.token_digest(view.token)
                )
            )
        return view

    def sign_out(self) -> None:
        """End this store's session: its token opens nothing any more."""
        if self.token is None:
            return
        with self._write() as conn:
            who = self._principal(conn)
            conn.execute(
                update(Session)
                .where(Session.token_sha256 == access.token_digest(self.token))
                .values(ended_at=utcnow())
            )
            self._audit(conn, who.username, "sign_out", "user", who.username)

    # people
    def people(self) -> pd.DataFrame:
        """Accounts and their grants, one row per grant (none: role empty). Facilitators."""
        with self.engine.connect() as conn:
            who = self._require(conn, "manage_people")
            scopes = self._scopes(conn)
            rows = conn.execute(
                select(User.username, User.display_name, User.email, User.active,
                       RoleGrant.role, RoleGrant.scope, RoleGrant.scope_name)
                .outerjoin(RoleGrant, RoleGrant.user_id == User.id)
                .order_by(User.username, RoleGrant.id)
            ).all()  # fmt: skip
        frame = pd.DataFrame(
            rows, columns=["username", "display_name", "email", "active", "role", "scope", "name"]
        )
        if who.local:
            return frame
        wide = self._collaborative_grant(who, "manage_people")
        keep = [  # the grants within the reader's scope (accounts with none: collaborative)
            wide if role is None else who.covers("manage_people", scope, name, scopes)
            for role, scope, name in zip(frame["role"], frame["scope"], frame["name"], strict=True)
        ]
        return frame[keep].reset_index(drop=True)

    @staticmethod
    def _collaborative_grant(who: Principal, permission: str) -> bool:
        return who.local or any(
            g.scope == "collaborative" and permission in access.ROLES[g.role] for g in who.grants
        )

    def add_user(
        self,
        username: str,
        *,
        password: str | None = None,
        display_name: str = "",
        email: str | None = None,
        role: str,
        scope: str,
        name: str,
        user: str = "system",
    ) -> None:
        """Add an account with its first role. Needs a facilitator over ``scope``; in
        local mode (no accounts yet) the first account must be a facilitator of a
        collaborative, so someone can manage the rest. ``password`` (local sign-in)
        is stored only as an Argon2id hash; without one the account signs in through
        the identity provider by ``email``."""
        login = access.check_username(username)
        access.check_grant(role, scope)
        if password is None and not email:
            raise ValueError("give a password (local sign-in) or an e-mail (identity provider)")
        hashed = None if password is None else access.hash_password(password)
        mail = None if not email else _check_email(email)
        display = _plain(display_name, "display name")
        with self._write() as conn:
            who = self._require(conn, "manage_people", user)
            scopes = self._scopes(conn)
            self._check_scope_name(conn, scope, name)
            if who.local and (role, scope) != ("facilitator", "collaborative"):
                raise AccessDenied(
                    "the first account must be a facilitator of the collaborative, so that "
                    "someone can manage the others; nothing was changed"
                )
            if not who.covers("manage_people", scope, name, scopes):
                raise access.refuse(who, "manage_people", f"for {scope} {name}")
            if conn.scalar(select(User.id).where(User.username == login)) is not None:
                raise StoreError(f"there is already an account {login}; nothing was changed")
            if mail and conn.scalar(select(User.id).where(func.lower(User.email) == mail)):
                raise StoreError(f"another account has the e-mail {mail}; nothing was changed")
            new_id = conn.execute(
                insert(User)
                .values(username=login, display_name=display, email=mail,
                        password_hash=hashed, active=True, created_at=utcnow())
                .returning(User.id)
            ).scalar_one()  # fmt: skip
            conn.execute(
                insert(RoleGrant).values(user_id=new_id, role=role, scope=scope, scope_name=name)
            )
            self._audit(conn, who.username, "add_user", "user", login, f"{role} for {scope} {name}")

    def grant(self, username: str, role: str, scope: str, name: str, *, user: str = "system"):
        """Give ``username`` a role over a scope (a facilitator over that scope may)."""
        self._change_grant(username, role, scope, name, add=True, user=user)

    def revoke(self, username: str, role: str, scope: str, name: str, *, user: str = "system"):
        """Take a role away (never the last facilitator of a collaborative)."""
        self._change_grant(username, role, scope, name, add=False, user=user)

    def _change_grant(self, username, role, scope, name, *, add: bool, user: str) -> None:
        login = access.check_username(username)
        access.check_grant(role, scope)
        with self._write() as conn:
            who = self._require(conn, "manage_people", user)
            self._check_scope_name(conn, scope, name)
            if not who.covers("manage_people", scope, name, self._scopes(conn)):
                raise access.refuse(who, "manage_people", f"for {scope} {name}")
            target = conn.scalar(select(User.id).where(User.username == login))
            if target is None:
                raise StoreError(f"there is no account {login}; nothing was changed")
            key = (RoleGrant.user_id == target, RoleGrant.role == role,
                   RoleGrant.scope == scope, RoleGrant.scope_name == name)  # fmt: skip
            held = conn.scalar(select(RoleGrant.id).where(*key))
            if add:
                if held is not None:
                    raise StoreError(f"{login} is already {role} for {scope} {name}")
                conn.execute(
                    insert(RoleGrant).values(
                        user_id=target, role=role, scope=scope, scope_name=name
                    )
                )
            else:
                if held is None:
                    raise StoreError(f"{login} is not {role} for {scope} {name}")
                conn.execute(RoleGrant.__table__.delete().where(RoleGrant.id == held))
                self._check_facilitator_left(conn)
            self._audit(conn, who.username, "grant" if add else "revoke", "user", login,
                        f"{role} for {scope} {name}")  # fmt: skip

    def set_password(
        self, username: str, password: str, *, current: str | None = None, user: str = "system"
    ) -> None:
        """Change a password: one's own (giving the current one), or, for a facilitator,
        that of someone wholly within their scope. Ends the account's sessions."""
        login = access.check_username(username)
        hashed = access.hash_password(password)
        with self._write() as conn:
            who = self._principal(conn, user)
            if who is None:
                raise access.refuse(None, "manage_people")
            row = conn.execute(
                select(User.id, User.password_hash).where(User.username == login)
            ).first()
            if row is None:
                raise StoreError(f"there is no account {login}; nothing was changed")
            if who.username == login and not who.local:
                if not access.verify_password(row.password_hash, current or ""):
                    raise AccessDenied("the current password is not right; nothing was changed")
            else:
                self._require_over_account(conn, who, row.id, login)
            conn.execute(update(User).where(User.id == row.id).values(password_hash=hashed))
            conn.execute(
                update(Session)
                .where(Session.user_id == row.id, Session.ended_at.is_(None))
                .values(ended_at=utcnow())
            )
            self._audit(conn, who.username, "set_password", "user", login)

    def disable_user(self, username: str, *, user: str = "system") -> None:
        """Stop an account signing in, and end its sessions (history keeps its name)."""
        login = access.check_username(username)
        with self._write() as conn:
            who = self._require(conn, "manage_people", user)
            target = conn.scalar(select(User.id).where(User.username == login))
            if target is None:
                raise StoreError(f"there is no account {login}; nothing was changed")
            self._require_over_account(conn, who, target, login)
            conn.execute(update(User).where(User.id == target).values(active=False))
            conn.execute(
                update(Session)
                .where(Session.user_id == target, Session.ended_at.is_(None))
                .values(ended_at=utcnow())
            )
            self._check_facilitator_left(conn)
            self._audit(conn, who.username, "disable_user", "user", login)

    def _require_over_account(self, conn, who: Principal, user_id: int, login: str) -> None:
        if not who.may("manage_people"):
            raise access.refuse(who, "manage_people", f"for {login}")
        scopes = self._scopes(conn)
        held = conn.execute(
            select(RoleGrant.scope, RoleGrant.scope_name).where(RoleGrant.user_id == user_id)
        ).all()
        if not held and not self._collaborative_grant(who, "manage_people"):
            # an account with no role yet could be given any: only the collaborative's
            raise access.refuse(who, "manage_people", f"for {login} (it has no role yet)")
        if not all(who.covers("manage_people", s, n, scopes) for s, n in held):
            raise access.refuse(who, "manage_people", f"for {login}")

    @staticmethod
    def _check_facilitator_left(conn: Connection) -> None:
        left = conn.scalar(
            select(func.count())
            .select_from(RoleGrant)
            .join(User, RoleGrant.user_id == User.id)
            .where(
                RoleGrant.role == "facilitator",
                RoleGrant.scope == "collaborative",
                User.active.is_(True),
            )
        )
        if not left:
            raise StoreError(
                "that would leave no facilitator of the collaborative to manage people; "
                "nothing was changed"
            )

    @staticmethod
    def _check_scope_name(conn: Connection, scope: str, name: str) -> None:
        model = {"collaborative": Collaborative, "trust": Trust, "team": Team}[scope]
        if conn.scalar(select(model.id).where(model.name == name)) is None:
            raise StoreError(f"there is no {scope} called {str(name)[:200]!r}; nothing was changed")

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

    # ------------------------------------------------------------------ uploads
    def validate(
        self, source: str | Path | bytes, name: str | None = None, *, today: dt.date | None = None
    ) -> tuple[pd.DataFrame, list[Problem]]:
        """Read and check an upload without storing anything: (clean rows, problems).

        Rows for teams the signed-in person may not upload for are problems too."""
        with self.engine.connect() as conn:
            who = self._require(conn, "upload")
        table, problems = read_table(source, name)
        if table is None:
            return pd.DataFrame(), problems
        clean, more = validate_observations(table, self.catalogue(today))
        return clean, problems + more + self._upload_scope_problems(who, table)

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
    ) -> ImportResult:
        """Validate an upload and, if it has no problem, store it as one new version.

        Returns an :class:`ImportResult`; with any problem (or ``dry_run``) nothing is
        stored. ``uploaded_at`` back-dates the upload (loading a historical sample);
        by default it is the moment the write lock is taken.
        """
        with self.engine.connect() as conn:
            who = self._require(conn, "upload", user)
        content = source if isinstance(source, bytes) else None
        if content is None:
            path = Path(source)
            name = name or str(source)
            table, problems = read_table(path, name)
            content = path.read_bytes() if table is not None else b""
        else:
            table, problems = read_table(content, name)
            name = name or "upload"
        if table is None:
            return ImportResult(name, None, 0, problems)
        if today is None and uploaded_at is not None:
            today = as_utc(uploaded_at).date()
        if catalogue is None:
            catalogue = self.catalogue(today)
        elif today is not None:
            catalogue = dataclasses.replace(catalogue, today=today)
        clean, more = validate_observations(table, catalogue)
        problems = problems + more + self._upload_scope_problems(who, table)
        if problems or dry_run:
            return ImportResult(name, None, len(clean), problems)
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
                return ImportResult(name, None, len(clean), [problem])
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
        return ImportResult(name, upload_id, len(clean), [], replaced)

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

    # ------------------------------------------------------------------ change log
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

    def import_pdsa(self, source: str | Path | pd.DataFrame, *, user: str = "system") -> int:
        """Load change ideas and PDSA cycles (:attr:`PDSA_COLUMNS`); a cycle stage given
        again (same idea, cycle and stage) is updated."""
        with self.engine.connect() as conn:
            who = self._require(conn, "edit_changes", user)
        frame, name = self.read_small_table(source, self.PDSA_COLUMNS)
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
        if problems:
            raise UploadRejected(problems)
        with self._write() as conn:
            # checked again under the write lock: a role revoked meanwhile stops the write
            self._require_teams(conn, "edit_changes", frame["team"].unique(), user)
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
            )
            .join(ChangeIdea, PDSACycle.change_idea_id == ChangeIdea.id)
            .join(Team, ChangeIdea.team_id == Team.id)
            .order_by(Team.name, ChangeIdea.measure_id, PDSACycle.start, PDSACycle.cycle)
        )
        if teams is not None:
            query = query.where(Team.name.in_(list(teams)))
        if measures is not None:
            query = query.where(ChangeIdea.measure_id.in_(list(measures)))
        with self.engine.connect() as conn:
            _, readable = self._readable(conn)
            if readable is not None:
                query = query.where(Team.id.in_(readable))
            rows = conn.execute(query).all()
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
            ],
        )
        for col in ("start", "end"):
            frame[col] = pd.to_datetime(frame[col])
        return frame

    # ------------------------------------------------------------------ accountability
    OWNER_COLUMNS = ("team", "measure", "owner", "sponsor", "review_every_months")
    ACTION_COLUMNS = ("team", "measure", "period", "raised_by", "decision", "action", "owner",
                      "due", "done")  # fmt: skip

    def load_owners(self, source: str | Path | pd.DataFrame, *, user: str = "system") -> int:
        """Set the owner, sponsor and review cadence of team × measure pairs."""
        with self.engine.connect() as conn:
            who = self._require(conn, "edit_changes", user)
        frame, name = self.read_small_table(source, self.OWNER_COLUMNS)
        problems = self._scope_problems(who, "edit_changes", frame, name)
        problems += self._check_team_measure(frame, name)
        problems += _required_text(frame, name, ("owner", "sponsor"))
        problems += _too_long(frame, name, {"owner": 200, "sponsor": 200})
        cadence = pd.to_numeric(frame["review_every_months"].replace("", "1"), errors="coerce")
        for r in frame.loc[cadence.isna() | (cadence < 1) | (cadence % 1 != 0), "_row"]:
            problems.append(
                Problem(name, int(r), "review_every_months", "must be a whole number of months")
            )
        if problems:
            raise UploadRejected(problems)
        with self._write() as conn:
            # checked again under the write lock: a role revoked meanwhile stops the write
            self._require_teams(conn, "edit_changes", frame["team"].unique(), user)
            team_ids = dict(conn.execute(select(Team.name, Team.id)).all())
            for i, rec in enumerate(frame.itertuples(index=False)):
                key = (Owner.team_id == team_ids[rec.team], Owner.measure_id == rec.measure)
                conn.execute(Owner.__table__.delete().where(*key))
                conn.execute(
                    insert(Owner).values(
                        team_id=team_ids[rec.team], measure_id=rec.measure, owner=rec.owner,
                        sponsor=rec.sponsor, review_every_months=int(cadence.iat[i]),
                    )
                )  # fmt: skip
            self._audit(
                conn, who.username, "load_owners", "owner", "", f"{name}: {len(frame)} rows"
            )
        return len(frame)

    def owners(self) -> pd.DataFrame:
        query = (
            select(Team.name, Owner.measure_id, Owner.owner, Owner.sponsor,
                   Owner.review_every_months)
            .join(Team, Owner.team_id == Team.id)
            .order_by(Team.name, Owner.measure_id)
        )  # fmt: skip
        with self.engine.connect() as conn:
            _, readable = self._readable(conn)
            if readable is not None:
                query = query.where(Team.id.in_(readable))
            rows = [tuple(r) for r in conn.execute(query)]
        return pd.DataFrame.from_records(rows, columns=list(self.OWNER_COLUMNS))

    def add_actions(self, source: str | Path | pd.DataFrame, *, user: str = "system") -> int:
        """Record decisions and actions (:attr:`ACTION_COLUMNS`), e.g. from a board meeting."""
        with self.engine.connect() as conn:
            who = self._require(conn, "edit_changes", user)
        frame, name = self.read_small_table(source, self.ACTION_COLUMNS)
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

    def actions(self) -> pd.DataFrame:
        """Every decision and action, with ``id``, ``created_at`` and ``created_by``."""
        query = (
            select(Action.id, Team.name, Action.measure_id, Action.period, Action.raised_by,
                   Action.decision, Action.action, Action.owner, Action.due, Action.done,
                   Action.created_at, Action.created_by)
            .join(Team, Action.team_id == Team.id)
            .order_by(Action.period, Action.id)
        )  # fmt: skip
        with self.engine.connect() as conn:
            _, readable = self._readable(conn)
            if readable is not None:
                query = query.where(Team.id.in_(readable))
            rows = [tuple(r) for r in conn.execute(query)]
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
        with self.engine.connect() as conn:
            _, readable = self._readable(conn)
            if readable is not None:
                query = query.where(Team.id.in_(readable))
            rows = conn.execute(query).all()
        frame = pd.DataFrame(
            rows,
            columns=["id", "team", "measure", "group", "period", "text", "author", "created_at"],
        )
        frame["period"] = pd.to_datetime(frame["period"])
        return frame

    def audit_log(self) -> pd.DataFrame:
        """Every change, sign-in and refused sign-in: who and when (facilitators)."""
        cols = ["id", "at", "actor", "action", "entity", "entity_id", "detail"]
        with self.engine.connect() as conn:
            who = self._require(conn, "read_audit")
            if not self._collaborative_grant(who, "read_audit"):
                # the log names every team's files and every person: the collaborative's
                raise access.refuse(who, "read_audit", "(it needs a role over the collaborative)")
            rows = conn.execute(
                select(*[getattr(AuditEntry, c) for c in cols]).order_by(AuditEntry.id)
            ).all()
        return pd.DataFrame(rows, columns=cols)

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
                )
            }

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def read_small_table(
        source: str | Path | pd.DataFrame, columns: tuple[str, ...]
    ) -> tuple[pd.DataFrame, str]:
        """A small table (teams, measures, cycles) as stripped text, with ``_row`` numbers."""
        if isinstance(source, pd.DataFrame):
            name = "table"
            data = source.rename(columns=str.lower).astype(object)
            frame = data.where(data.notna(), "").astype(str)
            frame["_row"] = np.arange(2, len(frame) + 2)
        else:
            table, problems = read_table(source)
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
        for c in columns:
            frame[c] = frame[c].str.strip()
        return frame[[*columns, "_row"]], name


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


def _check_email(email: str) -> str:
    mail = str(email).strip().lower()
    if len(mail) > 200 or not re.fullmatch(r"[^@\s<>\"']+@[^@\s<>\"']+\.[a-z]{2,}", mail):
        raise ValueError(f"{mail[:60]!r} is not an e-mail address")
    return mail


def _plain(value: str, what: str) -> str:
    """Short free text (a display name): any characters, stored as typed, at most 200."""
    text_ = str(value or "").strip()
    if len(text_) > 200:
        raise ValueError(f"the {what} is longer than 200 characters")
    return text_


def _too_long(frame: pd.DataFrame, name: str, limits: dict[str, int]) -> list[Problem]:
    """A problem for each cell longer than its column holds (checked before any write,
    so the database never refuses half-way)."""
    problems = []
    for col, limit in limits.items():
        for r in frame.loc[frame[col].str.len() > limit, "_row"]:
            problems.append(Problem(name, int(r), col, f"{col} is longer than {limit} characters"))
    return problems


def _required_text(frame: pd.DataFrame, name: str, columns: Iterable[str]) -> list[Problem]:
    problems = []
    for col in columns:
        for r in frame.loc[frame[col].eq(""), "_row"]:
            problems.append(Problem(name, int(r), col, f"{col} is empty"))
    return problems


def _get_or_create(conn: Connection, model, **values) -> int:
    where = [getattr(model, k) == v for k, v in values.items()]
    found = conn.scalar(select(model.id).where(*where))
    if found is not None:
        return found
    return conn.execute(insert(model).values(**values).returning(model.id)).scalar_one()


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
