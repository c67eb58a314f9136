"""Alembic environment: runs with the connection the store hands it.

``qi.store`` builds the Alembic config in code (:func:`qi.store.schema.upgrade`) and
passes an open connection as ``config.attributes["connection"]``; there is no
``alembic.ini`` to keep in step with the database URL.
"""

from __future__ import annotations

from alembic import context

from qi.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only for `alembic` run by hand
    raise RuntimeError("run migrations through qi.store.schema.upgrade(engine)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
