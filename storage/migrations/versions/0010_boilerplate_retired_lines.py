"""site boilerplate: a line once learned and since faded is kept, marked ``retired``

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

A learned line whose share falls below the keep threshold (a footer the site stopped using) is
no longer stripped from new texts, and its counts used to be deleted once they faded. Stored
versions had it stripped, so a page fetched again that still carried it made a new version
differing only by that line. ``retired`` keeps such lines (``storage.boilerplate``): a page whose
text differs from its current version only by learned or retired lines is no new version. An
existing archive has no retired lines: a line unlearned by earlier code is a ``learned=False``
row that cannot be told from a candidate, so it is not marked retired and can still make one
spurious version of a page until its count fades out and it is deleted. Accepted: it only
concerns footers that faded before this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("boilerplate_lines") as batch:
        batch.add_column(sa.Column("retired", sa.Boolean(), server_default=sa.false(),
                                   nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("boilerplate_lines") as batch:
        batch.drop_column("retired")
