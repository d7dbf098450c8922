"""initial schema: sites, crawl runs, pages, captures, article versions, extraction errors

Revision ID: 0001
Revises: -
Create Date: 2025-11-25 (hand-reviewed autogenerate)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# the column type the models' UTCDateTime stores into; migrations never import the models
TS = sa.DateTime(timezone=True)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=False),
        sa.Column("profile", sa.Text(), nullable=True),
        sa.Column("schedule_seconds", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_run_at", TS, nullable=True),
        sa.Column("next_run_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("name", name=op.f("uq_sites_name")),
    )
    op.create_table(
        "crawl_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("trigger", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=80), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_crawl_runs_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_runs")),
    )
    op.create_index(op.f("ix_crawl_runs_site_id"), "crawl_runs", ["site_id"])

    op.create_table(
        "pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_fetched", TS, nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("next_due", TS, nullable=True),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("versions", sa.Integer(), server_default="0", nullable=False),
        sa.Column("checks", sa.Integer(), server_default="0", nullable=False),
        sa.Column("changes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_changed_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('article', 'hub', 'other')", name=op.f("ck_pages_kind")),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_pages_site_id_sites"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pages")),
        sa.UniqueConstraint("url", name=op.f("uq_pages_url")),
    )
    op.create_index(op.f("ix_pages_next_due"), "pages", ["next_due"])
    op.create_index(op.f("ix_pages_site_id"), "pages", ["site_id"])

    op.create_table(
        "captures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("fetched_at", TS, nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("mime", sa.String(length=200), nullable=True),
        sa.Column("payload_digest", sa.String(length=100), nullable=True),
        sa.Column("warc_file", sa.Text(), nullable=False),
        sa.Column("warc_offset", sa.BigInteger(), nullable=False),
        sa.Column("warc_length", sa.BigInteger(), nullable=False),
        sa.Column("warc_record_id", sa.String(length=100), nullable=False),
        sa.Column("record_type", sa.String(length=20), nullable=False),
        sa.Column("refers_to", sa.String(length=100), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "record_type IN ('response', 'revisit')", name=op.f("ck_captures_record_type")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["crawl_runs.id"],
            name=op.f("fk_captures_run_id_crawl_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_captures")),
        sa.UniqueConstraint("warc_record_id", name=op.f("uq_captures_warc_record_id")),
    )
    op.create_index(op.f("ix_captures_payload_digest"), "captures", ["payload_digest"])
    op.create_index(op.f("ix_captures_run_id"), "captures", ["run_id"])
    op.create_index("ix_captures_url_fetched_at", "captures", ["url", "fetched_at"])

    op.create_table(
        "article_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("fetched_at", TS, nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("published", TS, nullable=True),
        sa.Column("published_raw", sa.String(length=40), nullable=True),
        sa.Column("updated", TS, nullable=True),
        sa.Column("updated_raw", sa.String(length=40), nullable=True),
        sa.Column("language", sa.String(length=20), nullable=True),
        sa.Column("section", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("related", sa.JSON(), nullable=False),
        sa.Column("canonical_url", sa.Text(), nullable=True),
        sa.Column("site_name", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("capture_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["capture_id"],
            ["captures.id"],
            name=op.f("fk_article_versions_capture_id_captures"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["pages.id"],
            name=op.f("fk_article_versions_page_id_pages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_versions")),
        sa.UniqueConstraint(
            "page_id", "content_hash", name=op.f("uq_article_versions_page_id_content_hash")
        ),
    )
    op.create_index(op.f("ix_article_versions_capture_id"), "article_versions", ["capture_id"])
    op.create_index(op.f("ix_article_versions_published"), "article_versions", ["published"])

    op.create_table(
        "extraction_errors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("capture_id", sa.Integer(), nullable=True),
        sa.Column("fetched_at", TS, nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["capture_id"],
            ["captures.id"],
            name=op.f("fk_extraction_errors_capture_id_captures"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["pages.id"],
            name=op.f("fk_extraction_errors_page_id_pages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extraction_errors")),
    )
    op.create_index(op.f("ix_extraction_errors_capture_id"), "extraction_errors", ["capture_id"])
    op.create_index(op.f("ix_extraction_errors_page_id"), "extraction_errors", ["page_id"])


def downgrade() -> None:
    # children first: every table below references one above it
    for table in (
        "extraction_errors",
        "article_versions",
        "captures",
        "pages",
        "crawl_runs",
        "sites",
    ):
        op.drop_table(table)
