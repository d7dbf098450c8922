"""extract_article: one parse, site rules, promo stripping, trafilatura, metadata."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any
from urllib.parse import urljoin, urlsplit

from cssselect import SelectorError
from lxml.cssselect import CSSSelector
from lxml.etree import XPath
from lxml.html import HtmlElement, fromstring

from crawler.errors import EmptyDocumentError, NoContentError, ProfileError
from crawler.extraction.dates import parse_human
from crawler.extraction.document import body_of, parse, to_text
from crawler.extraction.maintext import fast_text, main_text
from crawler.extraction.metadata import Metadata, clean_authors, extract_metadata
from crawler.extraction.promos import BLOCK_TAGS, drop_placeholders, strip_promos
from crawler.sites import ExtractionRules
from storage.records import ArticleRecord

# Trailing credit lines ("Editor: Rina", "Pewarta: Ade") are bylines, not prose: they leave the
# text and feed the author field when the page has no better author source.
_CREDIT_LINE = re.compile(
    r"^\s*\(?(editor|penulis|pewarta|reporter|redaktur|sumber|source|kontributor)\s*:\s*(.{1,80}?)\)?\s*$",
    re.IGNORECASE,
)
_AUTHOR_CREDITS = {"penulis", "pewarta", "reporter", "kontributor"}
_SELECTORS: dict[str, CSSSelector] = {}


def _selector(css: str) -> CSSSelector:
    compiled = _SELECTORS.get(css)
    if compiled is None:
        try:
            compiled = _SELECTORS[css] = CSSSelector(css)
        except SelectorError as exc:
            raise ProfileError(f"bad CSS selector {css!r} in site profile: {exc}") from None
    return compiled


def extract_article(html: str | bytes, url: str | None = None, *,
                    rules: ExtractionRules | None = None,
                    http_charset: str | None = None) -> ArticleRecord:
    """The clean article of one page. Raises an ``ExtractionError``; never returns None."""
    page = to_text(html, http_charset)
    tree = parse(page)
    body = body_of(tree)
    if body is None or all(piece.isspace() for piece in body.itertext()):
        raise EmptyDocumentError("the page has no body text")
    meta = extract_metadata(tree, url)
    base = _link_base(meta, url)
    rules = rules or ExtractionRules()
    _prepare(tree, rules)
    chosen = _selector(rules.body_selector)(tree) if rules.body_selector else []
    if chosen:
        related = strip_promos(chosen[0], base, rules.promo_labels)
        text = _text_of_body(chosen[0], url)
    else:
        related = strip_promos(body, base, rules.promo_labels)

        def fresh_tree() -> HtmlElement:
            again = parse(page)
            _prepare(again, rules)
            strip_promos(body_of(again), base, rules.promo_labels)
            return again

        text = main_text(tree, body, url, fresh_tree)
    if not text:
        raise NoContentError("no article text found")
    text = _drop_dateline_and_byline(_drop_title_line(text, meta.title_forms))
    text, credits = _split_credits(text)
    if not text or (len(text) < 200 and _only_link_text(text, tree)):
        raise NoContentError("no article text found")
    authors = (meta.authors
               or clean_authors([v for k, v in credits if k in _AUTHOR_CREDITS])
               or clean_authors([v for k, v in credits if k in ("editor", "redaktur")]))
    return _record(meta, url, text, authors, tuple(related))


# Scripts and styles are most of a modern news page's bytes (three quarters of the fixture
# site's): once the metadata is read they are dead weight that every later pass would scan and
# trafilatura would copy several times. JSON-LD stays: trafilatura can fall back on articleBody.
# A <template> with a type is code too: a client-side template (AMP's type="amp-mustache") whose
# "{{#id}}" placeholders and menus are filled in by a script, never shown as written. (A
# declarative shadow root, <template shadowrootmode>, has no type and is the page's content.)
_CODE = XPath("//script[not(@type='application/ld+json')] | //style | //template[@type]")


def _link_base(meta: Metadata, url: str | None) -> str | None:
    """What relative links resolve against: ``<base>`` or the page's URL, and for a page read
    without its URL (``arsip extract FILE``) its canonical or og:url, as the crawl would."""
    base = meta.base_url or url
    if urlsplit(base or "").scheme in ("http", "https"):
        return base
    canonical = meta.canonical_url
    if urlsplit(canonical or "").scheme in ("http", "https"):
        return urljoin(canonical, base) if base else canonical
    return base


def _prepare(tree: HtmlElement, rules: ExtractionRules) -> None:
    """Once the metadata is read: code and what the site's profile removes leave the tree."""
    _drop_all(_CODE(tree))
    for css in rules.remove_selectors:
        _drop_all(_selector(css)(tree))


def _drop_all(elements: Iterable[HtmlElement]) -> None:
    """Remove each element with its subtree; its tail text, page content, stays in place."""
    for el in elements:
        if el.getparent() is not None:  # the root has nowhere to be dropped from
            el.drop_tree()


def _text_of_body(element: HtmlElement, url: str | None) -> str | None:
    """The profile named the body: trust it, with trafilatura only to drop scripts and clutter.
    When trafilatura keeps too little of it, its own text is the better answer."""
    own = drop_placeholders(_render(element))
    wrapper = fromstring("<html><body></body></html>")
    wrapper.find("body").append(element)
    text = fast_text(wrapper, url)
    if text and len(text) >= 0.6 * len(own):
        return text
    return own or text


