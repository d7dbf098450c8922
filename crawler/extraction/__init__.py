"""Article extraction: promo stripping on the DOM, trafilatura for the body, our own metadata.

No Scrapy imports here: this runs in worker processes and in ``arsip extract``.
"""

from __future__ import annotations

from crawler.extraction.article import article_to_dict, extract_article
from crawler.extraction.document import decode_html
from crawler.extraction.files import iter_extract_paths

__all__ = ["article_to_dict", "decode_html", "extract_article", "iter_extract_paths"]
