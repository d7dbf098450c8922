"""Development sets for the extraction quality bench: public pages with ground truth, converted
into one layout (the Article Extraction Benchmark's own, so ../shared/benchmarks/aeb is a set as
it stands).

A set is a folder::

    SET/ground-truth.json   {id: {"url": ..., "publisher": ..., and either
                                  "articleBody": "the true text"          (full ground truth)
                                  or "with": [...], "without": [...]}}    (snippets, see below)
    SET/html/<id>.html.gz   the page as published

"with"/"without" are text snippets that must / must not appear in the output (trafilatura's own
evaluation corpus is annotated that way); everything else has the whole body.

Building the sets (the sources are public repositories; nothing here needs the network itself)::

    git clone https://github.com/flairNLP/fundus SRC/fundus
    git clone https://github.com/adbar/trafilatura SRC/trafilatura
    git clone https://github.com/AndyTheFactory/newspaper4k SRC/newspaper4k
    git clone https://github.com/hafizbadrie/slasherrb SRC/slasherrb
    git -C SRC/slasherrb checkout 9f36a97     # its Indonesian cases were removed later
    python bench/devsets.py fundus SRC/fundus OUT/fundus
    python bench/devsets.py trafilatura SRC/trafilatura OUT/trafilatura
    python bench/devsets.py newspaper4k SRC/newspaper4k OUT/newspaper4k
    python bench/devsets.py indonesian SRC/slasherrb SRC/fundus OUT/indonesian

Any clone serves, a local mirror too (``git clone MIRROR/fundus.git SRC/fundus``): the
converters read the checkout's files and nothing else.

- fundus: ``tests/resources/parser/test_data``, one or more pages per publisher (about 200
  publishers, 40 countries), each with the body its hand-written parser must return (summary,
  sub-headlines and paragraphs, in order). Pages pair with the parser versions by date.
- trafilatura: ``tests/evaldata.json`` and ``tests/eval|cache``: some 990 pages of news, blogs
  and institutional sites in many languages, annotated with snippets.
- newspaper4k: ``tests/data/{html,txt,metadata}``: pages with the text that library's
  regression tests expect (an extractor's output, checked by hand, not a human annotation).
- indonesian: slasherrb's ``spec/cases`` (ten Indonesian newsrooms of 2015: detik, kompas,
  liputan6, merdeka, okezone, suara, tribunnews, viva, the Jakarta Post and Globe, each page
  with its hand-cut body) plus fundus's Indonesian publishers.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import lxml.etree
import lxml.html


@dataclass(frozen=True)
class Page:
    """One page of a set: its HTML and what the extractor should return."""

    id: str
    html: bytes
    url: str
    publisher: str
    body: str | None = None
    with_: tuple[str, ...] = ()
    without: tuple[str, ...] = ()


class DevSetError(Exception):
    """A source folder that is not what the converter expects."""


def publisher_of(url: str) -> str:
    host = urlsplit(url).hostname or "?"
    return host.removeprefix("www.")


# ---- reading a set ------------------------------------------------------------------------

def load_set(root: Path) -> list[Page]:
    """Every page of a set folder, in id order."""
    truth_file = root / "ground-truth.json"
    if not truth_file.is_file():
        raise DevSetError(f"{root}: no ground-truth.json")
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth):
        path = root / "html" / f"{page_id}.html.gz"
        if not path.is_file():
            continue
        entry = truth[page_id]
        url = entry.get("url") or ""
        pages.append(Page(
            id=page_id, html=gzip.decompress(path.read_bytes()), url=url,
            publisher=entry.get("publisher") or publisher_of(url),
            body=entry.get("articleBody"), with_=tuple(entry.get("with", ())),
            without=tuple(entry.get("without", ())),
        ))
    return pages


def find_sets(paths: list[str]) -> Iterator[Path]:
    """Each path that is a set, or the sets one level below a folder of sets."""
    for given in paths:
        root = Path(given)
        if (root / "ground-truth.json").is_file():
            yield root
            continue
        subsets = sorted(p for p in root.glob("*") if (p / "ground-truth.json").is_file())
        if not subsets:
            raise DevSetError(f"{given}: neither a set nor a folder of sets")
        yield from subsets


# ---- page kinds ---------------------------------------------------------------------------

# A page whose layout is a table: most of its body text sits in table cells (the 2008-style
# page, where <table> places the menu, the article and the sidebar). A data table inside an
# article holds a small part of the page's text.
TABLE_LAYOUT_SHARE = 0.5


def uses_table_layout(html: bytes) -> bool:
    """Whether most of the page's body text (scripts and styles aside) is inside <td>s."""
    try:
        tree = lxml.html.fromstring(html)
    except lxml.etree.ParserError:  # an empty document
        return False
    body = tree.find(".//body")
    if body is None:
        return False
    for code in body.xpath(".//script | .//style | .//noscript"):
        code.drop_tree()
    total = len("".join(body.text_content().split()))
    in_cells = sum(len("".join(td.text_content().split()))
                   for td in body.xpath(".//td[not(ancestor::td)]"))
    return bool(total) and in_cells >= TABLE_LAYOUT_SHARE * total


# ---- writing a set ------------------------------------------------------------------------

