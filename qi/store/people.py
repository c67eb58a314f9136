"""People and what they may do: accounts, sessions, role grants, and the access checks.

:class:`PeopleMixin` is the part of :class:`qi.store.Store` that

* signs people in and out (:meth:`~PeopleMixin.sign_in`, :meth:`~PeopleMixin.sign_in_identity`,
  :meth:`~PeopleMixin.with_session`, :meth:`~PeopleMixin.sign_out`);
* manages accounts and their roles (:meth:`~PeopleMixin.add_user`, :meth:`~PeopleMixin.grant`,
  :meth:`~PeopleMixin.revoke`, :meth:`~PeopleMixin.set_password`,
  :meth:`~PeopleMixin.disable_user`, :meth:`~PeopleMixin.people`);
* reads the audit log, who did what (:meth:`~PeopleMixin.audit_log`);
* holds the access checks every other part calls before reading or writing
  (``_require``, ``_require_teams``, ``_require_collaborative``, ``_readable``,
  ``_scope_problems``, :meth:`~PeopleMixin.may_see_small_numbers`).

What a role allows is decided in :mod:`qi.access`; this module applies it to the rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from typing import Self

import pandas as pd
from sqlalchemy import Connection, func, insert, select, update

from qi import access
from qi.access import AccessDenied, Grant, Principal
from qi.store import limits
from qi.store._text import _plain
from qi.store.core import StoreCore, StoreError, utcnow
from qi.store.models import ICS, AuditEntry, Collaborative, RoleGrant, Session, Team, Trust, User
from qi.store.reading import Problem


class PeopleMixin(StoreCore):
    """Accounts, sessions, grants and the access checks (a part of :class:`qi.store.Store`)."""

    # ------------------------------------------------------------------ access
    def _bound(self, token: str, expires_at: dt.datetime | None) -> Self:
        view = type(self)(self.engine, lock_timeout=self.lock_timeout)
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
        out, unlisted = [], 0  # past limits.MAX_PROBLEMS, counted, not listed
        for row, team in zip(frame["_row"], frame["team"], strict=True):
            if team in known and team not in ok_teams:
                if len(out) >= limits.MAX_PROBLEMS:
                    unlisted += 1
                    continue
                out.append(
                    Problem(
                        name,
                        int(row),
                        "team",
                        f"{who.label} may not {access.PERMISSIONS[permission]} for {team}",
                    )
                )
        return limits.listed(out, name, unlisted)

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

    def _readable_rows(self, query) -> list[tuple]:
        """The rows of ``query`` (a select joined to ``Team``) of the teams the signed-in
        person may read, as plain tuples."""
        with self.engine.connect() as conn:
            _, readable = self._readable(conn)
            if readable is not None:
                query = query.where(Team.id.in_(readable))
            return [tuple(r) for r in conn.execute(query)]

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

    @staticmethod
    def _collaborative_grant(who: Principal, permission: str) -> bool:
        return who.local or any(
            g.scope == "collaborative" and permission in access.ROLES[g.role] for g in who.grants
        )

    # ------------------------------------------------------------------ sessions
    def sign_in(self, username: str, password: str, *, hours: float = access.SESSION_HOURS):
        """A store acting for ``username`` after checking the password; its ``token``
        opens the same session later (:meth:`with_session`).

        A refusal says nothing about the account: whether the name is unknown, the
        password wrong, the account disabled or waiting after too many refusals, the
        answer is :data:`qi.access.SIGN_IN_REFUSED`, and it takes the same time (one
        Argon2 check every time, against a dummy hash when there is no real one). Each
        refusal is recorded (without the password); after 5 refusals of a user name in
        15 minutes, known or not, that name waits."""
        name = str(username).strip().lower()
        key = _refusal_key(name)
        # one transaction under the write lock: attempts are counted one after another,
        # so parallel guesses cannot all slip under the limit
        with self._write() as conn:
            row = conn.execute(
                select(User.id, User.password_hash, User.active).where(User.username == name)
            ).first()
            if row is not None:
                key = name[:200]
            recent = conn.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(
                    AuditEntry.action == "sign_in_refused",
                    AuditEntry.entity_id == key,
                    AuditEntry.at > utcnow() - dt.timedelta(minutes=15),
                )
            )
            real = row is not None and bool(row.password_hash)
            ok = access.verify_password(row.password_hash if real else access.DUMMY_HASH, password)
            refused = recent >= 5 or not (real and ok and row.active)
            if refused:
                self._audit(conn, "anonymous", "sign_in_refused", "user", key)
        if refused:
            raise AccessDenied(access.SIGN_IN_REFUSED)
        return self._open_session(row.id, name, "password", hours)

    def sign_in_identity(self, email: str, *, hours: float = access.SESSION_HOURS) -> Self:
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

    def _open_session(self, user_id: int, username: str, method: str, hours: float) -> Self:
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

    def with_session(self, token: str) -> Self:
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

    # ------------------------------------------------------------------ people
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

    # ------------------------------------------------------------------ audit log
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


def _refusal_key(name: str) -> str:
    """What a refused sign-in of an unknown user name is counted under: a short digest,
    never the name (it may be a password typed into the wrong box). Eight hex digits
    tell names apart for a lock-out and say little about what was typed."""
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"(unknown user name {digest})"


def _check_email(email: str) -> str:
    mail = str(email).strip().lower()
    if len(mail) > 200 or not re.fullmatch(r"[^@\s<>\"']+@[^@\s<>\"']+\.[a-z]{2,}", mail):
        raise ValueError(f"{mail[:60]!r} is not an e-mail address")
    return mail
