"""site boilerplate: the lines each site repeats across its articles, learned from the crawl

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

- ``boilerplate_sites``: per site, how many articles its boilerplate was learned from.
- ``boilerplate_lines``: per site, the lines that recur across its articles with their decayed
  counts; the ``learned`` ones are stripped from its article texts (``storage.boilerplate``).
An existing archive starts with nothing learned: its next crawl learns from new articles, and
``arsip replay reextract`` learns from every archived one and strips the stored texts.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "boilerplate_sites",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE",
                                name=op.f("fk_boilerplate_sites_site_id_sites")),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_boilerplate_sites")),
    )
    op.create_table(
        "boilerplate_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("at", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("learned", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE",
                                name=op.f("fk_boilerplate_lines_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boilerplate_lines")),
        sa.UniqueConstraint("site_id", "key", name=op.f("uq_boilerplate_lines_site_id_key")),
    )


def downgrade() -> None:
    op.drop_table("boilerplate_lines")
    op.drop_table("boilerplate_sites")
