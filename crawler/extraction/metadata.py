"""Article metadata from JSON-LD, OpenGraph, meta tags and the page itself."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml.etree import XPath
from lxml.html import HtmlElement

from crawler.extraction.dates import at_precision, has_time, parse_human, parse_iso

_ARTICLE_TYPES = {"newsarticle", "article", "blogposting", "reportagenewsarticle",
                  "analysisnewsarticle", "opinionnewsarticle", "reviewnewsarticle",
                  "backgroundnewsarticle", "report", "liveblogposting", "techarticle",
                  "scholarlyarticle", "socialmediaposting"}
_PUBLISHED_META = ("article:published_time", "og:article:published_time", "datepublished",
                   "pubdate", "publishdate", "publish-date", "publish_date", "parsely-pub-date",
                   "sailthru.date", "content_publisheddate", "dc.date", "dc.date.issued",
                   "dcterms.created", "dc.date.created", "date", "article.published",
                   "published_time", "release_date", "cxenseparse:recs:publishtime")
_UPDATED_META = ("article:modified_time", "og:updated_time", "datemodified", "lastmod",
                 "last-modified", "dc.date.modified", "dcterms.modified", "article.updated",
                 "content_modifieddate", "modified_time")
_AUTHOR_META = ("author", "article:author", "parsely-author", "dc.creator", "sailthru.author",
                "content_author", "byl", "cxenseparse:author")
_SECTION_META = ("article:section", "parsely-section", "section", "category", "content_category")
_TAG_META = ("article:tag", "parsely-tags", "news_keywords", "keywords", "sailthru.tags")
_DATE_ELEMENTS = XPath(
    "//*[self::time or contains(@class,'date') or contains(@class,'time') or "
    "contains(@class,'publish') or contains(@class,'posted') or contains(@class,'tanggal') or "
    "contains(@class,'waktu') or contains(@id,'date') or @itemprop='datePublished']"
)
_BYLINE = XPath(
    "//*[@rel='author' or @itemprop='author' or contains(@class,'author') or "
    "contains(@class,'byline') or contains(@class,'penulis') or contains(@class,'reporter') or "
    "contains(@id,'author') or contains(@id,'penulis')]"
)
_BREADCRUMB = XPath("//*[contains(@class,'breadcrumb')]//a")
_CREDIT = re.compile(
    r"^\s*(?:oleh|penulis|pewarta|reporter|editor|redaktur|written by|by|von|text|teks)\b\s*:?\s*",
    re.IGNORECASE,
)
_SPLIT_AUTHORS = re.compile(r"\s*(?:,|;|&|\||/|\bdan\b|\band\b|\bund\b)\s*", re.IGNORECASE)
_TITLE_SEPARATORS = re.compile(r"\s+[|\-–—•:»]\s+")
_ZONE_LABEL = re.compile(r"\d[:.]\d\d\s*(?:WIB|WITA|WIT)\b")
_HOME = {"home", "beranda", "index", "startseite", "news", "berita"}


@dataclass
class Metadata:
    title: str | None = None
    authors: tuple[str, ...] = ()
    published: datetime | date | None = None  # a date when the page gives no time of day
    updated: datetime | date | None = None
    language: str | None = None
    section: str | None = None
    tags: tuple[str, ...] = ()
    canonical_url: str | None = None
    site_name: str | None = None
    description: str | None = None
    base_url: str | None = None
    # every form the page gives its title in (og:title, headline, <h1>, <title>, ...): the
    # text's opening lines are checked against all of them
    title_forms: frozenset[str] = frozenset()
    meta: dict[str, list[str]] = field(default_factory=dict)


def _norm(text: Any) -> str:
    return " ".join(str(text).split()) if text else ""


def _meta_tags(tree: HtmlElement) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for meta in tree.iter("meta"):
        content = meta.get("content")
        if content is None:
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = meta.get(attr)
            if key:
                found.setdefault(key.strip().lower(), []).append(content.strip())
    return found


def _json_ld(tree: HtmlElement) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        raw = script.text.strip().removeprefix("<!--").removesuffix("-->").strip().rstrip(";")
        try:
            data = json.loads(raw, strict=False)
        except ValueError:
            continue
        objects.extend(_flatten(data))
    return objects


def _flatten(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _flatten(item)
    elif isinstance(data, dict):
        yield data
        if "@graph" in data:
            yield from _flatten(data["@graph"])
        main = data.get("mainEntity")
        if isinstance(main, dict):
            yield from _flatten(main)


def _types(obj: dict[str, Any]) -> set[str]:
    kind = obj.get("@type", ())
    kinds = kind if isinstance(kind, list) else [kind]
    return {str(k).lower() for k in kinds}


def _names(value: Any) -> list[str]:
    if isinstance(value, list):
        return [name for item in value for name in _names(item)]
    if isinstance(value, dict):
        return _names(value.get("name"))
    return [_norm(value)] if value and isinstance(value, str) else []


def clean_authors(raw: list[str], site_name: str | None = None) -> tuple[str, ...]:
    """"Oleh A dan B" -> ("A", "B"); drops URLs, e-mails and repeats."""
    names: list[str] = []
    for item in raw:
        text = _norm(item)
        if not text or text.startswith(("http://", "https://", "/")):
            continue
        text = re.sub(r"\S+@\S+", "", text)
        text = re.sub(r"\(.*?\)", "", text)
        # "Penulis: A | Editor: B" keeps both names
        for chunk in re.split(r"\s+(?=(?:editor|reporter|penulis|pewarta|redaktur)\s*:)", text,
                              flags=re.IGNORECASE):
            chunk = _CREDIT.sub("", chunk)
            chunk = re.split(r"\s+[-–—]\s+", chunk)[0]
            for name in _SPLIT_AUTHORS.split(chunk):
                name = _CREDIT.sub("", name).strip(" .:-–|")
                if not name or len(name) > 80 or not re.search(r"[^\W\d_]", name):
                    continue
                if name.lower() not in {n.lower() for n in names}:
                    names.append(name)
    return tuple(names)


def _site_keys(site_name: str | None, url: str | None) -> set[str]:
    keys = set()
    if site_name:
        keys.add(re.sub(r"\W", "", site_name.lower()))
    host = urlsplit(url).hostname if url else None
    if host:
        labels = host.lower().removeprefix("www.").split(".")
        keys.add(labels[0])
        keys.add("".join(labels))
    return {k for k in keys if len(k) >= 3}


def clean_title(title: str, site_name: str | None, url: str | None) -> str:
    """Strip " | Site", " - Site", "Site – " where the part is the site's name."""
    title = _norm(title)
    keys = _site_keys(site_name, url)
    if not keys:
        return title
    for _ in range(2):
        parts = _TITLE_SEPARATORS.split(title)
        if len(parts) < 2:
            break
        last = re.sub(r"\W", "", parts[-1].lower())
        first = re.sub(r"\W", "", parts[0].lower())
        if last and any(k in last or last in k for k in keys) and len(parts[-1]) <= 40:
            title = title[: title.rfind(parts[-1])].rstrip(" |-–—•:»")
        elif first and any(k == first or (k in first and len(first) <= len(k) + 6) for k in keys):
            title = title[title.find(parts[1], len(parts[0])):]
        else:
            break
    return title.strip()


