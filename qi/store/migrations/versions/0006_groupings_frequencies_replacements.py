"""What an upload means: groupings of a measure, its frequency, and corrections that
replace exactly the rows they hold.

* ``measure.grouping`` (default ``ethnicity``) and ``measure.frequency`` (default
  ``month``);
* the ``grouping`` table, seeded from ``qi/store/data/groupings.csv``;
* group aliases bundled since 0001 (labels of the 2021 census, refusals, NULL) added
  where the store has no row for that alias (a facilitator's own rows are kept), and
  the text 'NaN' that 0001 stored on PostgreSQL for a broad group's missing code made
  NULL;
* the ``replacement`` table: which observation a later upload replaces. Until now a
  later upload replaced the whole team × measure × period, so every existing version
  is given the replacements that reproduce exactly what was shown, at every instant:
  each row is replaced by every later upload holding its team × measure × period.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qi.store.groups import seed_aliases, seed_groupings

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("measure", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("grouping", sa.String(length=100), nullable=False, server_default="ethnicity")
        )
        batch_op.add_column(
            sa.Column("frequency", sa.String(length=10), nullable=False, server_default="month")
        )
    grouping = op.create_table(
        "grouping",
        sa.Column("grouping", sa.String(length=100), nullable=False),
        sa.Column("group", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("members", sa.Text(), nullable=False),
        sa.Column("aliases", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("grouping", "group"),
    )
    op.bulk_insert(grouping, seed_groupings().to_dict("records"))

    conn = op.get_bind()
    # revision 0001 seeded the broad groups' missing codes as NaN, which PostgreSQL kept
    # as the text 'NaN': they have no code
    conn.execute(sa.text("UPDATE group_alias SET code = NULL WHERE code = 'NaN'"))
    have = {r[0] for r in conn.execute(sa.text("SELECT alias FROM group_alias"))}
    seed = seed_aliases()
    new = seed[~seed["alias"].isin(have)]
    if len(new):
        alias_table = sa.table(
            "group_alias",
            sa.column("alias", sa.String),
            sa.column("code", sa.String),
            sa.column("label", sa.String),
            sa.column("broad_group", sa.String),
        )
        op.bulk_insert(alias_table, new.to_dict("records"))

    op.create_table(
        "replacement",
        sa.Column("observation_id", sa.Integer(), nullable=False),
        sa.Column("upload_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["observation_id"], ["observation.id"]),
        sa.ForeignKeyConstraint(["upload_id"], ["upload.id"]),
        sa.PrimaryKeyConstraint("observation_id", "upload_id"),
    )
    with op.batch_alter_table("replacement", schema=None) as batch_op:
        batch_op.create_index("ix_replacement_upload", ["upload_id"], unique=False)
    # the whole-slice rule of revisions up to 0003, as replacements
    conn.execute(
        sa.text(
            """
            INSERT INTO replacement (observation_id, upload_id)
            SELECT o.id, later.upload_id
            FROM observation o
            JOIN upload uo ON uo.id = o.upload_id
            JOIN (SELECT DISTINCT team_id, measure_id, period, upload_id FROM observation) later
              ON later.team_id = o.team_id AND later.measure_id = o.measure_id
             AND later.period = o.period AND later.upload_id <> o.upload_id
            JOIN upload ul ON ul.id = later.upload_id
            WHERE ul.uploaded_at > uo.uploaded_at
               OR (ul.uploaded_at = uo.uploaded_at AND ul.id > uo.id)
            """
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("replacement", schema=None) as batch_op:
        batch_op.drop_index("ix_replacement_upload")
    op.drop_table("replacement")
    op.drop_table("grouping")
    with op.batch_alter_table("measure", schema=None) as batch_op:
        batch_op.drop_column("frequency")
        batch_op.drop_column("grouping")
