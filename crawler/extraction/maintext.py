"""The article's main text: trafilatura's fast path, and its full comparison when that looks wrong.

The fast path (``fast=True``, page furniture dropped beforehand) is right on most news pages and
a third cheaper, but with trafilatura's fallback extractors off it has nothing to fall back on:
on some layouts it returns the site's menu, a sidebar, or only the standfirst. So its answer is
checked: when it is short, holds a small part of the page's paragraph text, reads like
navigation (most lines short and the text of links, a list of linked headlines, or a long run of
short items with hardly a sentence), or kept the paragraphs of an article but none of the
subheadings between them (trafilatura's fallback on the page's bare paragraphs), the page is
extracted again the way plain ``trafilatura.extract`` does it (readability and jusText
compared, no furniture trimmed) from a fresh tree, and the better candidate wins. The fast
answer stays whenever it passes, so what the fast path gains on pages it reads right is kept.

Either way, a list of linked headlines that closes the text ("More from ...", related stories
with their teasers) is cut off: it is the site's, not the article's.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from copy import copy
from functools import cache

import trafilatura
from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura.settings import Extractor

from crawler.extraction.promos import drop_placeholders

# Shorter than this, a fast-path answer is checked against the full extraction. Chosen on the
# development sets of bench/extract_quality.py: news bodies below it are rare, while a fast
# path that kept only a standfirst, a caption or a teaser lands below it.
SHORT_TEXT = 700
_SHORT_LINE = 40
# This many lines or more, mostly short and hardly one ending a sentence, is a list of items (a
# calendar, categories), not an article: fewer could be a short recipe's ingredients.
_ITEMS = 10
_SENTENCE_END = re.compile(r"[.!?…。:;][\"'”’»)\]]*$")
# Longer than this, a line is prose, not a headline.
_HEADLINE = 150
# Up to this length, a fast-path answer holding less than this share of the text of the page's
# <p> elements (after promo stripping) is checked too: it kept one block of a longer article.
_PART_CHECK = 2000
_PART = 0.2
# A line longer than this is a wall of text, not a paragraph: what trafilatura's last-resort
# fallback returns (a JSON-LD articleBody with its markup, or the whole page run together) when
# its main extractor found too little.
_WALL = 3000
# On such a page and on a table layout, the full comparison's answer wins unless it is shorter
# than this share of the fast one.
_ABOUT_AS_LONG = 0.9

# Subheadings: headings that share a parent with paragraphs. A paragraph this long beside one,
# found in the fast answer, places the heading in the article that answer holds.
_SUBHEADINGS = XPath(".//h2[../p] | .//h3[../p] | .//h4[../p]")
_KEPT_PARAGRAPH = 100

# A run of text this long outside any <p> is a paragraph set in another element.
_PROSE_RUN = 150
# (the length test in XPath keeps the many short runs, menus and labels, out of Python)
_LOOSE_RUNS = XPath(f".//text()[string-length(.) >= {_PROSE_RUN}][not(ancestor::p)]")

# What trafilatura deletes, subtree and all, both before it extracts and before it measures
# the page's text (tree_cleaning and BASIC_CLEAN_XPATH): gone before its several copies of the
# tree are made. (Not <template>: extraction keeps its content, declarative shadow DOM.)
_FURNITURE = XPath(".//aside | .//footer | .//svg | .//fencedframe")


class LinkTexts:
    """The texts of a tree's links, gathered on first use and then kept: the navigation check
    and the trailing-headline cut both ask, and one walk over the page's links serves both."""

    def __init__(self, tree: HtmlElement) -> None:
        self._tree = tree
        self._all: frozenset[str] | None = None
        self._headlines: tuple[str, ...] | None = None

    @property
    def all(self) -> frozenset[str]:
        """Every link's text, whitespace collapsed."""
        if self._all is None:
            self._all = self._gather()
        return self._all

    def _gather(self) -> frozenset[str]:
        return frozenset(" ".join(a.text_content().split()) for a in self._tree.iter("a"))

    @property
    def headlines(self) -> tuple[str, ...]:
        """Link texts long enough to be a headline (15+ characters, more than one word)."""
        if self._headlines is None:
            self._headlines = tuple(t for t in self.all if len(t) >= 15 and " " in t)
        return self._headlines

    def headline_line(self, line: str) -> bool:
        """A list item that opens with the text of a headline-sized link ("- <a>Headline</a>
        teaser"), or a line that is such a link's text and nothing else."""
        if line.startswith("- "):
            item = line[2:].strip()
            return any(item.startswith(t) for t in self.headlines if len(t) <= len(item))
        line = line.strip()
        # the length test first: a closing line of prose needs no walk over the page's links
        return 15 <= len(line) <= _HEADLINE and " " in line and line in self.all


