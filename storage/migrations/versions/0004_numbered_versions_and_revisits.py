"""numbered article versions (a revert is a version too), a site's page cap, a page's published

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

- ``article_versions.number``: 1, 2, 3 ... per page. The unique (page, content hash) constraint
  becomes unique (page, number), so a page whose text goes A, B, A keeps three versions.
  Existing rows are numbered in the order they were fetched. A revert the old constraint could
  not store left the page pointing at an older version (``pages.content_hash``); it is stored
  now as the newest version, seen at ``pages.last_changed_at``, linked to the capture of that
  moment when the index has it.
- ``sites.max_pages``: the cap on fetches of each crawl of the site.
- ``pages.published``: the article's published time, where its revisit ladder starts; filled
  from each page's current version.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_VERSION_COLUMNS = (
    "page_id", "fetched_at", "title", "authors", "published", "published_raw", "updated",
    "updated_raw", "language", "section", "tags", "text", "related", "canonical_url",
    "site_name", "description", "content_hash", "capture_id",
)

# what the restored revert takes from the moment it was seen, not from the version it copies
_COPIED = {"fetched_at": ":at", "capture_id": ":capture"}


def upgrade() -> None:
    # Only article_versions is rebuilt on SQLite (no other table references it): rebuilding
    # pages or sites there would drop the old table, and its ON DELETE CASCADE with it.
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("max_pages", sa.Integer(), nullable=True))
    with op.batch_alter_table("pages") as batch:
        batch.add_column(sa.Column("published", TS, nullable=True))

    with op.batch_alter_table("article_versions") as batch:
        batch.add_column(sa.Column("number", sa.Integer(), nullable=True))
    # portable SQL (SQLite and PostgreSQL): a version's number is its rank on its page
    op.execute(
        "UPDATE article_versions SET number = (SELECT count(*) FROM article_versions AS v "
        "WHERE v.page_id = article_versions.page_id AND (v.fetched_at < article_versions.fetched_at"
        " OR (v.fetched_at = article_versions.fetched_at AND v.id <= article_versions.id)))"
    )
    with op.batch_alter_table("article_versions") as batch:
        batch.alter_column("number", existing_type=sa.Integer(), nullable=False)
        batch.drop_constraint("uq_article_versions_page_id_content_hash", type_="unique")
        batch.create_unique_constraint("uq_article_versions_page_id_number",
                                       ["page_id", "number"])
    _search_triggers()
    _restore_reverts()
    op.execute(
        "UPDATE pages SET published = (SELECT v.published FROM article_versions AS v "
        "WHERE v.page_id = pages.id AND v.number = pages.versions) WHERE versions > 0"
    )


# The full-text index's triggers as revision 0002 made them: rebuilding article_versions on
# SQLite drops the triggers on it. (The FTS5 table itself stays valid: rows keep their ids.)
_FTS = "article_search"
_FTS_TRIGGERS = (
    f"CREATE TRIGGER {_FTS}_insert AFTER INSERT ON article_versions BEGIN "
    f"INSERT INTO {_FTS}(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    f"CREATE TRIGGER {_FTS}_delete AFTER DELETE ON article_versions BEGIN "
    f"INSERT INTO {_FTS}({_FTS}, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); END",
    f"CREATE TRIGGER {_FTS}_update AFTER UPDATE OF title, text ON article_versions BEGIN "
    f"INSERT INTO {_FTS}({_FTS}, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); "
    f"INSERT INTO {_FTS}(rowid, title, text) VALUES (new.id, new.title, new.text); END",
)


def _search_triggers() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return  # PostgreSQL alters the table in place: its search column stays
    names = set(conn.execute(sa.text(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")).scalars())
    if _FTS not in names:
        return
    for statement in _FTS_TRIGGERS:
        if statement.split()[2] not in names:
            op.execute(statement)


def _restore_reverts() -> None:
    """A page whose current hash is not its newest version's went back to an earlier text,
    which the old constraint could not store: store it now as the newest version."""
    conn = op.get_bind()
    reverted = conn.execute(sa.text(
        "SELECT p.id, p.url, p.content_hash, p.versions, p.last_changed_at FROM pages AS p "
        "JOIN article_versions AS v ON v.page_id = p.id AND v.number = p.versions "
        "WHERE p.content_hash IS NOT NULL AND v.content_hash <> p.content_hash"
    )).mappings().all()
    columns = ", ".join(_VERSION_COLUMNS)
    for page in reverted:
        capture = conn.execute(sa.text(
            "SELECT id FROM captures WHERE url = :url AND fetched_at = :at "
            "AND record_type = 'response' ORDER BY id LIMIT 1"
        ), {"url": page["url"], "at": page["last_changed_at"]}).scalar()
        source = conn.execute(sa.text(
            "SELECT id FROM article_versions WHERE page_id = :page AND content_hash = :hash "
            "ORDER BY number DESC LIMIT 1"
        ), {"page": page["id"], "hash": page["content_hash"]}).scalar()
        number = page["versions"] + 1
        copied = ", ".join(_COPIED.get(column, column) for column in _VERSION_COLUMNS)
        conn.execute(sa.text(
            f"INSERT INTO article_versions ({columns}, number) "
            f"SELECT {copied}, :number FROM article_versions WHERE id = :source"
        ), {"at": page["last_changed_at"], "capture": capture, "number": number,
            "source": source})
        conn.execute(sa.text("UPDATE pages SET versions = :number WHERE id = :page"),
                     {"number": number, "page": page["id"]})


def downgrade() -> None:
    # back to one row per distinct text: the later copies of a text (reverts) are dropped
    op.execute(
        "DELETE FROM article_versions WHERE EXISTS (SELECT 1 FROM article_versions AS v "
        "WHERE v.page_id = article_versions.page_id "
        "AND v.content_hash = article_versions.content_hash AND v.number < article_versions.number)"
    )
    op.execute("UPDATE pages SET versions = (SELECT count(*) FROM article_versions AS v "
               "WHERE v.page_id = pages.id)")
    with op.batch_alter_table("article_versions") as batch:
        batch.drop_constraint("uq_article_versions_page_id_number", type_="unique")
        batch.create_unique_constraint("uq_article_versions_page_id_content_hash",
                                       ["page_id", "content_hash"])
        batch.drop_column("number")
    _search_triggers()
    # not batch mode: SQLite would copy pages to a new table and drop the old one, and with
    # foreign keys on, dropping pages deletes every version and capture link through CASCADE
    op.execute("ALTER TABLE pages DROP COLUMN published")
    op.execute("ALTER TABLE sites DROP COLUMN max_pages")
