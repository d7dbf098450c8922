"""Article extraction: promo stripping on the DOM, trafilatura for the body, our own metadata.

No Scrapy imports here: this runs in worker processes and in ``arsip extract``.

Decisions worth knowing:

- The page is parsed once (trafilatura's own loader, so its heuristics see the tree they expect);
  promo stripping and site rules edit that tree, trafilatura then extracts from it.
- The body: trafilatura's fast path, checked; when its answer is short, a small part of the
  page's paragraph text, reads like navigation, or lost the subheadings between its paragraphs,
  trafilatura's full comparison (readability, jusText) runs on a fresh tree and the better
  candidate wins (``maintext.py``).
- Promos are recognised by general rules (label + separator or link, short or link-dominated
  rest) in ``promos.py``; their links become ``ArticleRecord.related``, absolute, in order,
  deduplicated. Ad labels, share bars, tag lines and "[Gambas:...]" go without a trace.
- Trailing credit lines ("Editor: X", "Pewarta: X") leave the text; they name the author only
  when JSON-LD, meta tags and bylines do not (reporters first, editors last).
- Dates: JSON-LD, then meta tags, then ``<time>`` and printed dates ("14:05 WIB" is +07:00). A
  naive time takes the zone the page states elsewhere; with no such hint it stays naive.
- ``decode_html``: BOM, then the HTTP charset, then ``<meta>``, then detection (w3lib; a BOM
  cannot lie, a header can).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Loaded on first use: the crawl process imports ``crawler.extraction.worker`` to hand pages to
# its workers, and must not pay for trafilatura, which only the workers run.
_EXPORTS = {
    "article_to_dict": "crawler.extraction.article",
    "extract_article": "crawler.extraction.article",
    "decode_html": "crawler.extraction.document",
    "iter_extract_paths": "crawler.extraction.files",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
