"""Access: people (local accounts or identity-provider users), their roles over a
scope, and signed-in sessions (only each token's SHA-256 is kept).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 09:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "role_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("scope_name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "role", "scope", "scope_name"),
    )
    op.create_table(
        "app_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_sha256"),
    )


def downgrade() -> None:
    # Without accounts the store is in single-user mode, where anyone has every right:
    # with accounts in it, going below this revision must be asked for in so many words.
    accounts = op.get_bind().execute(sa.text("SELECT count(*) FROM app_user")).scalar()
    if accounts and not context.config.attributes.get("drop_accounts"):
        from qi.store.core import StoreError

        raise StoreError(
            f"going below revision 0003 removes all {accounts} accounts, facilitators "
            "included, and returns the store to single-user mode, where anyone who can "
            "run it has every right; nothing was changed. To do it anyway, call "
            "qi.store.schema.downgrade(engine, revision, drop_accounts=True)"
        )
    op.drop_table("app_session")
    op.drop_table("role_grant")
    op.drop_table("app_user")
