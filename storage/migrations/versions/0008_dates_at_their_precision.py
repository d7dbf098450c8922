"""article dates at their true precision: a date-only published/updated stays a date

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

A page that gives only a date (``article:published_time`` = ``2025-05-03``) used to be stored
as a made-up naive midnight: ``published_raw`` ``2025-05-03T00:00:00`` beside zoned times, and
``published`` the instant 2025-05-03 00:00 UTC, which the page never stated. Extraction only
ever produced a naive midnight for a date with no time of day, so those rows become what they
are: ``*_raw`` the date (``2025-05-03``), the instant column NULL (a date names no instant), and
``pages.published`` (the revisit ladder's start) follows its current version. No column
changes; the downgrade writes the midnights back.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_NAIVE_MIDNIGHT = "'____-__-__T00:00:00'"


def upgrade() -> None:
    for column in ("published", "updated"):
        op.execute(
            f"UPDATE article_versions SET {column}_raw = substr({column}_raw, 1, 10), "
            f"{column} = NULL WHERE {column}_raw LIKE {_NAIVE_MIDNIGHT}"
        )
    _follow_current_versions()


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for column in ("published", "updated"):
        # the instant as each backend stores it: naive UTC text on SQLite, timestamptz elsewhere
        midnight = (f"{column}_raw || ' 00:00:00.000000'" if sqlite
                    else f"CAST({column}_raw || 'T00:00:00+00:00' AS TIMESTAMP WITH TIME ZONE)")
        op.execute(
            f"UPDATE article_versions SET {column} = {midnight}, "
            f"{column}_raw = {column}_raw || 'T00:00:00' WHERE length({column}_raw) = 10"
        )
    _follow_current_versions()


def _follow_current_versions() -> None:
    op.execute(
        "UPDATE pages SET published = (SELECT v.published FROM article_versions AS v "
        "WHERE v.page_id = pages.id AND v.number = pages.versions) WHERE versions > 0"
    )
