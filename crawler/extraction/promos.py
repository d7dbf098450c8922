"""Inline promo blocks ("Baca Juga: <a>...</a>") and in-body noise, removed on the DOM.

Promos are found by general rules, never by site: a block (or a line between ``<br>``s) whose text
starts with a promo label, followed by a separator or a link, and whose remaining text is mostly
link text or short. The links become ``related`` so nothing is thrown away. Prose that merely
contains "baca juga" keeps its place: the label must open the block and the rest must look like a
headline, not a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin

from lxml.etree import Element, XPath
from lxml.html import HtmlElement

from storage.records import RelatedLink

DEFAULT_LABELS: tuple[str, ...] = (
    "baca juga", "baca pula", "simak juga", "lihat juga", "artikel terkait", "berita terkait",
    "baca selengkapnya", "read also", "also read", "read more", "see also", "lesen sie auch",
    "mehr zum thema",
)
# Video teasers need no separator: "Simak juga video 'Putin ...'" is never prose.
VIDEO_LABELS: tuple[str, ...] = (
    "simak juga video", "simak video", "tonton juga video", "tonton video", "tonton juga",
    "saksikan juga video", "saksikan video",
)
QUOTES = "\"'“”„‘’«»‹›"
_LEAD = r"^[\s" + QUOTES + r"\[\(>*•·\-–—]*"
_SEP = r"(?P<sep>\s*(?::|>>+|»|›|–|—|-|\.{2,}|…)\s*)?"
# Whole-block noise: ad slots, scroll hints, credit/tag/share bars.
_NOISE_EXACT = re.compile(
    r"\s*(?:advertisement|advertisment|iklan|ads|scroll\s+to\s+continue\s+with\s+content|"
    r"advertisement\s+scroll\s+to\s+continue\s+with\s+content|scroll\s+to\s+resume\s+content|"
    r"lanjutkan\s+membaca|continue\s+reading\s+below)\s*",
    re.IGNORECASE,
)
_NOISE_START = re.compile(
    _LEAD + r"(?:tags?|topik|topics?|tagged|schlagworte|bagikan(?: artikel)?|share(?: this)?"
    r"(?: article)?|teilen)\s*(?::|>>)",
    re.IGNORECASE,
)
_GAMBAS = re.compile(r"\[Gambas:[^\]]*\]", re.IGNORECASE)
_SHARE_HREF = re.compile(
    r"(?:facebook\.com/sharer|twitter\.com/intent|x\.com/intent|wa\.me/|api\.whatsapp\.com|"
    r"^whatsapp:|linkedin\.com/share|t\.me/share|line\.me/R/msg|pinterest\.com/pin/create|"
    r"telegram\.me/share|^mailto:\?)",
    re.IGNORECASE,
)
_SHARE_CANDIDATES = XPath(
    ".//a[contains(@href,'share') or contains(@href,'intent') or contains(@href,'wa.me') or "
    "contains(@href,'whatsapp') or contains(@href,'line.me') or contains(@href,'pin/create') or "
    "starts-with(@href,'mailto:?')]"
)
_WORD = re.compile(r"\w")
# Text of the stand-in left where a promo block was; gone from the extracted text.
PLACEHOLDER = "arsippromoplaceholderxq"
BLOCK_TAGS = frozenset(
    "p div section aside article ul ol li table tbody thead tfoot tr td th blockquote h1 h2 h3 "
    "h4 h5 h6 dl dt dd figure figcaption header footer nav form pre hr main center".split()
)
_STOP_TAGS = frozenset(("body", "html"))
_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
_MAX_PROMO_CHARS = 1500  # a longer block is content, whatever its first words


def _alternatives(labels: Iterable[str]) -> str:
    """The labels as one regex alternation, longest first, any whitespace between words."""
    parts = sorted({" ".join(label.lower().split()) for label in labels if label.strip()},
                   key=len, reverse=True)
    return "|".join(r"\s+".join(map(re.escape, part.split())) for part in parts)


def _label_pattern(labels: Iterable[str]) -> re.Pattern[str]:
    return re.compile(_LEAD + r"(?P<label>" + _alternatives(labels) + r")(?!\w)" + _SEP,
                      re.IGNORECASE)


def _any_of(*patterns: re.Pattern[str]) -> re.Pattern[str]:
    """One pattern matching where any of ``patterns`` matches (their groups made anonymous):
    the scan tries it on every text of the page, the precise patterns only where it hits."""
    bare = [re.sub(r"\(\?P<\w+>", "(?:", p.pattern) for p in patterns]
    return re.compile("|".join(f"(?:{b})" for b in bare), re.IGNORECASE)


def _trailing_label_pattern(labels: Iterable[str]) -> re.Pattern[str]:
    """A label with its separator closing a run of text, after a sentence's end or at the
    start: "... kembali lancar. Baca Juga: " just before the headline's link."""
    return re.compile(r"(?:^|(?<=[.!?…" + QUOTES + r")]))\s*(?P<label>" + _alternatives(labels)
                      + r")\s*(?::|>>+|»|›|–|—|-)\s*$", re.IGNORECASE)


