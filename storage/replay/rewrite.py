"""Rewriting archived HTML and CSS so that every URL they load or link stays in the archive.

A URL becomes ``/{timestamp}{modifier}/{absolute url}``: the page's own capture time, so each
resource resolves to its own capture closest to the page, and a pywb-style modifier that says
what it is loaded as (``im_`` images, ``cs_`` stylesheets, ``js_`` scripts, ``if_`` frames,
``oe_`` embedded objects, none for pages a person navigates to). The replay server needs no
lookup to rewrite a page; a URL that was never archived answers with the archive's own 404.

The HTML is not re-serialised: only the start tags that hold a URL are rebuilt, and inline
``<style>`` blocks rewritten; every other byte of the document stays as it was captured. The
tokenizer is the standard library's ``html.parser``, which knows that ``<script>`` and
``<style>`` hold raw text. Scripts are not rewritten: what a script loads at run time is kept
on the replay server by the Content-Security-Policy the server sends, but a navigation it starts
(``location = ...``) is beyond any policy (see ``storage.replay.app``).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

# modifiers (pywb's names)
PAGE, IMAGE, STYLE, SCRIPT, FRAME, OBJECT = "", "im_", "cs_", "js_", "if_", "oe_"

_NOT_REWRITTEN = ("#", "data:", "javascript:", "mailto:", "tel:", "about:", "blob:", "sms:",
                  "geo:", "urn:")

# tag -> attribute -> modifier
_URL_ATTRS: dict[str, dict[str, str]] = {
    "a": {"href": PAGE}, "area": {"href": PAGE},
    "link": {"href": STYLE},  # refined by rel= below
    "script": {"src": SCRIPT},
    "img": {"src": IMAGE, "longdesc": PAGE},
    "input": {"src": IMAGE, "formaction": PAGE}, "button": {"formaction": PAGE},
    "source": {"src": IMAGE}, "track": {"src": OBJECT},
    "video": {"src": OBJECT, "poster": IMAGE}, "audio": {"src": OBJECT},
    "iframe": {"src": FRAME}, "frame": {"src": FRAME},
    "embed": {"src": OBJECT}, "object": {"data": OBJECT},
    "form": {"action": PAGE}, "blockquote": {"cite": PAGE}, "q": {"cite": PAGE},
    "ins": {"cite": PAGE}, "del": {"cite": PAGE},
    "body": {"background": IMAGE}, "table": {"background": IMAGE}, "td": {"background": IMAGE},
    "th": {"background": IMAGE},
    "image": {"href": IMAGE, "xlink:href": IMAGE}, "use": {"href": IMAGE, "xlink:href": IMAGE},
}
# lazy-loading attributes of any tag (WordPress plugins, lazysizes and the like)
_LAZY_ATTRS = {"data-src": IMAGE, "data-lazy-src": IMAGE, "data-original": IMAGE,
               "data-bg": IMAGE, "data-background": IMAGE, "data-full-url": IMAGE,
               "data-large-file": IMAGE, "data-medium-file": IMAGE, "data-orig-file": IMAGE}
_SRCSET_ATTRS = ("srcset", "data-srcset", "data-lazy-srcset", "imagesrcset")
_LINK_PAGE_RELS = frozenset({"alternate", "canonical", "next", "prev", "prefetch", "shortlink",
                             "amphtml", "author", "help", "license", "search", "bookmark",
                             "home", "index", "up"})
_LINK_IMAGE_RELS = frozenset({"icon", "shortcut", "apple-touch-icon",
                              "apple-touch-icon-precomposed",
                              "mask-icon", "image_src"})
_RAW_TEXT = ("title", "textarea")
# attributes that must go: subresource integrity fails on rewritten bytes; ping is a beacon
_DROPPED = frozenset({"integrity", "ping"})

# every URL a stylesheet loads, in one pass (so a rewritten URL is never read again):
# ``@import url(...)`` and ``@import "..."`` (stylesheets), ``image-set(...)`` (its url() and
# plain strings are images), any other ``url(...)`` (images, fonts)
_CSS_URL_PATTERN = r"""url\(\s*(?P<q>['"]?)(?P<url>[^'")]*?)(?P=q)\s*\)"""
_CSS_REF = re.compile(
    r"""@import\s+(?:url\(\s*(?P<iq>['"]?)(?P<iurl>[^'")]*?)(?P=iq)\s*\)"""
    r"""|(?P<sq>['"])(?P<surl>[^'"]+)(?P=sq))"""
    r"""|(?P<set>(?:-webkit-)?image-set\()(?P<items>(?:[^()]|\([^()]*\))*)\)"""
    rf"""|{_CSS_URL_PATTERN}""", re.IGNORECASE)
_IMAGE_SET_ITEM = re.compile(rf"""{_CSS_URL_PATTERN}|(?P<sq>['"])(?P<surl>[^'"]*)(?P=sq)""",
                             re.IGNORECASE)
_REFRESH = re.compile(r"""^(?P<head>\s*\d*\.?\d*\s*[;,]?\s*(?:url\s*=\s*)?)(?P<q>['"]?)"""
                      r"""(?P<url>[^'"]*)(?P=q)\s*$""", re.IGNORECASE)


class UrlRewriter:
    """Maps URLs found in one archived document to archive URLs."""

    def __init__(self, prefix: str, timestamp: str, base_url: str) -> None:
        self.prefix = prefix  # the app's root path, "/" normally
        self.timestamp = timestamp
        self.base_url = base_url

    def __call__(self, url: str, modifier: str = PAGE) -> str:
        stripped = url.strip()
        if not stripped or stripped.lower().startswith(_NOT_REWRITTEN):
            return url
        try:
            absolute = urljoin(self.base_url, stripped)
            scheme = urlsplit(absolute).scheme.lower()
        except ValueError:
            return url
        if scheme not in ("http", "https"):
            return url
        return f"{self.prefix}{self.timestamp}{modifier}/{absolute}"

    def srcset(self, value: str, modifier: str = IMAGE) -> str:
        return ", ".join(self(url, modifier) + (f" {descriptor}" if descriptor else "")
                         for url, descriptor in srcset_candidates(value))

    def css(self, text: str) -> str:
        """``url()``, ``@import`` and ``image-set()`` in a stylesheet or a style attribute."""
        def quoted(q: str | None, url: str, modifier: str) -> str:
            return f"{q or ''}{self(url, modifier)}{q or ''}"

        def in_set(match: re.Match[str]) -> str:
            if match.group("url") is not None:
                return f"url({quoted(match.group('q'), match.group('url'), IMAGE)})"
            return quoted(match.group("sq"), match.group("surl"), IMAGE)

        def ref(match: re.Match[str]) -> str:
            if match.group("iurl") is not None:
                return f"@import url({quoted(match.group('iq'), match.group('iurl'), STYLE)})"
            if match.group("surl") is not None:
                return f"@import {quoted(match.group('sq'), match.group('surl'), STYLE)}"
            if match.group("set") is not None:
                return match.group("set") + _IMAGE_SET_ITEM.sub(in_set, match.group("items")) + ")"
            return f"url({quoted(match.group('q'), match.group('url'), IMAGE)})"

        return _CSS_REF.sub(ref, text)


def srcset_candidates(value: str) -> list[tuple[str, str]]:
    """``(url, descriptors)`` of a ``srcset``, split as the HTML standard does: a URL is a run
    of non-space characters (commas inside it stay; trailing ones end the candidate), its
    descriptors run to the next comma."""
    out: list[tuple[str, str]] = []
    position, end = 0, len(value)
    while True:
        while position < end and (value[position].isspace() or value[position] == ","):
            position += 1
        if position >= end:
            return out
        start = position
        while position < end and not value[position].isspace():
            position += 1
        url, descriptors = value[start:position], ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            start = position
            depth = 0
            while position < end and (value[position] != "," or depth):
                depth += {"(": 1, ")": -1}.get(value[position], 0)
                position += 1
            descriptors = value[start:position].strip()
        if url:
            out.append((url, descriptors))


def _link_modifier(attrs: dict[str, str | None]) -> str:
    rels = set((attrs.get("rel") or "").lower().split())
    if "stylesheet" in rels:
        return STYLE
    if rels & _LINK_IMAGE_RELS:
        return IMAGE
    if "preload" in rels or "modulepreload" in rels:
        kind = (attrs.get("as") or "").lower()
        return {"style": STYLE, "script": SCRIPT, "image": IMAGE, "font": OBJECT}.get(
            kind, SCRIPT if "modulepreload" in rels else OBJECT)
    if rels & _LINK_PAGE_RELS:
        return PAGE
    return OBJECT


class _Rewriter(HTMLParser):
    def __init__(self, text: str, urls: UrlRewriter, banner: str | None) -> None:
        super().__init__(convert_charrefs=False)
        self.text = text
        self.urls = urls
        self.banner = banner
        self.edits: list[tuple[int, int, str]] = []  # (start, end, replacement)
        self._lines = [0]
        self._lines.extend(m.end() for m in re.finditer("\n", text))
        self._style_depth = 0
        self._base_seen = False
        self.banner_at: int | None = None

    def position(self) -> int:
        line, column = self.getpos()
        return self._lines[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raw = self.get_starttag_text() or ""
        start = self.position()
        if tag == "style":
            self._style_depth += 1
        new_attrs, changed = self._rewrite_attrs(tag, attrs)
        if changed:
            self.edits.append((start, start + len(raw), _start_tag(tag, new_attrs, raw)))
        if tag == "body" and self.banner is not None and self.banner_at is None:
            self.banner_at = start + len(raw)
        if tag in _RAW_TEXT:
            # what a browser reads as text until the closing tag; html.parser (before Python
            # 3.13) would read tags in it, rewriting text or putting the banner in a title
            self.set_cdata_mode(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "style" and self._style_depth:
            self._style_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._style_depth and ("url" in data.lower() or "@import" in data.lower()):
            start = self.position()
            rewritten = self.urls.css(data)
            if rewritten != data:
                self.edits.append((start, start + len(data), rewritten))

    def _rewrite_attrs(self, tag: str, attrs: list[tuple[str, str | None]]
                       ) -> tuple[list[tuple[str, str | None]], bool]:
        by_tag = _URL_ATTRS.get(tag, {})
        lookup = dict(attrs)
        out: list[tuple[str, str | None]] = []
        changed = False
        for name, value in attrs:
            new: str | None = value
            if name in _DROPPED and tag in ("script", "link", "a", "area"):
                changed = True
                continue
            if value is None:
                out.append((name, value))
                continue
            if name in by_tag:
                modifier = _link_modifier(lookup) if tag == "link" else by_tag[name]
                new = self.urls(value, modifier)
            elif name in _LAZY_ATTRS:
                new = self.urls(value, _LAZY_ATTRS[name])
            elif name in _SRCSET_ATTRS:
                new = self.urls.srcset(value)
            elif name == "style":
                new = self.urls.css(value)
            elif tag == "base" and name == "href" and not self._base_seen:
                self._base_seen = True
                absolute = urljoin(self.urls.base_url, value.strip())
                self.urls.base_url = absolute  # later relative URLs resolve against it
                new = self.urls(absolute, PAGE)
            elif tag == "meta" and name == "content" and _is_refresh(lookup):
                new = _REFRESH.sub(lambda m: m.group("head") + m.group("q")
                                   + self.urls(m.group("url"), PAGE) + m.group("q"), value)
            elif tag == "meta" and name == "http-equiv" and value.strip().lower() in (
                    "content-security-policy", "content-security-policy-report-only"):
                # the archived policy would block the banner; it is kept, renamed, for the record
                new = "x-archive-orig-" + value.strip().lower()
            elif tag == "iframe" and name == "srcdoc":
                new = rewrite_html(value, UrlRewriter(self.urls.prefix, self.urls.timestamp,
                                                      self.urls.base_url))
            if new != value:
                changed = True
            out.append((name, new))
        return out, changed


def _is_refresh(attrs: dict[str, str | None]) -> bool:
    return (attrs.get("http-equiv") or "").strip().lower() == "refresh"


def _start_tag(tag: str, attrs: list[tuple[str, str | None]], raw: str) -> str:
    parts = [f"<{tag}"]
    for name, value in attrs:
        if value is None:
            parts.append(f" {name}")
        else:  # in double quotes, only &, <, > and " need escaping
            parts.append(f' {name}="{html.escape(value, quote=False).replace(chr(34), "&quot;")}"')
    parts.append(" />" if raw.rstrip().endswith("/>") else ">")
    return "".join(parts)


def rewrite_html(text: str, urls: UrlRewriter, banner: str | None = None) -> str:
    """``text`` with its URLs rewritten, and ``banner`` (HTML) inserted at the start of the
    body (or at the end of a document without a ``<body>`` tag).

    html.parser does not model a script's "double escaped" state (``<script><!--<script>``):
    a ``<body>`` written inside such a script is taken for the real one, and the banner then
    lands in the script, where it is not shown. Nothing of the page reaches the banner either
    way; only its visibility is lost, on pages written that oddly."""
    parser = _Rewriter(text, urls, banner)
    try:
        parser.feed(text)
        parser.close()
    except (AssertionError, ValueError):
        # html.parser gives up on a few malformed declarations: rewrite what was read
        pass
    edits = parser.edits
    if banner is not None:
        at = parser.banner_at if parser.banner_at is not None else len(text)
        edits.append((at, at, banner))
    edits.sort(key=lambda edit: (edit[0], edit[1]))
    out: list[str] = []
    position = 0
    for start, end, replacement in edits:
        if start < position:  # overlapping edits cannot come from one parse; keep the first
            continue
        out.append(text[position:start])
        out.append(replacement)
        position = end
    out.append(text[position:])
    return "".join(out)


def rewrite_css(text: str, urls: UrlRewriter) -> str:
    return urls.css(text)
