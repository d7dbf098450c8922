"""crawl runs: owner (pid, host), heartbeat, and at most one running run per site

Revision ID: 0003
Revises: 0002
Create Date: 2025-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)
RUNNING = sa.text("outcome = 'running'")

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("host", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", TS, nullable=True))
    # Before this revision every killed crawl left its run "running". Keep only the newest such
    # run of each site (it has no owner, so the next crawl of the site marks it killed with its
    # figures); the older ones are certainly over.
    op.execute(
        "UPDATE crawl_runs SET outcome = 'killed', finished_at = started_at "
        "WHERE outcome = 'running' AND id NOT IN "
        "(SELECT max(id) FROM crawl_runs WHERE outcome = 'running' GROUP BY site_id)"
    )
    op.create_index("uq_crawl_runs_site_id_running", "crawl_runs", ["site_id"], unique=True,
                    sqlite_where=RUNNING, postgresql_where=RUNNING)


def downgrade() -> None:
    op.drop_index("uq_crawl_runs_site_id_running", table_name="crawl_runs")
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("host")
        batch.drop_column("pid")
