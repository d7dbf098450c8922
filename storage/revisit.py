"""The re-crawl policy: which pages a run fetches, and when each article is due again.

- **Hubs** (home, sections, feeds, sitemaps) are fetched on every run, whole: they are where
  new articles and changed dates show up. The later pages of a listing (``/page/57/``) are not
  hubs of their own: a run reaches them from the first page while they hold anything new.
- **Articles** are revisited on a ladder of ages after publication, 1h, 6h, 1d, 3d, 7d and 30d
  by default (``ARSIP_REVISIT_LADDER``). ``pages.next_due`` holds the next rung. An article seen
  changing starts the ladder again from the moment of the change, so a story that is being
  edited is looked at often. Past the last rung it has no ``next_due``, and is fetched again
  only when a sitemap ``lastmod`` or a feed date is later than its last fetch.
- A page whose last fetch failed on the server's side (5xx) is due on the next run.
- A hub that answered 404 or 410 is gone: runs leave it alone, even where a menu still links
  to it, and look at it once more a week (``GONE_HUB_RECHECK``) after that answer, in case it
  came back. A hub answering 5xx, 429 or another error is fetched on every run as before: those
  are usually passing.
- A run fetches only what is due, what a sitemap or feed dates after the last fetch, and pages
  it has never seen; a revisit is a conditional request, so an unchanged article costs a 304.

``RevisitPolicy`` computes ``next_due``, and every write of an article fetch stores it;
``RevisitPlan`` is what one run knows of a site's pages, built by ``load_plan`` when the run
starts (only what is due is loaded as rows; every other article is a slot of ``KnownIndex``) and
asked ``wants(url, dated)`` for every link. Only ``load_plan`` touches the database (imported
lazily: the crawl process keys its plan with this module and ``storage.urls`` alone).
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from storage.durations import MAX_LADDER_SECONDS, parse_duration
from storage.urls import later_page, page_url

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from storage.archive import Archive

DEFAULT_LADDER = "1h,6h,1d,3d,7d,30d"


def parse_ladder(text: str) -> tuple[timedelta, ...]:
    """``"1h,6h,1d"`` -> the rungs as increasing ages; ``ValueError`` says what is wrong."""
    try:
        rungs = [timedelta(seconds=parse_duration(part, MAX_LADDER_SECONDS))
                 for part in text.split(",") if part.strip()]
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
    """A known article this run fetches: when it was fetched last, and its validators."""

    last_fetched: datetime | None
    etag: str | None = None
    last_modified: str | None = None


_MISSING = float("-inf")  # ``KnownIndex.last_fetched``: not a known article
_NEVER = float("nan")  # known, never fetched


def url_key(url: str) -> int:
    """A URL's 8-byte key, the same in every process (``hash()`` is salted per process)."""
    return _key(page_url(url))


