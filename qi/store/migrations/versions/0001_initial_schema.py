"""Initial schema: the collaborative's structure, measures, versioned observations,
change cycles, annotations and the audit log; the ethnic group mapping seeded.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 06:26:50.500757
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qi.store.groups import seed_aliases

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("entity", sa.String(length=50), nullable=False),
        sa.Column("entity_id", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table(
        "collaborative",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    group_alias = op.create_table(
        "group_alias",
        sa.Column("alias", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=4), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("broad_group", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("alias"),
    )
    op.create_table(
        "measure",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("numerator_definition", sa.Text(), nullable=False),
        sa.Column("denominator_definition", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(length=100), nullable=False),
        sa.Column("multiplier", sa.Float(), nullable=False),
        sa.Column("chart", sa.String(length=10), nullable=False),
        sa.Column("improvement", sa.String(length=10), nullable=False),
        sa.Column("target", sa.Float(), nullable=True),
        sa.Column("groups", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "upload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=500), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("rolled_back_at", sa.DateTime(), nullable=True),
        sa.Column("rolled_back_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("upload", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_upload_checksum"), ["checksum"], unique=False)

    op.create_table(
        "ics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collaborative_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["collaborative_id"],
            ["collaborative.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("collaborative_id", "name"),
    )
    op.create_table(
        "trust",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ics_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["ics_id"],
            ["ics.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ics_id", "name"),
    )
    op.create_table(
        "team",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trust_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["trust_id"],
            ["trust.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "annotation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.String(length=100), nullable=False),
        sa.Column("group", sa.String(length=200), nullable=True),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["measure.id"],
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["team.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "change_idea",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.String(length=100), nullable=False),
        sa.Column("group", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("lived_experience", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["measure.id"],
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["team.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "measure_id", "title"),
    )
    op.create_table(
        "observation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("upload_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.String(length=100), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("group", sa.String(length=200), nullable=False),
        sa.Column("broad_group", sa.String(length=100), nullable=False),
        sa.Column("numerator", sa.Float(), nullable=False),
        sa.Column("denominator", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["measure.id"],
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["team.id"],
        ),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["upload.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("upload_id", "team_id", "measure_id", "period", "group"),
    )
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_observation_slice", ["team_id", "measure_id", "period", "upload_id"], unique=False
        )

    op.create_table(
        "pdsa_cycle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_idea_id", sa.Integer(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=10), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=True),
        sa.Column("learning", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_idea_id"],
            ["change_idea.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("change_idea_id", "cycle", "stage"),
    )
    # The mapping as bundled when this revision was written; later edits are data.
    op.bulk_insert(group_alias, seed_aliases().to_dict("records"))


def downgrade() -> None:
    op.drop_table("pdsa_cycle")
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.drop_index("ix_observation_slice")

    op.drop_table("observation")
    op.drop_table("change_idea")
    op.drop_table("annotation")
    op.drop_table("team")
    op.drop_table("trust")
    op.drop_table("ics")
    with op.batch_alter_table("upload", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_upload_checksum"))

    op.drop_table("upload")
    op.drop_table("measure")
    op.drop_table("group_alias")
    op.drop_table("collaborative")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
