"""How the spider finds articles: sitemaps, feeds, and the URL rules that tell articles from hubs.

Pure functions over bytes and URLs, so they are tested without a crawl.
"""

from __future__ import annotations

import functools
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html import unescape as html_unescape
from urllib.parse import urljoin, urlsplit

from lxml import etree

from crawler.errors import ArsipError
from crawler.sites import SiteProfile

# A sitemap may hold 50,000 URLs in 50 MB uncompressed; refuse decompression bombs past that.
MAX_SITEMAP_BYTES = 64 * 1024 * 1024


class MalformedDocumentError(ArsipError):
    """A sitemap or feed could not be parsed at all."""


@dataclass(frozen=True)
class Link:
    """A URL found in a sitemap or feed, with the dates the document gives it (if any)."""

    url: str
    date: datetime | None = None  # publication (news sitemap, pubDate), else the last change
    modified: datetime | None = None  # the last change (lastmod, Atom updated)

    @property
    def changed(self) -> datetime | None:
        """The latest date the document gives: when the page last changed, as far as it says."""
        dates = [d for d in (self.date, self.modified) if d is not None]
        return max(dates) if dates else None


@dataclass(frozen=True)
class Sitemap:
    """A parsed sitemap: an index of sitemaps, or a set of page URLs."""

    is_index: bool
    links: tuple[Link, ...]
    damaged: bool = False  # the XML was broken (often truncated): only complete entries kept


def maybe_gunzip(body: bytes) -> bytes:
    """Undo gzip when the body still is gzip (``.xml.gz`` served without Content-Encoding)."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(body, MAX_SITEMAP_BYTES)
    except zlib.error as exc:
        raise MalformedDocumentError(f"broken gzip data: {exc}") from None
    if decompressor.unconsumed_tail:
        raise MalformedDocumentError(f"gzip data expands past {MAX_SITEMAP_BYTES} bytes")
    return data


def _parse_xml(body: bytes) -> tuple[etree._Element, bool]:
    """The root element, and whether the parser had to recover from broken XML."""
    body = maybe_gunzip(body).lstrip()
    if not body:
        raise MalformedDocumentError("empty document")
    # recover=True keeps every complete entry of a truncated file; no entities, no network
    parser = etree.XMLParser(
        recover=True, resolve_entities=False, no_network=True, remove_comments=True, huge_tree=False
    )
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise MalformedDocumentError(f"not XML: {exc}") from None
    if root is None:
        raise MalformedDocumentError("not XML")
    return root, bool(parser.error_log)


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _child_text(elem: etree._Element, *names: str) -> str | None:
    for child in elem.iter():
        if _local(child.tag) in names and child.text and child.text.strip():
            return child.text.strip()
    return None


def parse_date(value: str | None) -> datetime | None:
    """W3C datetimes (sitemaps, Atom) and RFC 822 dates (RSS); naive ones are taken as UTC."""
    if not value:
        return None
    value = value.strip()
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_sitemap(body: bytes) -> Sitemap:
    """Parse a sitemap or sitemap index (gzip too); news sitemaps give ``publication_date``."""
    root, damaged = _parse_xml(body)
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise MalformedDocumentError(f"not a sitemap (root element <{kind or '?'}>)")
    entry_tag = "sitemap" if kind == "sitemapindex" else "url"
    links = []
    for entry in root:
        if _local(entry.tag) != entry_tag:
            continue
        loc = _child_text(entry, "loc")
        if not loc:
            continue
        # a news sitemap's publication date is the article's own date; lastmod may be an edit
        lastmod = parse_date(_child_text(entry, "lastmod"))
        date = parse_date(_child_text(entry, "publication_date")) or lastmod
        links.append(Link(loc, date, lastmod))
    if damaged and links and _torn(root, entry_tag):
        links.pop()  # a truncated file ends inside its last entry: its URL is cut short
    return Sitemap(is_index=kind == "sitemapindex", links=tuple(links), damaged=damaged)


def _torn(root: etree._Element, entry_tag: str) -> bool:
    """Whether the last entry of a recovered document lacks its closing tags (cut mid-entry)."""
    entries = [e for e in root if _local(e.tag) == entry_tag]
    return bool(entries) and entries[-1].tail is None and entries[-1] is root[-1]


def parse_feed(body: bytes) -> tuple[Link, ...]:
    """Entries of an RSS 2.0, RSS 1.0 (RDF) or Atom feed, with their dates."""
    root, _damaged = _parse_xml(body)
    kind = _local(root.tag)
    if kind not in ("rss", "rdf", "feed"):
        raise MalformedDocumentError(f"not a feed (root element <{kind or '?'}>)")
    links = []
    for entry in root.iter():
        name = _local(entry.tag)
        if name == "item":
            url = _child_text(entry, "link") or _guid_link(entry)
            date = parse_date(_child_text(entry, "pubdate", "date", "published", "updated"))
        elif name == "entry":
            url = _atom_link(entry)
            date = parse_date(_child_text(entry, "published", "updated"))
        else:
            continue
        if url:
            links.append(Link(url, date, parse_date(_child_text(entry, "updated"))))
    return tuple(links)


def _guid_link(item: etree._Element) -> str | None:
    for child in item:
        if _local(child.tag) == "guid" and child.get("isPermaLink", "true") != "false":
            return (child.text or "").strip() or None
    return None


def _atom_link(entry: etree._Element) -> str | None:
    for child in entry:
        if _local(child.tag) == "link" and child.get("rel", "alternate") == "alternate":
            return child.get("href")
    return None


# --- URL rules ----------------------------------------------------------------------------------

_SKIP = re.compile(
    r"/(wp-admin|wp-login|wp-json|xmlrpc|cdn-cgi|tag|tags|author|penulis|search|cari|amp|"
    r"feed|comments?|login|register|cart|checkout|print)(/|$)|[?&](s|q|replytocom|share|amp)=",
    re.IGNORECASE,
)
_FILE = re.compile(
    r"\.(jpe?g|png|gif|webp|svg|ico|pdf|zip|gz|mp[34]|m4a|avi|mov|docx?|xlsx?|pptx?|css|js|woff2?|ttf|json)$",
    re.IGNORECASE,
)
_DATED = re.compile(r"/(19|20)\d{2}/[01]?\d/([0-3]?\d/)?[^/]+|/(19|20)\d{6}\d*[/-]")
_ID_SLUG = re.compile(r"/(read|berita|news|artikel|d-\d+)/|/\d{5,}[/-][a-z0-9-]+")
_PAGINATION = re.compile(r"/page/\d+/?$|[?&](page|paged)=\d+$", re.IGNORECASE)
_SHORTLINK = re.compile(r"p=\d+")  # WordPress: /?p=123 is a post by id
_HUB = re.compile(
    r"/(category|categories|kategori|section|rubrik|kanal|channel|indeks|index|topik)(/|$)",
    re.IGNORECASE,
)


def same_site(url: str, profile: SiteProfile) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == d or host.endswith("." + d) for d in profile.domains)


def should_skip(url: str) -> bool:
    """Links never worth fetching: admin, search, tags, authors, AMP copies, media files."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return True
    return bool(_SKIP.search(parts.path + ("?" + parts.query if parts.query else "")) or
                _FILE.search(parts.path))


