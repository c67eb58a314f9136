"""Creating and upgrading the store's schema with Alembic, from code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

MIGRATIONS = Path(__file__).with_name("migrations")
#: PostgreSQL advisory lock id held while the schema is made or changed.
_SCHEMA_LOCK = 7_172_014


def alembic_config(connection=None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (creating every table on an empty one).

    Safe when many commands start at once on a new store: the one that changes the
    schema first holds the store's schema lock (``BEGIN IMMEDIATE`` on SQLite, an
    advisory transaction lock on PostgreSQL), and the others wait for it, then find
    the schema already made. One that waits past the store's lock timeout is told so
    (a :class:`~qi.store.core.StoreError`), never shown a traceback."""
    if revision == "head" and current_revision(engine) == head_revision():
        return
    with _schema_lock(engine) as conn:
        if revision == "head" and _revision(conn) == head_revision():
            return  # another command made it while this one waited
        command.upgrade(alembic_config(conn), revision)


def _revision(conn: Connection) -> str | None:
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
    with _schema_lock(engine) as conn:
        config = alembic_config(conn)
        config.attributes["drop_accounts"] = drop_accounts
        command.downgrade(config, revision)