_DEFAULT_PATTERN = _label_pattern(DEFAULT_LABELS)
_VIDEO_PATTERN = _label_pattern(VIDEO_LABELS)
# ">> <a>Headline</a>": a bare chevron standing in for the label; only a promo when the rest of
# the block is the link itself, since chevrons also decorate ordinary text
_MARKER_PATTERN = re.compile(r"^[\s\[\(*•·]*(?P<label>>>+|»|►|▶)(?P<sep>\s*)")
_DEFAULT_OPENING = _any_of(_VIDEO_PATTERN, _DEFAULT_PATTERN, _MARKER_PATTERN, _NOISE_START)
_DEFAULT_TRAILING = _trailing_label_pattern(DEFAULT_LABELS)
# how much of a run of text before a link is searched for a label
_TRAILING_WINDOW = 60


def _norm(text: str | None) -> str:
    return " ".join(text.split()) if text else ""


def _text(el: HtmlElement) -> str:
    # spaces between pieces: "<span>Baca Juga</span><h4>Title</h4>" must not read "JugaTitle"
    return " ".join(" ".join(el.itertext()).split())


@dataclass
class PromoStripper:
    """Strips promos and noise from one tree, collecting the promo links."""

    base_url: str | None
    extra_labels: tuple[str, ...] = ()
    related: list[RelatedLink] = field(default_factory=list)
    removed: int = 0
    _seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.extra_labels:
            self.pattern = _label_pattern(DEFAULT_LABELS + self.extra_labels)
            self.opening = _any_of(_VIDEO_PATTERN, self.pattern, _MARKER_PATTERN, _NOISE_START)
            self.trailing = _trailing_label_pattern(DEFAULT_LABELS + self.extra_labels)
        else:
            self.pattern, self.opening = _DEFAULT_PATTERN, _DEFAULT_OPENING
            self.trailing = _DEFAULT_TRAILING

    # ---- detection -------------------------------------------------------------------------

    def _match(self, text: str) -> tuple[re.Match[str] | None, str]:
        """(label match, its kind: "video", "label" or "marker")"""
        video = _VIDEO_PATTERN.match(text)
        if video:
            return video, "video"
        label = self.pattern.match(text)
        if label:
            return label, "label"
        return _MARKER_PATTERN.match(text), "marker"

    def _is_promo(self, text: str, link_chars: int, links: int) -> bool | None:
        """True: promo. False: not. None: a bare label (decided by what follows it)."""
        match, kind = self._match(text)
        if match is None:
            return False
        rest = text[match.end():].strip(QUOTES + " :>»–—-")
        if kind == "marker":
            return bool(rest) and links > 0 and link_chars >= 0.8 * len(rest)
        if not rest:
            return None
        if len(rest) > _MAX_PROMO_CHARS:
            return False
        if kind == "video":
            return len(rest) <= 300 or link_chars >= 0.5 * len(rest)
        if links:
            # the rest is the linked headline(s), perhaps with a date or a closing quote
            return link_chars >= 0.5 * len(rest)
        quoted = text.lstrip()[:1] in QUOTES and text.rstrip()[-1:] in QUOTES
        # the seed's text form: “Baca Juga: Headline“ with no link at all
        return bool(match.group("sep") or quoted) and len(rest) <= 200 and rest.count(". ") < 2

    # ---- the pass --------------------------------------------------------------------------

    def strip(self, root: HtmlElement) -> None:
        hits: list[tuple[str, HtmlElement]] = []
        opening = self.opening
        for el in root.iter(Element):  # elements only: comments are skipped in C
            text = el.text
            if text and not text.isspace():
                if "[Gambas" in text:
                    el.text = text = _GAMBAS.sub("", text)
                if opening.match(text) and (self._match(text)[0] or _NOISE_START.match(text)):
                    hits.append(("text", el))
                elif len(text) < 80 and _NOISE_EXACT.fullmatch(text):
                    hits.append(("noise", el))
                elif len(el) and el[0].tag == "a" and self._label_before(text):
                    hits.append(("text-label", el))
            tail = el.tail
            if tail and not tail.isspace():
                if "[Gambas" in tail:
                    el.tail = tail = _GAMBAS.sub("", tail)
                if ((el.tag == "br" or el.tag in BLOCK_TAGS) and opening.match(tail)
                        and self._match(tail)[0]):
                    hits.append(("tail", el))
                else:
                    following = el.getnext()
                    if (following is not None and following.tag == "a"
                            and self._label_before(tail)):
                        hits.append(("tail-label", el))
        for kind, el in hits:
            if not _attached(el, root):
                continue
            if kind == "text":
                self._strip_from_element(el)
            elif kind == "tail":
                self._strip_line(el, el.tail or "", list(_line_after(el)))
            elif kind == "text-label":
                self._strip_text_label(el, None)
            elif kind == "tail-label":
                self._strip_text_label(el.getparent(), el)
            else:
                self._strip_noise(el)
        # XPath narrows to the few candidate links in C; the regex then confirms each
        shares = [a for a in _SHARE_CANDIDATES(root) if _SHARE_HREF.search(a.get("href", ""))]
        for link in shares:
            if _attached(link, root):
                self._strip_share(link)

    def _strip_from_element(self, el: HtmlElement) -> None:
        chain = [el]
        while True:
            parent = chain[-1].getparent()
            if parent is None or parent.tag in _STOP_TAGS or not _opens(parent, chain[-1]):
                break
            chain.append(parent)
        best: HtmlElement | None = None
        bare: HtmlElement | None = None
        noise = False
        for candidate in chain:
            text = _text(candidate)
            if len(text) > 3 * _MAX_PROMO_CHARS:
                break
            if _NOISE_START.match(text):
                if len(text) <= 300:
                    best, noise = candidate, True
                continue
            verdict = self._is_promo(text, *_link_stats(candidate.iter("a")))
            if verdict:
                best, noise = candidate, False
            elif verdict is None or (len(text) <= 150 and (text.endswith(":")
                                                          or candidate.tag in _HEADINGS)):
                # a bare label, or a labelled heading ("Mehr zum Thema finden Sie hier:",
                # <h3>Mehr zum Thema auf X</h3>): a promo when a list of links follows it
                bare = candidate
        if best is not None:
            self._drop(best, collect=not noise)
            return
        if bare is None:
            return
        # a bare label: "<b>Baca juga:</b> <a>..</a><br>" on a line, or a heading over a list
        if bare.tag not in BLOCK_TAGS and _line_start(bare):
            nodes = [bare, *_line_after(bare)]
            self._strip_line(None, "", nodes)
            return
        if bare.tag not in BLOCK_TAGS:
            self._strip_inline(bare)
            return
        follower = bare.getnext()
        if follower is not None and follower.tag in BLOCK_TAGS:
            text = _text(follower)
            link_chars, links = _link_stats(follower.iter("a"))
            if links and len(text) <= 2 * _MAX_PROMO_CHARS and link_chars >= 0.7 * len(text):
                self._drop(bare, collect=False)
                self._drop(follower, collect=True)

    def _strip_inline(self, label: HtmlElement) -> None:
        """"... ada promo. <b>Baca juga:</b> <a>Judul</a> dan kalimat berikutnya" inside a
        paragraph: the label and the linked headline go, the sentences around them stay. Only
        a label set apart in an element of its own, with a separator, and followed by nothing
        but the link: "yang <b>baca juga</b> <a>label harga</a>" is prose."""
        between = label.tail or ""
        match, _kind = self._match(_text(label))
        if match is None or not (match.group("sep") or between.strip().startswith(":")):
            return
        if between.strip(QUOTES + " :>»–—-"):
            return
        holder = label.getnext()
        if holder is None:
            return
        link = holder if holder.tag == "a" else next(holder.iter("a"), None)
        if link is None or link.get("href") is None or _text(holder) != _text(link):
            return
        if not _text(link) or len(_text(link)) > 300:
            return
        self._collect([link])
        previous = label.getprevious()
        before = (previous.tail if previous is not None else label.getparent().text) or ""
        holder.tail = _after_promo(before, holder.tail or "")
        label.tail = " "
        label.drop_tree()
        holder.drop_tree()  # its tail, the rest of the sentence, stays in place
        self.removed += 1

    def _label_before(self, text: str) -> re.Match[str] | None:
        """A label with its separator closing ``text``, looked for in its last
        ``_TRAILING_WINDOW`` characters. Searched from a position, not in a slice: "^" then
        matches only at the text's real start and the look-behind sees the characters before
        the window, so a label cut out of mid-sentence by the window's edge is no label."""
        return self.trailing.search(text, max(0, len(text) - _TRAILING_WINDOW))

    def _strip_text_label(self, parent: HtmlElement | None, before: HtmlElement | None) -> None:
        """"... kembali lancar. Baca Juga: <a>Judul</a> Pedagang ..." with the label as plain
        text, not an element of its own: the label and the linked headline go, the sentences
        around them stay. The label must close its run of text after a sentence's end, with a
        separator, and the link must be a headline, not a word of the sentence."""
        if parent is None:
            return
        chunk = (before.tail if before is not None else parent.text) or ""
        link = before.getnext() if before is not None else (parent[0] if len(parent) else None)
        if link is None or link.tag != "a" or link.get("href") is None:
            return
        title = _text(link)
        if not title or len(title) > 300 or " " not in title:
            return
        match = self._label_before(chunk)
        if match is None:
            return
        following = (link.tail or "").lstrip()
        if following[:1].islower():
            return  # the link goes on the sentence ("See also: <a>the table</a> which lists")
        self._collect([link])
        kept = chunk[:match.start()].rstrip()
        rest = _after_promo(kept, link.tail or "")
        if kept and rest and not rest[:1].isspace():
            rest = " " + rest
        if before is not None:
            before.tail = kept
        else:
            parent.text = kept
        link.tail = rest
        link.drop_tree()  # its tail, the rest of the paragraph, stays in place
        self.removed += 1

    def _strip_line(self, owner: HtmlElement | None, lead: str, nodes: list[HtmlElement]) -> None:
        """A line between <br>s: ``lead`` (the tail of ``owner``) plus the inline ``nodes``."""
        parts = [lead]
        for node in nodes:
            parts.append(" " + _text(node) + " ")
            parts.append(node.tail or "")
        text = _norm("".join(parts))
        links = [a for node in nodes for a in node.iter("a")]
        if not self._is_promo(text, *_link_stats(links)):
            return
        self._collect(links)
        closing = nodes[-1].getnext() if nodes else (owner.getnext() if owner is not None else None)
        for node in nodes:
            node.getparent().remove(node)  # their tails go too: they are part of the line
        if owner is not None:
            owner.tail = None
        if closing is not None and closing.tag == "br":
            closing.drop_tree()  # its tail (the next line) moves up to where the promo was
        self.removed += 1

    def _strip_noise(self, el: HtmlElement) -> None:
        target = el
        while True:
            parent = target.getparent()
            if (parent is None or parent.tag in _STOP_TAGS
                    or _norm(parent.text_content()) != _norm(el.text_content())):
                break
            target = parent
        self._drop(target, collect=False)

    def _strip_share(self, link: HtmlElement) -> None:
        target = link
        while True:
            parent = target.getparent()
            if (parent is None or parent.tag in _STOP_TAGS
                    or len(_norm(parent.text_content())) > 120):
                break
            target = parent
        if target.tag in BLOCK_TAGS or target is link:
            self._drop(target, collect=False)

    # ---- removal ---------------------------------------------------------------------------

    def _drop(self, el: HtmlElement, *, collect: bool) -> None:
        if collect:
            self._collect(el.iter("a"))
        if (collect and el.tag in BLOCK_TAGS and el.getparent() is not None
                and not (el.tail or "").strip()):
            # A block keeps a stand-in: without it a body of one prose block and one promo
            # block becomes a container of one child, and trafilatura then widens its search
            # to a wrapper holding the page's footer. Its text goes from the extracted text.
            # (Not with text in its tail: trafilatura may lose a block's tail, drop_tree not.)
            stand_in = el.makeelement(el.tag)
            stand_in.text = PLACEHOLDER
            stand_in.tail = el.tail
            el.getparent().replace(el, stand_in)
        else:
            el.drop_tree()  # keeps the tail text in place
        self.removed += 1

    def _collect(self, links: Iterable[HtmlElement]) -> None:
        for a in links:
            href = (a.get("href") or "").strip()
            if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
                continue
            title = _norm(a.text_content()) or _norm(a.get("title"))
            inner, _video = self._match(title)
            if inner is not None:
                # "<a>Read more about sharing</a>" is a button, "<a>Baca juga: X</a>" a headline
                if not inner.group("sep"):
                    continue
                title = title[inner.end():]
            if not title:
                img = a.find(".//img")
                title = _norm(img.get("alt")) if img is not None else ""
            if not title:
                continue
            url = urljoin(self.base_url, href) if self.base_url else href
            if url in self._seen:
                continue
            self._seen.add(url)
            self.related.append(RelatedLink(title=title.strip(QUOTES + " "), url=url))


