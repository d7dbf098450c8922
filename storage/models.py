"""Tables of the archive database (SQLAlchemy 2.x typed declarative).

The schema is created and changed only by the Alembic migrations in ``storage/migrations``;
these classes describe it for queries and for ``alembic revision --autogenerate``.

Times are stored as UTC instants (``UTCDateTime``) and come back tz-aware in UTC. An article's
published / updated time also keeps the ISO 8601 text it was given (``published_raw``), because a
UTC instant loses the newsroom's offset ("14:05+07:00") and a date alone stays a date (the raw
text "2025-05-03", the instant NULL).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    func,
    literal,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PAGE_KINDS = ("article", "hub", "other")
URLKEY_TYPE = Text().with_variant(Text(collation="C"), "postgresql")
RECORD_TYPES = ("response", "revisit")


class UTCDateTime(TypeDecorator[datetime]):
    """A tz-aware datetime stored as UTC; naive values are taken to be UTC already.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so it gets naive UTC text,
    which also sorts and compares correctly as text.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQL on SQLite hands back the text
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def as_utc(value: Any) -> datetime | None:
    """A timestamp as raw SQL hands it back (text on SQLite) as a tz-aware UTC datetime."""
    return UTCDateTime().process_result_value(value, None)  # type: ignore[arg-type]


def db_now(dialect: str) -> Any:
    """Now, as SQL, on the clock every host of the archive shares: the database server's on
    PostgreSQL (heartbeats from several machines are compared on it); on SQLite, a local file,
    this machine's."""
    if dialect == "postgresql":
        return func.now(type_=UTCDateTime())
    return literal(datetime.now(UTC), UTCDateTime())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    base_url: Mapped[str] = mapped_column(Text)
    # how to crawl it: the name of a profile bundled with arsip, or the TOML text of the profile
    # itself (never a path: the daemon must not depend on a file that moves); None for the
    # general rules
    profile: Mapped[str | None] = mapped_column(Text)
    # the daemon crawls the site this often; None: only when asked (``arsip crawl``)
    schedule_seconds: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime]
    last_run_at: Mapped[datetime | None]
    # when the daemon runs it next (written by the daemon; a restart catches up from it)
    next_run_at: Mapped[datetime | None]
    # the cap on fetches of each of its crawls; None: no cap
    max_pages: Mapped[int | None] = mapped_column(Integer)


# The partial index that makes "one crawl per site at a time" a fact of the database.
RUNNING = text("outcome = 'running'")


class CrawlRun(Base):
    __tablename__ = "crawl_runs"
    __table_args__ = (
        # at most one running run per site: a second start fails on this index, whatever the
        # timing (see Archive.start_run)
        Index("uq_crawl_runs_site_id_running", "site_id", unique=True,
              sqlite_where=RUNNING, postgresql_where=RUNNING),
        # a site's newest runs as one short range (the daemon reads them after every run),
        # and every lookup by site_id alone: migration 0009
        Index("ix_crawl_runs_site_id_started_at", "site_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # trigger: cli / daemon / scrapy; outcome: running / finished / interrupted / killed /
    # failed / unreachable / disk_full, or the crawler's own close reason -- free text so a new
    # reason never fails a run's last write
    trigger: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(80), default="running")
    stats: Mapped[dict[str, Any] | None]
    # the crawl process that owns the run, and the last sign of life its recorder gave: how a
    # later process tells a live run from a dead one (storage.liveness)
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None]
    # BOOT_ID:START_TICKS/PID_NAMESPACE of that process: tells it from a later one with the
    # same pid, and from one in another container
    process: Mapped[str | None] = mapped_column(String(80))