def _render(element: HtmlElement) -> str:
    parts: list[str] = []

    def walk(el: HtmlElement) -> None:
        if not isinstance(el.tag, str) or el.tag in ("script", "style", "noscript", "template"):
            parts.append(el.tail or "")
            return
        block = el.tag in BLOCK_TAGS or el.tag == "br"
        if block:
            parts.append("\n")
        parts.append(el.text or "")
        for child in el:
            walk(child)
        if block:
            parts.append("\n")
        parts.append(el.tail or "")

    parts.append(element.text or "")
    for child in element:
        walk(child)
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return unicodedata.normalize("NFC", "\n".join(line for line in lines if line)).strip()


# The title, with a kicker, a date or a section name above it, opens the text: those lines go.
_TITLE_WITHIN = 3
_ABOVE_TITLE = 150


def _drop_title_line(text: str, titles: frozenset[str]) -> str:
    """trafilatura keeps an <h1> inside the article container; the title has its own field.
    Any of the page's forms of its title (og:title, <h1>, <title>, ...) counts, within the
    first lines and with only short lines above it."""
    if not titles:
        return text
    lines = text.split("\n", _TITLE_WITHIN)
    for index, line in enumerate(lines[:_TITLE_WITHIN]):
        if index + 1 < len(lines) and " ".join(line.split()) in titles:
            return "\n".join(lines[index + 1:]).lstrip()
        if len(line) > _ABOVE_TITLE:
            break
    return text


# Above the story's first paragraph: a line of a date alone, and a byline ("Oleh :" with the
# name on the next line, "Von Karim Natour", "By Jane Doe"); they have fields of their own.
_LEAD_LINES = 5
_LEAD_LINE_MAX = 60
_BYLINE = re.compile(r"^(?:oleh|by|von|penulis|reporter)\b\s*:?\s*(?P<name>.*)$", re.IGNORECASE)
_NAME_WORD = re.compile(r"^(?:[A-ZÀ-ÞĀ-ſ][\w.'’-]*|and|und|dan|&|,)$")


def _drop_dateline_and_byline(text: str) -> str:
    lines = text.split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = " ".join(lines[index].split())
        if index >= _LEAD_LINES or len(line) > _ABOVE_TITLE:
            break  # the story has begun
        if len(line) <= _LEAD_LINE_MAX and len(line.split()) <= 8 and parse_human(line):
            index += 1
            continue
        byline = _BYLINE.match(line) if len(line) <= _LEAD_LINE_MAX else None
        if byline and not byline.group("name"):
            following = " ".join(lines[index + 1].split()) if index + 1 < len(lines) else ""
            index += 2 if following and _is_name(following) else 1
            continue
        if byline and _is_name(byline.group("name")):
            index += 1
            continue
        kept.append(lines[index])
        index += 1
    if index == 0 or index >= len(lines):
        return text
    return "\n".join(kept + lines[index:]).strip()


def _is_name(text: str) -> bool:
    """A short run of capitalised words ("Karim Natour", "Anna Sleegers, Frankfurt")."""
    words = text.replace(",", " , ").split()
    return 0 < len(words) <= 8 and len(text) <= _LEAD_LINE_MAX and all(
        _NAME_WORD.match(word) for word in words)


def _only_link_text(text: str, tree: HtmlElement) -> bool:
    """A menu-only page: every line trafilatura kept is the text of some link."""
    links = {" ".join(a.text_content().split()) for a in tree.iter("a")}
    return all(line.strip() in links for line in text.splitlines() if line.strip())


def _split_credits(text: str) -> tuple[str, list[tuple[str, str]]]:
    lines = text.split("\n")
    credits: list[tuple[str, str]] = []
    while lines and len(credits) < 4:
        match = _CREDIT_LINE.match(lines[-1])
        if not match:
            break
        credits.insert(0, (match.group(1).lower(), match.group(2)))
        lines.pop()
    return "\n".join(lines).strip(), credits


def _record(meta: Metadata, url: str | None, text: str, authors: tuple[str, ...],
            related: tuple[Any, ...]) -> ArticleRecord:
    return ArticleRecord(
        url=url or meta.canonical_url or "",
        title=meta.title,
        text=text,
        authors=authors,
        published=meta.published,
        updated=meta.updated,
        language=meta.language,
        section=meta.section,
        tags=meta.tags,
        canonical_url=meta.canonical_url,
        site_name=meta.site_name,
        description=meta.description,
        related=related,
    )


def article_to_dict(record: ArticleRecord, source: str | None = None) -> dict[str, Any]:
    """The `arsip extract --format jsonl` object (DESIGN.md contract keys first, extras after)."""
    return {
        "source": source,
        "url": record.url,
        "title": record.title,
        "author": "; ".join(record.authors) if record.authors else None,
        "published": record.published.isoformat() if record.published else None,
        "language": record.language,
        "text": record.text,
        "related": [{"title": link.title, "url": link.url} for link in record.related],
        "updated": record.updated.isoformat() if record.updated else None,
        "section": record.section,
        "tags": list(record.tags),
        "canonical_url": record.canonical_url,
        "site_name": record.site_name,
        "description": record.description,
    }