def drop_trailing_headlines(text: str, links: LinkTexts) -> str:
    """A list of linked headlines closing the text ("- <a>Pochettino fired</a> Teaser ...",
    "More stories") is the site's, not the article's: three or more final lines that each
    open with the text of a link (list items, or headlines set as paragraphs) go, with a short
    heading just above them. A list split in two by such a short line (a stray date, a
    section label) goes whole: the cut is repeated while another list closes what is left."""
    lines = text.split("\n")
    end = len(lines)
    while True:
        start = end
        while start and links.headline_line(lines[start - 1]):
            start -= 1
        if end - start < 3 or start == 0:
            break
        heading = lines[start - 1].strip()
        if start > 1 and len(heading) <= 50 and (heading[-1:] not in ".!?\"'”’»)"
                                                 or heading.endswith(("...", "…"))):
            start -= 1
        end = start
    return text if end == len(lines) else "\n".join(lines[:end]).rstrip()


def main_text(tree: HtmlElement, body: HtmlElement, url: str | None,
              fresh_tree: Callable[[], HtmlElement]) -> str | None:
    """The body text of a prepared tree (promos already stripped). ``fresh_tree`` prepares the
    page again, untouched by the fast path, for the full extraction when it is needed."""
    for el in _FURNITURE(body):
        if el.getparent() is not None:
            el.drop_tree()  # its tail, page text, stays
    fast = _extract(tree, url, fast=True)
    links = LinkTexts(tree)
    odd_layout = bool(fast) and (_wall(fast) or _tabular(body))
    lost: tuple[str, ...] = ()
    if (fast and not odd_layout and not _short(fast, body)
            and not looks_like_navigation(fast, links)):
        lost = lost_subheadings(fast, body)
        if not lost:
            return drop_trailing_headlines(fast, links)
    second = fresh_tree()
    full = _extract(second, url, fast=False)
    second_links = LinkTexts(second)
    if lost and full and _restores(full, lost) and not _wall(full) and not looks_like_navigation(
            full, second_links):
        # the fast path fell back on the page's bare paragraphs; the comparison found the
        # article with its structure
        text: str | None = full
    else:
        text = _better(fast, links, full, second_links, odd_layout=odd_layout)
    return drop_trailing_headlines(text, second_links) if text else text


def lost_subheadings(text: str, body: HtmlElement) -> tuple[str, ...]:
    """The subheadings of the article the fast answer holds, when it kept none of them: the
    <h2>-<h4> beside a paragraph of that answer. trafilatura's fast path, when its main
    extractor finds no body, falls back on the page's bare paragraphs and loses the headings
    and lists between them; its full comparison does not."""
    lines: set[str] | None = None
    beside: list[str] = []
    for heading in _SUBHEADINGS(body):
        title = " ".join(heading.text_content().split())
        if not title:
            continue
        if lines is None:
            lines = {" ".join(line.split()) for line in text.splitlines()}
        if title in lines:
            return ()  # the answer has the article's structure
        parent = heading.getparent()
        if any(len(prose) >= _KEPT_PARAGRAPH and prose in lines
               for prose in (" ".join(p.text_content().split()) for p in parent.iterchildren("p"))):
            beside.append(title)
    return tuple(beside)


def _restores(text: str, headings: tuple[str, ...]) -> bool:
    lines = {" ".join(line.split()) for line in text.splitlines()}
    return any(title in lines for title in headings)


