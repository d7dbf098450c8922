"""replay: SURT keys on captures, full-text search over article versions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

``captures.urlkey`` is the SURT key of each capture's URL, backfilled here for the archive's
existing rows, with an index on ``(urlkey, fetched_at)``. Full-text search: on SQLite an FTS5
table over ``article_versions`` (external content) kept current by triggers and filled here; on
PostgreSQL a stored generated ``tsvector`` column (computed for every existing row as it is
added) with a GIN index. ``storage.search`` creates the same objects in a new database.

The column stays nullable: SQLite can add a NOT NULL column only by rebuilding ``captures``, and
that rebuild would drop the table under the foreign keys that point at it (its ON DELETE SET
NULL would unlink every article version from its capture).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BATCH = 5_000

_FTS = "article_search"
_SQLITE = (
    f"CREATE VIRTUAL TABLE {_FTS} USING fts5(title, text, content='article_versions', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    f"CREATE TRIGGER {_FTS}_insert AFTER INSERT ON article_versions BEGIN "
    f"INSERT INTO {_FTS}(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    f"CREATE TRIGGER {_FTS}_delete AFTER DELETE ON article_versions BEGIN "
    f"INSERT INTO {_FTS}({_FTS}, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); END",
    f"CREATE TRIGGER {_FTS}_update AFTER UPDATE OF title, text ON article_versions BEGIN "
    f"INSERT INTO {_FTS}({_FTS}, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); "
    f"INSERT INTO {_FTS}(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    # index what the archive already holds
    f"INSERT INTO {_FTS}({_FTS}) VALUES ('rebuild')",
)
_POSTGRESQL = (
    "ALTER TABLE article_versions ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, left(text, 250000)), 'D')) STORED",
    "CREATE INDEX ix_article_versions_search_vector ON article_versions "
    "USING gin (search_vector)",
)


def upgrade() -> None:
    bind = op.get_bind()
    urlkey_type = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
    op.add_column("captures", sa.Column("urlkey", urlkey_type, nullable=True))
    _backfill_urlkeys(bind)
    op.create_index("ix_captures_urlkey_fetched_at", "captures", ["urlkey", "fetched_at"])
    for statement in _SQLITE if bind.dialect.name == "sqlite" else _POSTGRESQL:
        op.execute(statement)


def _backfill_urlkeys(bind: sa.Connection) -> None:
    import surt

    captures = sa.table("captures", sa.column("id", sa.Integer), sa.column("url", sa.Text),
                        sa.column("urlkey", sa.Text))
    update = (sa.update(captures).where(captures.c.id == sa.bindparam("row_id"))
              .values(urlkey=sa.bindparam("key")))
    last = 0
    while True:
        rows = bind.execute(sa.select(captures.c.id, captures.c.url)
                            .where(captures.c.id > last).order_by(captures.c.id)
                            .limit(BATCH)).all()
        if not rows:
            return
        keys = []
        for row_id, url in rows:
            try:
                key = surt.surt(url)
            except Exception:  # as storage.index.surt_key does
                key = url.strip().lower()
            keys.append({"row_id": row_id, "key": key})
        bind.execute(update, keys)
        last = rows[-1][0]


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for suffix in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {_FTS}_{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {_FTS}")
    else:
        op.drop_index("ix_article_versions_search_vector", table_name="article_versions")
        op.drop_column("article_versions", "search_vector")
    op.drop_index("ix_captures_urlkey_fetched_at", table_name="captures")
    # SQLite's own DROP COLUMN (3.35+): a batch rebuild of captures would set every article
    # version's capture_id to NULL on the way (see the module docs)
    op.execute("ALTER TABLE captures DROP COLUMN urlkey")