class Page(Base):
    __tablename__ = "pages"
    __table_args__ = (
        CheckConstraint("kind IN ('article', 'hub', 'other')", name="kind"),
        # a run's plan: the site's articles whose next visit has come, as an index range
        Index("ix_pages_site_id_kind_next_due", "site_id", "kind", "next_due"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20), default="other")
    first_seen: Mapped[datetime]
    last_fetched: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)
    # when a re-crawl fetches this article next (storage.revisit); None: only when a sitemap or
    # feed dates it after ``last_fetched``. Hubs are fetched on every run and keep None.
    next_due: Mapped[datetime | None] = mapped_column(index=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    # hash of the current article text (the version the page shows now)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    versions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # recrawl policy inputs: how often we looked, how often the text had changed
    checks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    changes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_changed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # the article's own published time (of its current version): where the revisit ladder starts
    published: Mapped[datetime | None]


class Capture(Base):
    """The archive index: one row per WARC response or revisit record."""

    __tablename__ = "captures"
    __table_args__ = (
        Index("ix_captures_url_fetched_at", "url", "fetched_at"),
        # closest-capture lookups and CDX range scans (storage.index)
        Index("ix_captures_urlkey_fetched_at", "urlkey", "fetched_at"),
        CheckConstraint("record_type IN ('response', 'revisit')", name="record_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[datetime]  # WARC-Date
    status: Mapped[int] = mapped_column(Integer)
    mime: Mapped[str | None] = mapped_column(String(200))
    payload_digest: Mapped[str | None] = mapped_column(String(100), index=True)
    warc_file: Mapped[str] = mapped_column(Text)
    warc_offset: Mapped[int] = mapped_column(BigInteger)
    warc_length: Mapped[int] = mapped_column(BigInteger)
    warc_record_id: Mapped[str] = mapped_column(String(100), unique=True)
    record_type: Mapped[str] = mapped_column(String(20), default="response")
    refers_to: Mapped[str | None] = mapped_column(String(100))
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("crawl_runs.id", ondelete="SET NULL"), index=True
    )
    # The URL's SURT key (storage.index.surt_key), set on every insert; last because migration
    # 0002 added it. Byte order ("C" collation on PostgreSQL) makes a prefix of keys one range
    # of the index. Nullable only because SQLite cannot add a NOT NULL column without
    # rebuilding the table (see migration 0002).
    urlkey: Mapped[str | None] = mapped_column(URLKEY_TYPE)


class ArticleVersion(Base):
    """One text of an article. A text is stored whenever it differs from the page's current one,
    so a page that goes A, B, A has three versions, numbered 1, 2, 3."""

    __tablename__ = "article_versions"
    __table_args__ = (UniqueConstraint("page_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))
    fetched_at: Mapped[datetime]
    title: Mapped[str | None] = mapped_column(Text)
    authors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    published: Mapped[datetime | None] = mapped_column(index=True)
    published_raw: Mapped[str | None] = mapped_column(String(40))
    updated: Mapped[datetime | None]
    updated_raw: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(20))
    section: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    text: Mapped[str] = mapped_column(Text)
    related: Mapped[list[Any]] = mapped_column(JSON, default=list)
    canonical_url: Mapped[str | None] = mapped_column(Text)
    site_name: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    capture_id: Mapped[int | None] = mapped_column(
        ForeignKey("captures.id", ondelete="SET NULL"), index=True
    )
    # 1, 2, 3 ... per page, in the order the texts were seen; pages.versions is the newest
    number: Mapped[int] = mapped_column(Integer)


class ExtractionError(Base):
    """A page that was fetched but yielded no article: kept with its capture, not dropped."""

    __tablename__ = "extraction_errors"

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(
        ForeignKey("pages.id", ondelete="CASCADE"), index=True
    )
    capture_id: Mapped[int | None] = mapped_column(
        ForeignKey("captures.id", ondelete="SET NULL"), index=True
    )
    fetched_at: Mapped[datetime]
    error: Mapped[str] = mapped_column(Text)


class BoilerplateSite(Base):
    """How many of a site's articles its boilerplate was learned from (``storage.boilerplate``)."""

    __tablename__ = "boilerplate_sites"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    # pages observed, each once (its first stored text): the clock the line weights decay on
    pages: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime | None]


class BoilerplateLine(Base):
    """A line that recurs across a site's articles, with its decayed count (see
    ``storage.boilerplate``); ``learned`` ones are stripped from the site's article texts."""

    __tablename__ = "boilerplate_lines"
    __table_args__ = (UniqueConstraint("site_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    # sha1 of the normalised line (whitespace collapsed, case folded, digits as 0)
    key: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)  # the line as first seen
    weight: Mapped[float] = mapped_column(Float)  # pages it was on, decayed to page ``at``
    at: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer)  # pages it was on, all told
    learned: Mapped[bool] = mapped_column(default=False, server_default=false())
    # learned once and faded since: no longer stripped from new texts, but kept so that a page
    # fetched again that still carries it is no new version
    retired: Mapped[bool] = mapped_column(default=False, server_default=false())