def _short(text: str, body: HtmlElement) -> bool:
    """Short, or a small part of the prose the page holds: the text of its <p> elements, and
    the long runs of text outside them (a site that sets its paragraphs as <div>s)."""
    if len(text) < SHORT_TEXT:
        return True
    if len(text) >= _PART_CHECK:
        return False
    paragraphs = sum(len(" ".join(" ".join(p.itertext()).split())) for p in body.iter("p"))
    if len(text) < _PART * paragraphs:
        return True
    loose = sum(len(run) for run in _LOOSE_RUNS(body) if len(run.strip()) >= _PROSE_RUN)
    return len(text) < _PART * (paragraphs + loose)


def _wall(text: str) -> bool:
    """A line too long to be a paragraph (see ``_WALL``)."""
    return any(len(line) > _WALL for line in text.split("\n"))


def _tabular(body: HtmlElement) -> bool:
    """A page whose prose is not in paragraphs (a table or <br> layout): no <p> holds text, or
    <table> elements outnumber <p> ones. There the paragraph measure says nothing, and plain
    trafilatura turns to its fallbacks on exactly these structures."""
    paragraphs = body.findall(".//p")
    if not any("".join(p.itertext()).strip() for p in paragraphs):
        return True
    return len(body.findall(".//table")) > len(paragraphs)


def _better(fast: str | None, fast_links: LinkTexts, full: str | None,
            full_links: LinkTexts, *, odd_layout: bool) -> str | None:
    if not full or looks_like_navigation(full, full_links):
        return fast or full
    if not fast or looks_like_navigation(fast, fast_links):
        return full
    if _wall(fast) != _wall(full):
        return full if _wall(fast) else fast  # paragraphs beat a fallback's wall, either way
    if odd_layout and len(full) >= _ABOUT_AS_LONG * len(fast):
        # a layout the fast path is not made for: the comparison's answer, unless the fast
        # one found much more (a few more lines is the fast path's furniture, not the story)
        return full
    # both read as prose and the fast one is short: the fuller one, as trafilatura would
    return full if len(full) > len(fast) else fast


@cache
def _options(fast: bool) -> Extractor:
    """trafilatura's options for one kind of pass, built once: an ``Extractor`` reads its
    numbers from a ConfigParser, which costs a few percent of an extraction when done for each
    page (``_extract`` copies it and sets the page's URL, as trafilatura's own retry does)."""
    return Extractor(output_format="python", comments=False, with_metadata=False, dedup=False,
                     fast=fast)


def fast_text(tree: HtmlElement, url: str | None) -> str | None:
    return _extract(tree, url, fast=True)


def _extract(tree: HtmlElement, url: str | None, *, fast: bool) -> str | None:
    options = copy(_options(fast))
    options.url = options.source = url
    document = trafilatura.bare_extraction(tree, options=options)
    text = getattr(document, "text", None) if document is not None else None
    text = drop_placeholders(text) if text else text
    return unicodedata.normalize("NFC", text).strip() if text else None


def looks_like_navigation(text: str, links: LinkTexts) -> bool:
    """A menu or a list of headlines rather than prose: most lines are the text of a link, or
    most are short and a good share of them are links; or a long run of short items with
    hardly a sentence among them (a calendar, a list of categories), links or not."""
    lines = [_bare(line) for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if line]
    if len(lines) < 3:
        return False
    short = sum(len(line) < _SHORT_LINE for line in lines)
    headline_sized = sum(len(line) < _HEADLINE for line in lines)
    if headline_sized < 0.6 * len(lines) and short < 0.7 * len(lines):
        return False  # mostly long lines: prose, whatever its links (and no link scan needed)
    if (len(lines) >= _ITEMS and short >= 0.7 * len(lines)
            and sum(bool(_SENTENCE_END.search(line)) for line in lines) < 0.1 * len(lines)):
        return True
    linked = sum(line in links.all for line in lines)
    return linked >= 0.6 * len(lines) or (short >= 0.7 * len(lines) and linked >= 0.3 * len(lines))


def _bare(line: str) -> str:
    """A line of the text as the page shows it: whitespace collapsed, without the list dash or
    the table bars trafilatura's text adds ("- Home", "| 1 | 2 |")."""
    line = " ".join(line.split())
    if line.startswith("|"):
        line = " ".join(cell.strip() for cell in line.split("|") if cell.strip())
    return line[2:] if line.startswith("- ") else line