def _language(value: str | None) -> str | None:
    if not value:
        return None
    primary = re.split(r"[-_,;\s]", value.strip().lower())[0]
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def _first(*values: Any) -> str | None:
    for value in values:
        if isinstance(value, list):
            value = value[0] if value else None
        text = _norm(value)
        if text:
            return text
    return None


def _pick_date(candidates: list[datetime | None]) -> datetime | None:
    """First source wins, unless it is date-only and a later source has the time of that day."""
    dates = [d for d in candidates if d is not None]
    if not dates:
        return None
    first = dates[0]
    if not has_time(first):
        for later in dates[1:]:
            if has_time(later) and later.date() == first.date():
                return later
    return first


def extract_metadata(tree: HtmlElement, url: str | None) -> Metadata:
    meta = _meta_tags(tree)
    objects = _json_ld(tree)
    article = next((o for o in objects if _types(o) & _ARTICLE_TYPES), None)
    page = next((o for o in objects if "webpage" in _types(o)), None)
    ld = article or page or {}

    def m(*keys: str) -> list[str]:
        for key in keys:
            values = [v for v in meta.get(key, []) if v]
            if values:
                return values
        return []

    base = url
    base_el = tree.find(".//base")
    if base_el is not None and base_el.get("href"):
        base = urljoin(url or "", base_el.get("href").strip())
    canonical = None
    for link in tree.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            canonical = urljoin(base or "", link.get("href").strip())
            break
    if canonical is None and m("og:url"):
        canonical = urljoin(base or "", m("og:url")[0])

    by_id = {o["@id"]: o for o in objects if isinstance(o.get("@id"), str) and len(o) > 2}
    publisher = _resolve(ld.get("publisher"), by_id)
    site_name = _first(m("og:site_name"), _names(publisher)[:1],
                       m("application-name"), m("twitter:site"))
    if site_name and site_name.startswith("@"):
        site_name = site_name[1:]

    h1 = tree.find(".//h1")
    title_tag = tree.find(".//title")
    raw_title = _first(m("og:title"), ld.get("headline"), h1.text_content() if h1 is not None
                       else None, m("twitter:title"), title_tag.text if title_tag is not None
                       else None)
    title = clean_title(raw_title, site_name, url or canonical) if raw_title else None
    forms = {_norm(f) for f in (*m("og:title"), *m("twitter:title"), ld.get("headline"),
                                 h1.text_content() if h1 is not None else None,
                                 title_tag.text if title_tag is not None else None)
             if isinstance(f, str)}
    forms |= {clean_title(f, site_name, url or canonical) for f in forms}
    forms.discard("")
    if title:
        forms.add(title)

    authors = clean_authors(_names(_resolve(ld.get("author"), by_id))
                            or _names(_resolve(ld.get("creator"), by_id)))
    if not authors:
        authors = clean_authors(m(*_AUTHOR_META))
    if not authors:
        authors = clean_authors([_norm(el.text_content()) for el in _BYLINE(tree)[:3]
                                 if len(_norm(el.text_content())) <= 100])

    published_candidates = [
        parse_iso(_first(ld.get("datePublished")) or ""),
        *(parse_iso(v) for v in m(*_PUBLISHED_META)[:1]),
    ]
    updated_candidates = [
        parse_iso(_first(ld.get("dateModified")) or ""),
        *(parse_iso(v) for v in m(*_UPDATED_META)[:1]),
    ]
    zone = next((d.tzinfo for d in (*published_candidates, *updated_candidates)
                 if d is not None and d.tzinfo is not None), None)
    if zone is None or not any(d is not None and has_time(d) for d in published_candidates):
        # the page's own <time> and printed dates are slow to find: only when still needed
        published_candidates.extend(_page_dates(tree))
        zone = zone or next((d.tzinfo for d in published_candidates
                             if d is not None and d.tzinfo is not None), None)
    if zone is None:
        # "14:05 WIB" printed anywhere near the top still tells the zone of a naive date
        printed = _printed_date(tree)
        if printed is not None:
            zone = printed.tzinfo
            published_candidates.append(printed)
    published = at_precision(_with_zone(_pick_date(published_candidates), zone))
    updated = at_precision(_with_zone(_pick_date(updated_candidates), zone))

    html_el = tree if tree.tag == "html" else tree.getroottree().getroot()
    language = (_language(html_el.get("lang") or html_el.get("xml:lang"))
                or _language(_first(m("og:locale")))
                or _language(_first(m("content-language"), m("language"), m("dc.language")))
                or _language(_first(ld.get("inLanguage"))))

    section = _first(m(*_SECTION_META), ld.get("articleSection")) or _breadcrumb(
        objects, tree, title)

    tags: tuple[str, ...] = ()
    for source in (m("article:tag"), _keywords(ld.get("keywords")), m(*_TAG_META[1:])):
        values = [t for v in source for t in (_keywords(v) if "," in v else [_norm(v)]) if t]
        if values:
            tags = tuple(dict.fromkeys(values))
            break

    description = _first(m("og:description"), m("description"), ld.get("description"),
                         m("twitter:description"))
    return Metadata(title=title, authors=authors, published=published, updated=updated,
                    language=language, section=section, tags=tags, canonical_url=canonical,
                    site_name=site_name, description=description, base_url=base,
                    title_forms=frozenset(forms), meta=meta)


