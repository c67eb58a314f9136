"""Accountability that means something: explicit reviews of owned measures, the date
an owner was set (the first review falls due a cadence after it), and reporting gaps
(a team not expected to report a measure for a while), so a month can be complete.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("owner") as batch:
        batch.add_column(sa.Column("since", sa.Date(), nullable=True))
    # owners set before this revision: their cadence counts from the upgrade
    op.execute("UPDATE owner SET since = CURRENT_DATE")
    op.create_table(
        "review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id"), nullable=False),
        sa.Column("measure_id", sa.String(length=100), sa.ForeignKey("measure.id"), nullable=False),
        sa.Column("reviewed_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "reporting_gap",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id"), nullable=False),
        sa.Column("measure_id", sa.String(length=100), sa.ForeignKey("measure.id"), nullable=True),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("reporting_gap")
    op.drop_table("review")
    with op.batch_alter_table("owner") as batch:
        batch.drop_column("since")
