"""a run's plan by an index range over pages due; every article fetch has its next visit

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

- ``ix_pages_site_id_kind_next_due``: a run loads the articles of its site whose ``next_due``
  has come as one index range, not every article of the site (storage.revisit.load_plan).
- Every write of an article fetch now sets ``next_due``; article pages an earlier arsip wrote
  without it get it here, on the default ladder (1h, 6h, 1d, 3d, 7d, 30d after publication, or
  after the last change seen), so that ``next_due IS NULL`` means only "past the ladder". An
  article never fetched is due at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# the default ladder as this migration knows it (storage.revisit.DEFAULT_LADDER)
_LADDER = tuple(timedelta(hours=h) for h in (1, 6, 24, 72, 168, 720))
_BATCH = 2000


def _aware(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _next_due(row: sa.Row) -> datetime | None:
    fetched = _aware(row.last_fetched)
    if fetched is None:
        return _aware(row.first_seen)  # known, never fetched: due now
    if row.last_status is not None and row.last_status >= 500:
        return fetched
    changed = _aware(row.last_changed_at)
    anchor = changed if row.changes and changed else (_aware(row.published) or
                                                      _aware(row.first_seen) or fetched)
    anchor = min(anchor, fetched)
    return next((anchor + rung for rung in _LADDER if anchor + rung > fetched), None)


def _stored(value: datetime, dialect: str) -> datetime:
    # as storage.models.UTCDateTime keeps it: naive UTC text on SQLite, timestamptz elsewhere
    value = value.astimezone(UTC)
    return value.replace(tzinfo=None) if dialect == "sqlite" else value


def upgrade() -> None:
    op.create_index("ix_pages_site_id_kind_next_due", "pages", ["site_id", "kind", "next_due"])
    bind = op.get_bind()
    pages = sa.table("pages", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                     sa.column("next_due", sa.DateTime(timezone=True)),
                     sa.column("last_fetched"), sa.column("last_status", sa.Integer),
                     sa.column("first_seen"), sa.column("published"),
                     sa.column("changes", sa.Integer), sa.column("last_changed_at"))
    last = 0
    while True:
        rows = bind.execute(
            sa.select(pages.c.id, pages.c.last_fetched, pages.c.last_status,
                      pages.c.first_seen, pages.c.published, pages.c.changes,
                      pages.c.last_changed_at)
            .where(pages.c.kind == "article", pages.c.next_due.is_(None), pages.c.id > last)
            .order_by(pages.c.id).limit(_BATCH)).all()
        if not rows:
            break
        last = rows[-1].id
        updates = [{"page_id": row.id, "due": _stored(due, bind.dialect.name)} for row in rows
                   if (due := _next_due(row)) is not None]
        if updates:
            bind.execute(pages.update().where(pages.c.id == sa.bindparam("page_id"))
                         .values(next_due=sa.bindparam("due")), updates)


def downgrade() -> None:
    op.drop_index("ix_pages_site_id_kind_next_due", table_name="pages")
