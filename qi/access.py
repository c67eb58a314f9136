"""Who may do what: roles, their scope, and the checks the store makes.

A person holds one or more *grants*: a role (:data:`ROLES`) over a scope — the whole
collaborative, one trust, or one team. The store (:class:`qi.store.Store`) checks
every read and write against the grants of whoever it acts for, so the dashboard,
the ``qi`` command and a notebook all meet the same rules.

==============  ===========================================================
role            may
==============  ===========================================================
facilitator     read, upload and roll back, edit change logs and notes,
                see unsuppressed small numbers, manage the catalogue
                (collaborative scope), manage people and their roles, read
                the audit log, save upload layouts — all within the grant's
                scope
team_member     read, upload and roll back, edit change logs and notes, see
                unsuppressed small numbers, save upload layouts — within the
                grant's scope
board_viewer    read (small numbers suppressed)
==============  ===========================================================

With no accounts in the store (and no identity provider configured) there is one
person, the *local user*, a facilitator over everything: the single-user local
mode in which the README's first command runs.

Passwords are hashed with Argon2id (``argon2-cffi``); sessions are random tokens
of which the store keeps only a SHA-256 digest.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (numpy and pandas are loaded by the checks that use them)
    import numpy as np
    import pandas as pd

#: What each role may do, as data: the one place the rules live.
ROLES: dict[str, frozenset[str]] = {
    "facilitator": frozenset(
        {
            "read",
            "upload",
            "edit_changes",
            "small_numbers",
            "manage_catalogue",
            "manage_people",
            "read_audit",
            "save_layouts",
        }
    ),
    "team_member": frozenset({"read", "upload", "edit_changes", "small_numbers", "save_layouts"}),
    "board_viewer": frozenset({"read"}),
}
#: What each permission is, in words (for messages).
PERMISSIONS = {
    "read": "read the data",
    "upload": "upload or roll back data",
    "edit_changes": "change the change log, notes, owners and actions",
    "small_numbers": "see unsuppressed small numbers",
    "manage_catalogue": "change the teams, measures and group mapping",
    "manage_people": "manage people and their roles",
    "read_audit": "read the audit log",
    "save_layouts": "save an upload layout",
}
#: Scope kinds, widest first.
SCOPES = ("collaborative", "trust", "team")
#: How long a session lasts unless asked otherwise.
SESSION_HOURS = 12.0
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,99}$")
MIN_PASSWORD = 12


class AccessDenied(PermissionError):
    """A request the signed-in person (or no one signed in) may not make.

    The message says who asked, what for, and what to do."""


@dataclass(frozen=True)
class Grant:
    role: str
    scope: str  # one of SCOPES
    name: str  # the collaborative, trust or team

    def __str__(self) -> str:
        return f"{self.role.replace('_', ' ')} for {self.scope} {self.name}"


@dataclass(frozen=True)
class Principal:
    """Who the store acts for: a user name and grants. Built by the store from its
    accounts (or :meth:`local` when there are none), never from what a caller says."""

    username: str
    grants: tuple[Grant, ...] = ()
    local: bool = False
    display_name: str = ""

    @classmethod
    def local_user(cls, username: str) -> Principal:
        return cls(username=username or "local user", local=True)

    @property
    def label(self) -> str:
        if self.local:
            return f"{self.username} (single-user local mode)"
        roles = "; ".join(map(str, self.grants)) or "no role"
        return f"{self.username} ({roles})"

    def may(self, permission: str) -> bool:
        """True if any grant gives ``permission`` somewhere."""
        return self.local or any(permission in ROLES[g.role] for g in self.grants)

    def allowed(self, permission: str, teams: pd.DataFrame) -> np.ndarray:
        """For each row of ``teams`` (columns ``team``, ``trust``, ``collaborative``),
        whether ``permission`` is granted there. Vectorised over the rows."""
        import numpy as np

        if self.local:
            return np.ones(len(teams), dtype=bool)
        ok = np.zeros(len(teams), dtype=bool)
        for g in self.grants:
            if permission in ROLES[g.role]:
                ok |= teams[g.scope].to_numpy() == g.name
        return ok

    def covers(self, permission: str, scope: str, name: str, teams: pd.DataFrame) -> bool:
        """Whether ``permission`` is granted over the whole of a scope: the same scope,
        or a wider one holding every team of it (a scope with no team yet is covered
        only by a grant on that very scope, or by the local user)."""
        if self.local:
            return True
        for g in self.grants:
            if permission not in ROLES[g.role]:
                continue
            if g.scope == scope and g.name == name:
                return True
            inside = teams.loc[teams[scope] == name, g.scope]
            if (
                SCOPES.index(g.scope) < SCOPES.index(scope)
                and len(inside)
                and (inside == g.name).all()
            ):
                return True
        return False


def refuse(principal: Principal | None, permission: str, where: str = "") -> AccessDenied:
    """The error for a refused request, naming who asked and what for."""
    if principal is None:
        return AccessDenied(
            f"sign in first: this store has accounts, and no one is signed in to "
            f"{PERMISSIONS[permission]}"
        )
    place = f" {where}" if where else ""
    return AccessDenied(
        f"{principal.label} may not {PERMISSIONS[permission]}{place}; nothing was changed"
    )


# ---------------------------------------------------------------------- passwords
@cache
def _hasher():
    """Argon2id with the library's current recommended costs (loaded when first needed,
    so that commands that check no password start at once)."""
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    """An Argon2id hash (with its own salt and costs) of ``password``."""
    check_password_strength(password)
    return _hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    if not stored:
        return False
    try:
        return _hasher().verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher().check_needs_rehash(stored)


def check_password_strength(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    if password.strip() != password:
        raise ValueError("a password may not start or end with a space")


# ---------------------------------------------------------------------- sessions
def new_token() -> str:
    """A session token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the store keeps of a token: its SHA-256, so a copy of the database
    holds no usable session."""
    return hashlib.sha256(str(token).encode("utf-8", "surrogatepass")).hexdigest()


def check_username(username: str) -> str:
    name = str(username).strip().lower()
    if not USERNAME.match(name):
        raise ValueError(
            f"user name {str(username)[:60]!r} is not allowed: use 2 to 100 lower-case letters, "
            "digits and . _ @ -, starting with a letter or digit"
        )
    return name


def check_grant(role: str, scope: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {str(role)[:60]!r}: use one of {', '.join(ROLES)}")
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {str(scope)[:60]!r}: use one of {', '.join(SCOPES)}")


@cache
def _dummy_hash() -> str:
    return _hasher().hash("not a real password, only for timing")


def __getattr__(name: str) -> str:
    # DUMMY_HASH: verified against when a user name is unknown, so a refusal takes as
    # long either way; hashed when first needed, not when the module is imported
    if name == "DUMMY_HASH":
        return _dummy_hash()
    raise AttributeError(f"module 'qi.access' has no attribute {name!r}")
