"""The re-crawl policy: which pages a run fetches, and when each article is due again.

- **Hubs** (home, sections and their pagination, feeds, sitemaps) are fetched on every run,
  whole: they are where new articles and changed dates show up.
- **Articles** are revisited on a ladder of ages after publication, 1h, 6h, 1d, 3d, 7d and 30d
  by default (``ARSIP_REVISIT_LADDER``). ``pages.next_due`` holds the next rung. An article seen
  changing starts the ladder again from the moment of the change, so a story that is being
  edited is looked at often. Past the last rung it has no ``next_due``, and is fetched again
  only when a sitemap ``lastmod`` or a feed date is later than its last fetch.
- A page whose last fetch failed on the server's side (5xx) is due on the next run.
- A run fetches only what is due, what a sitemap or feed dates after the last fetch, and pages
  it has never seen; a revisit is a conditional request, so an unchanged article costs a 304.

``RevisitPolicy`` computes ``next_due``; ``RevisitPlan`` is what one run knows of a site's pages,
built by ``load_plan`` when the run starts and asked ``wants(url, dated)`` for every link. Only
``load_plan`` touches the database (imported lazily: the crawl process keys its plan with this
module and ``storage.urls`` alone).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from storage.durations import parse_duration
from storage.urls import page_url

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from storage.archive import Archive

DEFAULT_LADDER = "1h,6h,1d,3d,7d,30d"


def parse_ladder(text: str) -> tuple[timedelta, ...]:
    """``"1h,6h,1d"`` -> the rungs as increasing ages; ``ValueError`` says what is wrong."""
    try:
        rungs = [timedelta(seconds=parse_duration(part)) for part in text.split(",")
                 if part.strip()]
    except ValueError as exc:
        raise ValueError(f"revisit ladder: {exc}") from None
    if not rungs:
        raise ValueError("revisit ladder: give at least one age, e.g. 1h,6h,1d,3d,7d,30d")
    if any(b <= a for a, b in pairwise(rungs)):
        raise ValueError(f"revisit ladder: the ages must increase: {text!r}")
    return tuple(rungs)


@dataclass(frozen=True)
class RevisitPolicy:
    """When an article is due again (see the module docs)."""

    ladder: tuple[timedelta, ...] = field(default_factory=lambda: parse_ladder(DEFAULT_LADDER))

    @classmethod
    def from_text(cls, ladder: str | None) -> RevisitPolicy:
        return cls(parse_ladder(ladder or DEFAULT_LADDER))

    def anchor(self, *, published: datetime | None, first_seen: datetime,
               changes: int, last_changed_at: datetime | None) -> datetime:
        """Where the ladder starts: the last change seen, else publication, else first sight."""
        if changes and last_changed_at is not None:
            return last_changed_at
        return published or first_seen

    def next_due(self, anchor: datetime, fetched_at: datetime,
                 status: int | None = None) -> datetime | None:
        """The first rung after ``fetched_at``; None past the last. A server error is retried
        on the next run."""
        if status is not None and status >= 500:
            return fetched_at
        # a published time in the future (a wrong zone on the page) starts the ladder now
        anchor = min(anchor, fetched_at)
        for rung in self.ladder:
            if anchor + rung > fetched_at:
                return anchor + rung
        return None


@dataclass(frozen=True, slots=True)
class KnownPage:
    """What a run knows of one article it has fetched before."""

    due: bool
    last_fetched: datetime | None
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class RevisitPlan:
    """A site's pages as one run starts: hubs to fetch, and the articles it knows (picklable)."""

    hubs: tuple[str, ...] = ()
    articles: dict[str, KnownPage] = field(default_factory=dict)
    revisit_all: bool = False  # ask for every known article (conditionally), due or not

    @property
    def due(self) -> list[str]:
        """Known articles due now, oldest first as loaded."""
        return [url for url, page in self.articles.items() if page.due or self.revisit_all]

    def wants(self, url: str, dated: datetime | None = None) -> bool:
        """Whether a run should fetch a link to ``url`` it found, which a sitemap or feed may
        date (``lastmod``, ``updated``, ``pubDate``): new pages, due ones, and ones dated after
        their last fetch."""
        page = self.articles.get(page_url(url))
        if page is None or page.due or self.revisit_all:
            return True
        if dated is None:
            return False
        return page.last_fetched is None or _aware(dated) > page.last_fetched

    def validators(self, url: str) -> tuple[str | None, str | None] | None:
        page = self.articles.get(page_url(url))
        if page is None or not (page.etag or page.last_modified):
            return None
        return page.etag, page.last_modified


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def load_plan(archive: Archive, site_id: int, policy: RevisitPolicy,
              now: datetime | None = None, *, revisit_all: bool = False) -> RevisitPlan:
    """The plan of one run of a site: its hubs, and every article it has fetched before."""
    from sqlalchemy import select

    from storage.models import Page

    pages = Page.__table__
    now = now or datetime.now(UTC)
    stmt = (
        select(pages.c.url, pages.c.kind, pages.c.next_due, pages.c.last_fetched,
               pages.c.last_status, pages.c.etag, pages.c.last_modified, pages.c.published,
               pages.c.first_seen, pages.c.changes, pages.c.last_changed_at)
        .where(pages.c.site_id == site_id, pages.c.kind.in_(("article", "hub")))
        .order_by(pages.c.id)
    )
    hubs: list[str] = []
    articles: dict[str, KnownPage] = {}
    with archive.read() as conn:
        for row in conn.execution_options(yield_per=2000).execute(stmt).mappings():
            if row["kind"] == "hub":
                if row["last_status"] is None or row["last_status"] < 400:
                    hubs.append(row["url"])
                continue
            articles[row["url"]] = KnownPage(
                due=_is_due(row, policy, now), last_fetched=row["last_fetched"],
                etag=row["etag"], last_modified=row["last_modified"])
    return RevisitPlan(hubs=tuple(hubs), articles=articles, revisit_all=revisit_all)


def _is_due(row: Any, policy: RevisitPolicy, now: datetime) -> bool:
    due = row["next_due"]
    if due is None and row["last_fetched"] is not None:
        # past its ladder, or from an archive older than the policy: work it out
        due = policy.next_due(_anchor(row, policy), row["last_fetched"], row["last_status"])
    elif due is None:
        return True  # known but never fetched
    return due is not None and due <= now


def _anchor(row: Any, policy: RevisitPolicy) -> datetime:
    return policy.anchor(published=row["published"], first_seen=row["first_seen"],
                         changes=row["changes"], last_changed_at=row["last_changed_at"])


def schedule_pages(conn: Connection, page_ids: Iterable[int], policy: RevisitPolicy,
                   fetched_at: datetime, status: int | None) -> None:
    """Set ``next_due`` of article pages just fetched (inside the caller's transaction)."""
    from sqlalchemy import bindparam, select, update

    from storage.models import Page

    pages = Page.__table__
    ids = list(page_ids)
    rows = conn.execute(
        select(pages.c.id, pages.c.published, pages.c.first_seen, pages.c.changes,
               pages.c.last_changed_at).where(pages.c.id.in_(ids), pages.c.kind == "article")
    ).mappings().all()
    if not rows:
        return
    conn.execute(
        update(pages).where(pages.c.id == bindparam("page_id"))
        .values(next_due=bindparam("due", type_=pages.c.next_due.type)),
        [{"page_id": row["id"],
          "due": policy.next_due(_anchor(row, policy), fetched_at, status)} for row in rows],
    )
