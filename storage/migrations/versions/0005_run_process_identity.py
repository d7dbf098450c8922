"""crawl runs: the owner process's identity (boot id and start tick), so liveness needs no clock

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

A run recorded its owner's pid and host; a later process judged the pid alive when a process
with it had started before the run did, by the wall clock. A clock stepped forward made a live
run look dead. ``crawl_runs.process`` keeps ``BOOT_ID:START_TICKS`` of the owner instead
(``storage.liveness``); runs from before keep their pid alone.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.add_column(sa.Column("process", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_column("process")