def _resolve(value: Any, by_id: dict[str, dict[str, Any]]) -> Any:
    """Yoast-style graphs point at their Person nodes by "@id" instead of nesting them."""
    if isinstance(value, list):
        return [_resolve(v, by_id) for v in value]
    if isinstance(value, dict) and "name" not in value and value.get("@id") in by_id:
        return by_id[value["@id"]]
    return value


def _keywords(value: Any) -> list[str]:
    if isinstance(value, list):
        return [_norm(v) for v in value if _norm(v)]
    if isinstance(value, str):
        return [_norm(v) for v in value.split(",") if _norm(v)]
    return []


def _page_dates(tree: HtmlElement) -> Iterator[datetime | None]:
    """<time datetime>, then dates printed in date-ish elements ("Senin, 28 April 2025 14:05")."""
    printed: list[datetime | None] = []
    for el in _DATE_ELEMENTS(tree)[:30]:
        if el.tag == "time" and el.get("datetime"):
            yield parse_iso(el.get("datetime"))
            continue
        text = _norm(el.text_content())
        if 6 <= len(text) <= 120:
            printed.append(parse_human(text))
    yield from printed


def _printed_date(tree: HtmlElement) -> datetime | None:
    body = tree.find("body")
    if body is None:
        return None
    # joined with spaces: "14:05 WIB</div><p>Ia" must not read "WIBIa"
    pieces: list[str] = []
    size = 0
    for piece in body.itertext():
        pieces.append(piece)
        size += len(piece) + 1
        if size > 20000:
            break
    text = " ".join(pieces)
    if not _ZONE_LABEL.search(text):
        return None
    found = parse_human(text, require_time=True)
    return found if found is not None and found.tzinfo is not None else None


def _with_zone(value: datetime | None, zone: tzinfo | None) -> datetime | None:
    """A naive time takes the offset the page states elsewhere (another date source, a "WIB"
    label); when nothing on the page tells the zone it stays naive rather than guessed."""
    if value is None or value.tzinfo is not None or zone is None or not has_time(value):
        return value
    return value.replace(tzinfo=zone)


def _breadcrumb(objects: list[dict[str, Any]], tree: HtmlElement, title: str | None) -> str | None:
    names: list[str] = []
    crumbs = next((o for o in objects if "breadcrumblist" in _types(o)), None)
    if crumbs:
        items = crumbs.get("itemListElement") or []
        items = sorted((i for i in items if isinstance(i, dict)),
                       key=lambda i: int(i.get("position") or 0) if str(
                           i.get("position") or 0).isdigit() else 0)
        for item in items:
            name = _first(item.get("name"), _names(item.get("item")))
            if name:
                names.append(name)
    else:
        names = [_norm(a.text_content()) for a in _BREADCRUMB(tree)[:8]]
    names = [n for n in names if n and n.lower() not in _HOME and n != title and len(n) <= 60]
    return names[-1] if names else None