def write_set(out: Path, pages: list[Page]) -> None:
    (out / "html").mkdir(parents=True, exist_ok=True)
    truth: dict[str, dict[str, object]] = {}
    for page in pages:
        entry: dict[str, object] = {"url": page.url, "publisher": page.publisher}
        if page.body is not None:
            entry["articleBody"] = page.body
        else:
            entry["with"], entry["without"] = list(page.with_), list(page.without)
        truth[page.id] = entry
        (out / "html" / f"{page.id}.html.gz").write_bytes(gzip.compress(page.html, mtime=0))
    (out / "ground-truth.json").write_text(
        json.dumps(truth, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")


# ---- converters ---------------------------------------------------------------------------

def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", name))


def _fundus_body(body: dict[str, list]) -> str:
    parts = list(body.get("summary") or [])
    for section in body.get("sections") or []:
        parts.extend(section.get("headline") or [])
        parts.extend(section.get("paragraphs") or [])
    return "\n".join(p.strip() for p in parts if p and p.strip())


def from_fundus(src: Path, countries: set[str] | None = None) -> list[Page]:
    data = src / "tests" / "resources" / "parser" / "test_data"
    if not data.is_dir():
        raise DevSetError(f"{src}: no tests/resources/parser/test_data (a fundus checkout?)")
    pages = []
    for case in sorted(data.glob("*/*.json")):
        country, publisher = case.parent.name, case.stem
        if countries is not None and country not in countries:
            continue
        meta = json.loads((case.parent / "meta.info").read_text(encoding="utf-8"))
        versions = json.loads(case.read_text(encoding="utf-8"))
        # one page per parser version; both orders are chronological
        files = sorted(case.parent.glob(f"{publisher}_*.html.gz"))
        for version, html_file in zip(sorted(versions, key=_version_key), files, strict=False):
            body = _fundus_body(versions[version].get("body") or {})
            if not body:
                continue
            pages.append(Page(
                id=html_file.name.removesuffix(".html.gz"),
                html=gzip.decompress(html_file.read_bytes()),
                url=meta.get(html_file.name, {}).get("url", ""),
                publisher=f"{country}/{publisher}", body=body,
            ))
    return pages


def from_trafilatura(src: Path) -> list[Page]:
    tests = src / "tests"
    if not (tests / "evaldata.json").is_file():
        raise DevSetError(f"{src}: no tests/evaldata.json (a trafilatura checkout?)")
    evaldata = json.loads((tests / "evaldata.json").read_text(encoding="utf-8"))
    pages = []
    for url, item in sorted(evaldata.items()):
        path = next((tests / sub / item["file"] for sub in ("cache", "eval")
                     if (tests / sub / item["file"]).is_file()), None)
        if path is None:
            continue
        page_id = re.sub(r"[^\w.-]", "_", item["file"]).removesuffix(".html")
        pages.append(Page(id=page_id, html=path.read_bytes(), url=url,
                          publisher=publisher_of(url), with_=tuple(item["with"]),
                          without=tuple(item["without"])))
    return pages


def from_newspaper4k(src: Path) -> list[Page]:
    data = src / "tests" / "data"
    if not (data / "txt").is_dir():
        raise DevSetError(f"{src}: no tests/data/txt (a newspaper4k checkout?)")
    pages = []
    for meta_file in sorted((data / "metadata").glob("*.json")):
        name = meta_file.stem
        html, txt = data / "html" / f"{name}.html", data / "txt" / f"{name}.txt"
        if not (html.is_file() and txt.is_file()):
            continue
        url = json.loads(meta_file.read_text(encoding="utf-8")).get("url") or ""
        pages.append(Page(id=name, html=html.read_bytes(), url=url, publisher=publisher_of(url),
                          body=txt.read_text(encoding="utf-8").strip()))
    return pages


_CANONICAL = re.compile(rb'<link[^>]+rel="canonical"[^>]+href="([^"]+)"', re.IGNORECASE)
_OG_URL = re.compile(rb'property="og:url"\s+content="([^"]+)"', re.IGNORECASE)


def from_slasherrb(src: Path) -> list[Page]:
    cases = src / "spec" / "cases"
    if not cases.is_dir():
        raise DevSetError(f"{src}: no spec/cases (slasherrb at commit 9f36a97?)")
    pages = []
    for expectation in sorted(cases.glob("*_expectation.txt")):
        name = expectation.name.removesuffix("_expectation.txt")
        html = (cases / f"{name}.html").read_bytes()
        found = _CANONICAL.search(html) or _OG_URL.search(html)
        url = found.group(1).decode() if found else ""
        pages.append(Page(id=f"slasherrb_{name}", html=html, url=url,
                          publisher=publisher_of(url) if url else name,
                          body=expectation.read_text(encoding="utf-8").strip()))
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("fundus", "trafilatura", "newspaper4k", "indonesian"))
    parser.add_argument("sources", nargs="+", type=Path,
                        help="source checkout(s), then the output folder")
    args = parser.parse_args(argv)
    *sources, out = args.sources
    if not sources:
        parser.error("give the source checkout(s) and then the output folder")
    try:
        if args.kind == "fundus":
            pages = from_fundus(sources[0])
        elif args.kind == "trafilatura":
            pages = from_trafilatura(sources[0])
        elif args.kind == "newspaper4k":
            pages = from_newspaper4k(sources[0])
        else:
            pages = from_slasherrb(sources[0])
            if len(sources) > 1:
                pages += from_fundus(sources[1], countries={"id"})
    except DevSetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_set(out, pages)
    print(f"{out}: {len(pages)} pages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