def looks_like_article(url: str, profile: SiteProfile) -> bool:
    """The site profile's article rules, else dated paths, id paths and long slugs."""
    parts = urlsplit(url)
    path = parts.path
    if profile.denies(url):
        return False
    if path in ("", "/") and _SHORTLINK.fullmatch(parts.query):
        return True
    if profile.article_allow:
        return any(re.search(p, path) for p in profile.article_allow)
    if _PAGINATION.search(url) or _HUB.search(path):
        return False
    if _DATED.search(path) or _ID_SLUG.search(path):
        return True
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return last.count("-") >= 3


def looks_like_hub(url: str) -> bool:
    """Listing pages worth reading for links: home, sections, categories and their pagination."""
    parts = urlsplit(url)
    path = parts.path
    if path in ("", "/") and not parts.query:
        return True
    if _PAGINATION.search(url) or _HUB.search(path):
        return True
    # top-level sections such as /nasional/ or /internasional/
    segments = [s for s in path.split("/") if s]
    return len(segments) == 1 and not parts.query and segments[0].count("-") < 2


_HREF = re.compile(r"""<a\s[^>]*?href\s*=\s*["']?([^"'\s>#]+)""", re.IGNORECASE)
_NEXT = re.compile(r"""<link\s[^>]*?rel\s*=\s*["']?next["']?[^>]*?href\s*=\s*["']?([^"'\s>#]+)""",
                   re.IGNORECASE)


def follow_links(html: str, page_url: str, profile: SiteProfile) -> tuple[tuple[str, ...], ...]:
    """Links of a page worth following, as ``(article URLs, hub URLs)``.

    A regex over the markup rather than a parse: this runs for every article, and the links
    of an article page only widen discovery (sitemaps, feeds and listings do the main work).
    """
    articles: dict[str, None] = {}
    hubs: dict[str, None] = {}
    for href in dict.fromkeys(_HREF.findall(html) + _NEXT.findall(html)):
        if href.startswith(("http://", "https://")) and "&" not in href:
            url = href  # WordPress writes absolute links: nothing to join or unescape
        else:
            url = urljoin(page_url, html_unescape(href.strip()))
        kind = classify_link(url, profile)
        if kind == "article":
            articles[url] = None
        elif kind == "hub":
            hubs[url] = None
    return tuple(articles), tuple(hubs)


@functools.lru_cache(maxsize=1 << 16)
def classify_link(url: str, profile: SiteProfile) -> str | None:
    """'article', 'hub' or None (not worth following). Cached: menus, footers and related
    links repeat on every page of a site."""
    if not same_site(url, profile) or should_skip(url):
        return None
    if looks_like_article(url, profile):
        return "article"
    return "hub" if looks_like_hub(url) else None


def page_kind(og_type: str | None, ld_types: list[str], url_says_article: bool) -> str:
    """Decide from the page itself: 'article' or 'hub'."""
    if og_type and og_type.strip().lower() == "article":
        return "article"
    if any(t.endswith("Article") or t in ("BlogPosting", "Report") for t in ld_types):
        return "article"
    if og_type and og_type.strip().lower() not in ("", "article"):
        return "hub"
    return "article" if url_says_article else "hub"