def _key(stored_url: str) -> int:
    # a URL as ``pages`` keeps it, already in ``page_url`` form
    digest = hashlib.blake2b(stored_url.encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


_SEP = "\x1f"  # between an ETag and a Last-Modified in ``KnownIndex.validators``


@dataclass(frozen=True)
class KnownIndex:
    """Every article of a site the archive knows, in four flat arrays sorted by an 8-byte URL
    key: the time of each one's last fetch, and its validators as one text (for the conditional
    request a sitemap or feed date may call for). About 60 bytes an article and four objects in
    all, which a run needs to decide about the links it finds: a 100,000-article site is a few
    MB to load and pickle, not 100,000 objects."""

    keys: array[int] = field(default_factory=lambda: array("q"))
    fetched: array[float] = field(default_factory=lambda: array("d"))
    offsets: array[int] = field(default_factory=lambda: array("I", [0]))
    text: str = ""  # every ``etag<SEP>last_modified``, back to back

    @classmethod
    def build(cls, rows: Iterable[tuple[str, float | None, str | None, str | None]]
              ) -> KnownIndex:
        """From ``pages`` rows: stored URL, last fetch in epoch seconds, ETag, Last-Modified."""
        entries = sorted((_key(url), _NEVER if at is None else float(at),
                          f"{etag or ''}{_SEP}{modified or ''}" if etag or modified else "")
                         for url, at, etag, modified in rows)
        offsets = array("I", [0])
        for _, _, validators in entries:
            offsets.append(offsets[-1] + len(validators))
        return cls(array("q", (e[0] for e in entries)), array("d", (e[1] for e in entries)),
                   offsets, "".join(e[2] for e in entries))

    def __len__(self) -> int:
        return len(self.keys)

    def _find(self, url: str) -> int | None:
        return self._at(url_key(url))

    def _at(self, key: int) -> int | None:
        at = bisect_left(self.keys, key)
        return at if at < len(self.keys) and self.keys[at] == key else None

    def last_fetched(self, url: str) -> float:
        """Epoch seconds of the last fetch; NaN: never fetched; -inf: not a known article."""
        return self.last_fetched_by_key(url_key(url))

    def last_fetched_by_key(self, key: int) -> float:
        """``last_fetched`` of a URL already keyed (``url_key``)."""
        at = self._at(key)
        return _MISSING if at is None else self.fetched[at]

    def validators(self, url: str) -> tuple[str | None, str | None] | None:
        at = self._find(url)
        if at is None or self.offsets[at] == self.offsets[at + 1]:
            return None
        etag, _, modified = self.text[self.offsets[at]:self.offsets[at + 1]].partition(_SEP)
        return etag or None, modified or None


# A hub answering these is gone (see the module docs) ...
GONE_STATUSES = (404, 410)
# ... until this long after that answer, when one run asks again.
GONE_HUB_RECHECK = timedelta(days=7)


@dataclass(frozen=True)
class RevisitPlan:
    """A site's pages as one run starts (picklable): the hubs to fetch, the articles due (with
    their validators), and an index of every article known."""

    hubs: tuple[str, ...] = ()
    due_pages: dict[str, KnownPage] = field(default_factory=dict)
    known: KnownIndex = field(default_factory=KnownIndex)
    revisit_all: bool = False  # ask for every known article (conditionally), due or not
    gone: frozenset[str] = frozenset()  # hubs this run leaves alone, linked or not (404/410)

    @cached_property
    def _hub_set(self) -> frozenset[str]:
        return frozenset(self.hubs)

    def is_hub(self, url: str) -> bool:
        """Whether ``url`` (as requested: percent-encoded) is one of the hubs to fetch."""
        return bool(self.hubs) and page_url(url) in self._hub_set

    @property
    def due(self) -> list[str]:
        """Known articles due now (every known one with ``revisit_all``), soonest due first."""
        return list(self.due_pages)

    def wants(self, url: str, dated: datetime | None = None) -> bool:
        """Whether a run should fetch a link to ``url`` it found, which a sitemap or feed may
        date (``lastmod``, ``updated``, ``pubDate``): new pages, due ones, and ones dated after
        their last fetch."""
        if self.revisit_all or not (self.known or self.due_pages):
            return True  # a first crawl: every link is new
        stored = page_url(url)  # once: it is most of the cost of a link, and a page has many
        if stored in self.due_pages:
            return True
        last = self.known.last_fetched_by_key(_key(stored))
        if last == _MISSING:
            return True  # never seen
        if dated is None:
            return False
        return last != last or _aware(dated).timestamp() > last  # NaN: never fetched

    def validators(self, url: str) -> tuple[str | None, str | None] | None:
        """The validators of a known article, for a conditional request."""
        page = self.due_pages.get(page_url(url))
        if page is None:
            return self.known.validators(url)
        if not (page.etag or page.last_modified):
            return None
        return page.etag, page.last_modified


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def load_plan(archive: Archive, site_id: int, now: datetime | None = None, *,
              revisit_all: bool = False) -> RevisitPlan:
    """The plan of one run of a site, from three queries: its hubs (home, sections, feeds,
    sitemaps; not the later pages of a listing), the articles whose ``next_due`` has come (an
    index range: ``ix_pages_site_id_kind_next_due``), and the URL and last fetch of every
    article (for ``KnownIndex``). Every writer sets ``next_due`` when it stores a fetch
    (``Archive.revisits``), so none is worked out here."""
    from sqlalchemy import select

    from storage.models import Page

    pages = Page.__table__
    now = now or datetime.now(UTC)
    site_pages = (pages.c.site_id == site_id)
    hubs_stmt = select(pages.c.url, pages.c.last_status, pages.c.last_fetched).where(
        site_pages, pages.c.kind == "hub").order_by(pages.c.id)
    due_stmt = (select(pages.c.url, pages.c.last_fetched, pages.c.etag, pages.c.last_modified)
                .where(site_pages, pages.c.kind == "article"))
    if not revisit_all:
        due_stmt = due_stmt.where(pages.c.next_due <= now).order_by(pages.c.next_due)
    else:
        due_stmt = due_stmt.order_by(pages.c.id)
    recheck_before = now - GONE_HUB_RECHECK
    with archive.read() as conn:
        hubs, gone = [], set()
        for row in conn.execute(hubs_stmt):
            if (row.last_status in GONE_STATUSES and row.last_fetched is not None
                    and _aware(row.last_fetched) > recheck_before):
                gone.add(row.url)
            elif not later_page(row.url):
                hubs.append(row.url)
        due = {row.url: KnownPage(row.last_fetched, row.etag, row.last_modified)
               for row in conn.execution_options(yield_per=2000).execute(due_stmt)}
        known = KnownIndex()
        if not revisit_all:
            known = KnownIndex.build(
                conn.execution_options(yield_per=5000).execute(
                    select(pages.c.url, _epoch(pages.c.last_fetched, conn.dialect.name),
                           pages.c.etag, pages.c.last_modified)
                    .where(site_pages, pages.c.kind == "article")))
    return RevisitPlan(hubs=tuple(hubs), due_pages=due, known=known, revisit_all=revisit_all,
                       gone=frozenset(gone))


def _epoch(column: Any, dialect: str) -> Any:
    """``column`` as epoch seconds, worked out by the database: converting 100,000 datetimes
    in Python is most of what loading a big site's plan costs."""
    from sqlalchemy import Float, extract, func

    if dialect == "sqlite":  # naive UTC text (storage.models.UTCDateTime)
        return ((func.julianday(column) - 2440587.5) * 86400.0).cast(Float)
    return extract("epoch", column).cast(Float)


def _anchor(row: Any, policy: RevisitPolicy) -> datetime:
    return policy.anchor(published=row["published"], first_seen=row["first_seen"],
                         changes=row["changes"], last_changed_at=row["last_changed_at"])


def schedule_statements() -> tuple[Any, Any]:
    """The two statements of ``schedule_pages``, for a caller that runs it often to build once
    (building them costs more than running them on SQLite)."""
    from sqlalchemy import bindparam, select, update

    from storage.models import Page

    pages = Page.__table__
    rows = select(pages.c.id, pages.c.published, pages.c.first_seen, pages.c.changes,
                  pages.c.last_changed_at).where(
        pages.c.id.in_(bindparam("ids", expanding=True)), pages.c.kind == "article")
    set_due = (update(pages).where(pages.c.id == bindparam("page_id"))
               .values(next_due=bindparam("due", type_=pages.c.next_due.type)))
    return rows, set_due


def schedule_pages(conn: Connection, page_ids: Iterable[int], policy: RevisitPolicy,
                   fetched_at: datetime, status: int | None,
                   statements: tuple[Any, Any] | None = None) -> None:
    """Set ``next_due`` of article pages just fetched (inside the caller's transaction);
    ``statements`` from ``schedule_statements``, else built here."""
    select_rows, set_due = statements or schedule_statements()
    rows = conn.execute(select_rows, {"ids": list(page_ids)}).mappings().all()
    if not rows:
        return
    conn.execute(set_due, [
        {"page_id": row["id"], "due": policy.next_due(_anchor(row, policy), fetched_at, status)}
        for row in rows])
