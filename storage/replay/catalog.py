"""The database questions the replay pages ask: sites and their counts, the versions of an
article, which capture brought which version."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from w3lib.url import safe_url_string

from storage.archive import page_url
from storage.db import reason
from storage.errors import DatabaseError
from storage.index import CaptureIndex, site_range
from storage.models import ArticleVersion, Capture, Page, Site, as_utc

_sites = Site.__table__
_pages = Page.__table__
_versions = ArticleVersion.__table__
_captures = Capture.__table__


@dataclass(frozen=True)
class SiteSummary:
    name: str
    base_url: str
    pages: int
    articles: int
    captures: int
    first_capture: datetime | None
    last_capture: datetime | None


@dataclass(frozen=True)
class Latest:
    """A recently stored article text, for the home page."""

    url: str
    title: str | None
    site: str | None
    fetched_at: datetime
    number: int  # its version number: 1 for an article seen for the first time


@dataclass(frozen=True)
class Version:
    """One stored version of an article."""

    number: int  # 1 = the first text seen
    id: int
    fetched_at: datetime
    title: str | None
    authors: list[str]
    published: str | None
    language: str | None
    text: str
    related: list[dict[str, str]]
    current: bool
    capture_id: int | None
    capture_at: datetime | None


class Catalog:
    """Read-only queries over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.index = CaptureIndex(engine)

    def _forms(self, url: str, captured: Sequence[str] | None = None) -> list[str]:
        if captured is None:
            captured = [row.url for row in self.index.captures_of(url)]
        return url_forms(url, captured)

    def _all(self, stmt: Any) -> Sequence[Any]:
        try:
            with self.engine.connect() as conn:
                return conn.execute(stmt).all()
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot read the archive database: {reason(exc)}") from exc

    def sites(self) -> list[SiteSummary]:
        """Every site with its page and article counts and its captures (by SURT range of its
        base URL's domain, so captures indexed by ``reindex`` count too)."""
        rows = self._all(select(_sites.c.id, _sites.c.name, _sites.c.base_url)
                         .order_by(_sites.c.name))
        out = []
        for site_id, name, base_url in rows:
            counts = self._all(
                select(func.count(), func.count().filter(_pages.c.versions > 0))
                .where(_pages.c.site_id == site_id))[0]
            start, end = site_range(base_url)
            caps = self._all(
                select(func.count(), func.min(_captures.c.fetched_at),
                       func.max(_captures.c.fetched_at))
                .where(_captures.c.urlkey >= start, _captures.c.urlkey < end))[0]
            out.append(SiteSummary(name, base_url, counts[0], counts[1], caps[0],
                                   as_utc(caps[1]), as_utc(caps[2])))
        return out

    def totals(self) -> dict[str, int]:
        captures = self._all(select(func.count()).select_from(_captures))[0][0]
        articles = self._all(select(func.count()).select_from(_pages)
                             .where(_pages.c.versions > 0))[0][0]
        versions = self._all(select(func.count()).select_from(_versions))[0][0]
        return {"captures": captures, "articles": articles, "versions": versions}

    def latest(self, limit: int) -> list[Latest]:
        """The article texts stored last, newest first (new articles and edits alike); by
        primary key, so the home page reads ``limit`` rows whatever the archive's size."""
        stmt = (
            select(_pages.c.url, _versions.c.title, _sites.c.name, _versions.c.fetched_at,
                   _versions.c.number)
            .select_from(_versions.join(_pages, _pages.c.id == _versions.c.page_id)
                         .outerjoin(_sites, _sites.c.id == _pages.c.site_id))
            .order_by(_versions.c.id.desc()).limit(limit)
        )
        return [Latest(row.url, row.title, row.name, as_utc(row.fetched_at), row.number)
                for row in self._all(stmt)]

    def versions(self, url: str) -> list[Version]:
        """Every version of the article at ``url``, oldest first."""
        stmt = (
            select(_versions, (_versions.c.number == _pages.c.versions)
                   .label("is_current"), _captures.c.fetched_at.label("capture_at"))
            .select_from(_pages.join(_versions, _versions.c.page_id == _pages.c.id)
                         .outerjoin(_captures, _captures.c.id == _versions.c.capture_id))
            .where(_pages.c.url.in_(self._forms(url)))
            .order_by(_versions.c.number)
        )
        return [
            Version(number=row.number, id=row.id, fetched_at=row.fetched_at, title=row.title,
                    authors=list(row.authors or ()), published=row.published_raw,
                    language=row.language, text=row.text, related=list(row.related or ()),
                    current=bool(row.is_current), capture_id=row.capture_id,
                    capture_at=row.capture_at)
            for row in self._all(stmt)
        ]

    def versions_by_capture(self, capture_ids: Sequence[int]) -> dict[int, int]:
        """capture id -> the version number of the article text first read from it."""
        if not capture_ids:
            return {}
        stmt = (select(_versions.c.capture_id, _versions.c.number)
                .where(_versions.c.capture_id.in_(list(capture_ids))))
        return {row.capture_id: row.number for row in self._all(stmt)}

    def is_article(self, url: str, captured: Sequence[str] | None = None) -> bool:
        """Whether the archive holds article text for ``url`` (``captured``: the URLs of its
        captures, when the caller has them already)."""
        forms = self._forms(url, captured)
        return bool(self._all(select(_pages.c.id).where(_pages.c.url.in_(forms),
                                                        _pages.c.versions > 0).limit(1)))


def url_forms(url: str, captured: Sequence[str] = ()) -> list[str]:
    """The forms a page's URL may be kept in, for a URL as a browser sent it: a browser
    percent-encodes characters that the page's own links (and so ``pages.url``) may hold as
    they are, and the other way round; ``captured`` adds the URLs the captures of the same
    SURT key were made under, which is what ``pages.url`` was made from."""
    forms = {page_url(url), page_url(unquote(url)), page_url(safe_url_string(url)),
             *(page_url(other) for other in captured)}
    return sorted(forms)


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same", "added", "removed"
    text: str


def diff_texts(old: str, new: str) -> list[DiffLine]:
    """Paragraph-level differences between two versions' texts (changed paragraphs show as
    the old one removed and the new one added)."""
    before = [p for p in old.split("\n") if p.strip()]
    after = [p for p in new.split("\n") if p.strip()]
    out: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            out.extend(DiffLine("same", p) for p in before[a1:a2])
            continue
        out.extend(DiffLine("removed", p) for p in before[a1:a2])
        out.extend(DiffLine("added", p) for p in after[b1:b2])
    return out
