"""a site's runs by an index on (site_id, started_at): its newest runs without reading them all

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

The daemon reads a site's newest runs after every run it starts (its one log line, the
extraction-health check against the site's usual shares) and finds a crawl's run by its start
time. With an index on ``site_id`` alone, each of those read every run the site ever had, stats
and all, and sorted them: work and memory that grew with every run (SQLite's page cache of the
daemon's connection filled with one more row, ~1.5 KB of stats, per run, up to its 2 MB cap).
The index on ``(site_id, started_at)`` gives the newest runs as one short index range; it also
serves every lookup by ``site_id`` alone, so it replaces ``ix_crawl_runs_site_id``.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_crawl_runs_site_id_started_at", "crawl_runs", ["site_id", "started_at"])
    op.drop_index("ix_crawl_runs_site_id", table_name="crawl_runs")


def downgrade() -> None:
    op.create_index("ix_crawl_runs_site_id", "crawl_runs", ["site_id"])
    op.drop_index("ix_crawl_runs_site_id_started_at", table_name="crawl_runs")
