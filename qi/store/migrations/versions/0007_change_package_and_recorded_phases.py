"""The collaborative learns: a shared change package (tags on change ideas, placed on a
driver diagram) and phases recorded from a logged change.

* ``change_package``: the changes of the collaborative's change package, each with its
  tag, primary and secondary driver (the structure of a driver diagram), description
  and position; the facilitator keeps it;
* ``change_idea.tag``: the package change a team's change idea tests (NULL: untagged,
  as every idea stored before this revision);
* ``recorded_phase``: a new phase of one series from the start of a logged change,
  with the reason (the rule that found the sustained shift after it), who recorded it
  and when, and who withdrew it and when (withdrawn, never deleted).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_package",
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.Column("change", sa.String(length=500), nullable=False),
        sa.Column("primary_driver", sa.String(length=300), nullable=False),
        sa.Column("secondary_driver", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tag"),
    )
    with op.batch_alter_table("change_idea", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tag", sa.String(length=100), nullable=True))
        batch_op.create_foreign_key(
            "fk_change_idea_tag_change_package", "change_package", ["tag"], ["tag"]
        )
    op.create_table(
        "recorded_phase",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id"), nullable=False),
        sa.Column("measure_id", sa.String(length=100), sa.ForeignKey("measure.id"), nullable=False),
        sa.Column("group", sa.String(length=200), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column(
            "change_idea_id", sa.Integer(), sa.ForeignKey("change_idea.id"), nullable=False
        ),
        sa.Column("cycle", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("recorded_phase", schema=None) as batch_op:
        batch_op.create_index(
            "ix_recorded_phase_series", ["team_id", "measure_id", "group"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("recorded_phase", schema=None) as batch_op:
        batch_op.drop_index("ix_recorded_phase_series")
    op.drop_table("recorded_phase")
    with op.batch_alter_table("change_idea", schema=None) as batch_op:
        batch_op.drop_constraint("fk_change_idea_tag_change_package", type_="foreignkey")
        batch_op.drop_column("tag")
    op.drop_table("change_package")
