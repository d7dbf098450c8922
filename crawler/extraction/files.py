"""Reading pages from files, folders (recursively, gzip too) and stdin."""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from crawler.errors import ExtractionError, NotHTMLError, UsageError
from crawler.extraction.article import extract_article
from crawler.sites import ExtractionRules
from storage.records import ArticleRecord

SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz")


def _is_page(path: Path) -> bool:
    return path.name.lower().endswith(SUFFIXES)


def expand_paths(paths: Sequence[str]) -> Iterator[str]:
    """Each path as given; folders become their pages, sorted, recursively."""
    for given in paths:
        path = Path(given)
        if given == "-" or path.is_file():
            yield given
        elif path.is_dir():
            pages = [str(p) for p in sorted(path.rglob("*")) if p.is_file() and _is_page(p)]
            if not pages:
                raise UsageError(f"no .html or .htm files in {given}")
            yield from pages
        else:
            raise UsageError(f"no such file or folder: {given}")


def read_page(source: str) -> bytes:
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise ExtractionError(f"cannot read the file: {exc.strerror or exc}") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise NotHTMLError(f"broken gzip file: {exc}") from None
    return data


def iter_extract_paths(paths: Sequence[str], url: str | None = None,
                       rules: ExtractionRules | None = None,
                       ) -> Iterator[tuple[str, ArticleRecord | ExtractionError]]:
    """(source, record or the error) for every page; one bad page does not stop the rest."""
    for source in expand_paths(paths):
        try:
            yield source, extract_article(read_page(source), url, rules=rules)
        except ExtractionError as exc:
            yield source, exc
