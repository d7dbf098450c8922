"""Page requisites: the stylesheets, fonts, scripts and images an article needs to replay as
it looked.

Which hosts: the site's own (its domains and their subdomains), the hosts listed in the site
profile's ``requisite_hosts``, and every host the page itself loads a stylesheet from. A site's
static and CDN hosts serve its stylesheets; advertising and analytics hosts serve scripts,
frames and pixels, not stylesheets, so their tags are left alone without a list to maintain.

What: the page's stylesheets, its scripts, and the images of the article body (``src``,
``srcset``, lazy-loading attributes); then what each stylesheet imports and the fonts and images
it names (``@import``, ``url()``), to a bounded depth. Found by regular expressions over the raw
markup, not a parse: this runs in the crawl process, for every article page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from urllib.parse import urljoin, urlsplit

# CSS imports more than this deep are not followed (real themes go two deep at most)
MAX_CSS_DEPTH = 3
MAX_PER_PAGE = 200

_TAG = re.compile(r"<(link|script|img|source|base)\b([^>]*)>", re.IGNORECASE)
_ATTR = re.compile(r"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
# where an article body starts, on WordPress and the newsroom templates arsip knows
_BODY_START = re.compile(
    r"""<(?:article\b|[^>]+(?:itemprop=["']articleBody["']|class=["'][^"']*\b(?:entry-content|"""
    r"""post-content|article-content|article__content|detail__body|read__content|"""
    r"""txt-article|content-detail)\b))""", re.IGNORECASE)
_BODY_END = re.compile(r"</article>", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+?)['"]?\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\(\s*)?['"]?([^'")\s;]+)""", re.IGNORECASE)
_IMAGE_ATTRS = ("src", "data-src", "data-lazy-src", "data-original")
_SRCSET_ATTRS = ("srcset", "data-srcset", "data-lazy-srcset")


@dataclass(frozen=True)
class Requisites:
    """What one article page loads, each an absolute http(s) URL, in page order."""

    stylesheets: tuple[str, ...] = ()
    scripts: tuple[str, ...] = ()
    images: tuple[str, ...] = ()

    def hosts(self) -> frozenset[str]:
        """The hosts this page loads stylesheets from: its static hosts."""
        return frozenset(host_of(url) for url in self.stylesheets)

    def all(self) -> tuple[str, ...]:
        return (*self.stylesheets, *self.scripts, *self.images)


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def host_allowed(host: str, own: tuple[str, ...], static: frozenset[str]) -> bool:
    """Whether a requisite on ``host`` is fetched (see the module docs); ``own`` holds the
    site's domains and the profile's ``requisite_hosts`` (``*.cdn.example`` allowed)."""
    if not host:
        return False
    if host in static:
        return True
    for domain in own:
        domain = domain.lower().removeprefix("*.")
        if host == domain or host.endswith("." + domain):
            return True
    return False


def _attrs(text: str) -> dict[str, str]:
    return {m.group(1).lower(): unescape(m.group(2) or m.group(3) or m.group(4) or "")
            for m in _ATTR.finditer(text)}


def _absolute(base: str, value: str) -> str | None:
    value = value.strip()
    if not value or value.startswith(("data:", "#", "javascript:", "blob:")):
        return None
    try:
        url = urljoin(base, value).split("#", 1)[0]
    except ValueError:
        return None
    return url if url.startswith(("http://", "https://")) else None


def page_requisites(html: str, page_url: str) -> Requisites:
    """The requisites of one article page (see the module docs)."""
    base = page_url
    stylesheets: dict[str, None] = {}
    scripts: dict[str, None] = {}
    images: dict[str, None] = {}
    body = _BODY_START.search(html)
    body_start = body.start() if body else len(html)
    end = _BODY_END.search(html, body_start)
    body_end = end.start() if end else len(html)
    for match in _TAG.finditer(html):
        tag = match.group(1).lower()
        attrs = _attrs(match.group(2))
        if tag == "base" and attrs.get("href"):
            base = _absolute(page_url, attrs["href"]) or base
        elif tag == "link":
            rels = attrs.get("rel", "").lower().split()
            if "stylesheet" in rels and "alternate" not in rels:
                _add(stylesheets, _absolute(base, attrs.get("href", "")))
        elif tag == "script":
            _add(scripts, _absolute(base, attrs.get("src", "")))
        elif body_start <= match.start() < body_end:
            for name in _IMAGE_ATTRS:
                _add(images, _absolute(base, attrs.get(name, "")))
            for name in _SRCSET_ATTRS:
                for candidate in attrs.get(name, "").split(","):
                    _add(images, _absolute(base, candidate.strip().split(" ")[0]))
    return Requisites(*(tuple(found)[:MAX_PER_PAGE] for found in (stylesheets, scripts, images)))


def _add(found: dict[str, None], url: str | None) -> None:
    if url:
        found[url] = None


def css_requisites(css: str, css_url: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(imported stylesheets, other assets)`` a stylesheet names, absolute."""
    imports: dict[str, None] = {}
    for match in _CSS_IMPORT.finditer(css):
        _add(imports, _absolute(css_url, match.group(1)))
    assets: dict[str, None] = {}
    for match in _CSS_URL.finditer(css):
        url = _absolute(css_url, match.group(1))
        if url and url not in imports:
            _add(assets, url)
    return tuple(imports), tuple(assets)[:MAX_PER_PAGE]
