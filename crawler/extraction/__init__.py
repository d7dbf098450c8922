"""Article extraction: promo stripping on the DOM, trafilatura for the body, our own metadata.

No Scrapy imports here: this runs in worker processes and in ``arsip extract``.

Decisions worth knowing:

- The page is parsed once (trafilatura's own loader, so its heuristics see the tree they expect);
  promo stripping and site rules edit that tree, trafilatura then extracts from it.
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

from crawler.extraction.article import article_to_dict, extract_article
from crawler.extraction.document import decode_html
from crawler.extraction.files import iter_extract_paths

__all__ = ["article_to_dict", "decode_html", "extract_article", "iter_extract_paths"]