def _after_promo(before: str, rest: str) -> str:
    """The text after a promo cut out of a sentence, without the promo's own full stop when
    the sentence before it had one already."""
    if before.rstrip()[-1:] in ".!?" and rest.lstrip()[:1] in ".,;":
        return rest.lstrip()[1:]
    return rest


def _link_stats(links: Iterable[HtmlElement]) -> tuple[int, int]:
    chars = count = 0
    for a in links:
        if a.get("href") is None:
            continue
        count += 1
        chars += len(_text(a))
    return chars, count


def _opens(parent: HtmlElement, child: HtmlElement) -> bool:
    """Does ``child`` open ``parent``'s content (no text or element before it)?"""
    if parent.text and not parent.text.isspace():
        return False
    for first in parent:
        if isinstance(first.tag, str):
            return first is child
    return False


def _line_start(el: HtmlElement) -> bool:
    previous = el.getprevious()
    if previous is None:
        parent = el.getparent()
        return parent is not None and not (parent.text and parent.text.strip())
    if previous.tail and previous.tail.strip():
        return False
    return previous.tag == "br" or previous.tag in BLOCK_TAGS


def _line_after(el: HtmlElement) -> Iterator[HtmlElement]:
    """Inline siblings after ``el`` up to the next <br> or block."""
    node = el.getnext()
    while node is not None and node.tag != "br" and node.tag not in BLOCK_TAGS:
        yield node
        node = node.getnext()


def _attached(el: HtmlElement, root: HtmlElement) -> bool:
    """Still under ``root``, i.e. not inside a subtree an earlier hit removed."""
    return el is root or any(ancestor is root for ancestor in el.iterancestors())


def drop_placeholders(text: str) -> str:
    """The text without the lines standing in for promo blocks."""
    if PLACEHOLDER not in text:
        return text
    kept = []
    for line in text.split("\n"):
        if PLACEHOLDER in line:
            line = line.replace(PLACEHOLDER, "").rstrip()
            if not _WORD.search(line):
                continue  # a stand-in's own line, maybe with a list dash or table bars
        kept.append(line)
    return "\n".join(kept).strip()


def strip_promos(root: HtmlElement, base_url: str | None,
                 extra_labels: tuple[str, ...] = ()) -> list[RelatedLink]:
    """Remove promos and noise under ``root`` in place; return the promo links in order."""
    stripper = PromoStripper(base_url, extra_labels)
    stripper.strip(root)
    return stripper.related
