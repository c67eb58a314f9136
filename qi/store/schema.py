"""Creating and upgrading the store's schema with Alembic, from code.

Opening a store whose schema is already at the head revision (every open but the
first) is checked without loading Alembic: the revision stored in the database's
``alembic_version`` table is compared with the head named by the migration files.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

if TYPE_CHECKING:  # Alembic is loaded only when the schema is made or changed
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
#: PostgreSQL advisory lock id held while the schema is made or changed.
_SCHEMA_LOCK = 7_172_014


def alembic_config(connection=None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@cache
def _head_in_files() -> str | None:
    """The head revision as the migration files name it (``revision`` and
    ``down_revision`` of each), or None when they do not name exactly one head."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                name = getattr(node.targets[0], "id", None)
                if name in ("revision", "down_revision"):
                    value = ast.literal_eval(node.value)
                    values = value if isinstance(value, tuple | list) else (value,)
                    (revisions if name == "revision" else parents).update(values)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _stored_revision(engine: Engine) -> str | None:
    """The revision in the database's ``alembic_version`` table (None: none yet)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return found[0] if len(found) == 1 else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (creating every table on an empty one).

    Safe when many commands start at once on a new store: the one that changes the
    schema first holds the store's schema lock (``BEGIN IMMEDIATE`` on SQLite, an
    advisory transaction lock on PostgreSQL), and the others wait for it, then find
    the schema already made. One that waits past the store's lock timeout is told so
    (a :class:`~qi.store.core.StoreError`), never shown a traceback."""
    if revision == "head":
        head = _head_in_files()
        if head is not None and _stored_revision(engine) == head:
            return  # up to date: Alembic is not even loaded
        if current_revision(engine) == head_revision():
            return
    from alembic import command

    with _schema_lock(engine) as conn:
        if revision == "head" and _revision(conn) == head_revision():
            return  # another command made it while this one waited
        command.upgrade(alembic_config(conn), revision)


def _revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[Connection]:
    """One transaction holding the lock on the store's schema."""
    from qi.store.core import StoreBusy

    try:
        with engine.connect() as conn:
            conn = conn.execution_options(qi_write=True)  # BEGIN IMMEDIATE on SQLite
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
                yield conn
    except (OperationalError, IntegrityError, ProgrammingError) as exc:
        raise StoreBusy(
            "the store is being set up or changed by another command, and this one could "
            f"not wait for it ({str(getattr(exc, 'orig', exc)).splitlines()[0][:120]}); "
            "nothing was changed: try again"
        ) from exc


def downgrade(engine: Engine, revision: str, *, drop_accounts: bool = False) -> None:
    """Take the database back to ``revision``.

    Below the accounts revision (0003) every account goes, and a store without accounts
    is in single-user mode, where whoever runs it has every right: with accounts in the
    store that is refused (a :class:`~qi.store.core.StoreError`, nothing changed)
    unless ``drop_accounts=True`` says it is meant."""
    from alembic import command

    with _schema_lock(engine) as conn:
        config = alembic_config(conn)
        config.attributes["drop_accounts"] = drop_accounts
        command.downgrade(config, revision)
