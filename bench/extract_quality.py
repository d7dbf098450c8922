"""Extraction quality: arsip's extract_article beside plain trafilatura.extract, per set and per
publisher, on any folders of pages with ground truth.

    python bench/extract_quality.py DIR... [--publishers] [--trailing 0.2] [--limit N]

DIR is a set (ground-truth.json + html/<id>.html.gz, the layout of
../shared/benchmarks/aeb) or a folder of sets. bench/devsets.py builds the development sets
from public repositories and says how; they live outside the repository, e.g.::

    python bench/extract_quality.py ../shared/benchmarks/aeb /work/data/devsets

Metric, as the Article Extraction Benchmark defines it (its SOURCE.md): \\w+ tokens with case
kept, multisets of 4-token shingles; per-page precision and recall averaged over the pages of a
set; F1 of the two averages. A set annotated with snippets instead of whole bodies (trafilatura's
evaluation corpus) is scored its own way: a "with" snippet found is a true positive, a "without"
snippet found a false positive, counted over the set; F1 from those counts.

Each set with pages laid out by <table> (most of the body text in table cells, the 2008 style)
gets a second row, "SET [table layout]", scored on those pages alone: a layout no set is made
of, measured wherever it occurs. The row reuses the set's own pass (the same outputs and
timings); no page is extracted twice.

Navigation check ("nav" column, and the pages listed): a page where arsip's output is mostly
navigation while trafilatura's is prose. Over an output's lines holding a word character
(whitespace collapsed, table bars "|" taken off), with the page's link texts (every <a>'s
text, whitespace collapsed):

- linked share: the share of the output's characters in lines that are the whole text of a
  link of the page, or a list item ("- ...") opening with a link text of 15+ characters;
- short share: the share of lines under 40 characters;
- sentence share: the share of lines that end a sentence (., !, ?, … or a closing quote or
  bracket after one).

Output is *navigation* when it has 3+ lines, its sentence share is under 0.3, and its linked
share is at least 0.5 or its short share at least 0.7. Output is *prose* when it is not
navigation, has 200+ characters, and its sentence share is at least 0.5 or its short share
under 0.5. A page is flagged when arsip's output is navigation and trafilatura's is prose; the
target is none on any set.

Both extractors get the page's bytes and URL; plain trafilatura is ``trafilatura.extract`` with
its defaults, the baseline the benchmark's own figure is for. Also printed: ms per page (the two
run alternately, page by page), lines of output that still open with a promo label ("Baca juga",
"Read more", ...), and every page where arsip's F1 trails trafilatura's by more than --trailing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import lxml.etree
import lxml.html
import trafilatura

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from aeb import precision_recall  # noqa: E402
from devsets import DevSetError, Page, find_sets, load_set, uses_table_layout  # noqa: E402

from crawler.errors import ExtractionError  # noqa: E402
from crawler.extraction import extract_article  # noqa: E402
from crawler.extraction.promos import DEFAULT_LABELS, VIDEO_LABELS, _label_pattern  # noqa: E402

NAMES = ("trafilatura", "arsip")
_PROMO_LINE = _label_pattern(DEFAULT_LABELS + VIDEO_LABELS)


def plain(html: bytes, url: str) -> str:
    return trafilatura.extract(html, url=url or None) or ""


def arsip(html: bytes, url: str) -> str:
    try:
        return extract_article(html, url or None).text
    except ExtractionError:
        return ""


EXTRACTORS: dict[str, Callable[[bytes, str], str]] = {"trafilatura": plain, "arsip": arsip}


def _norm(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Score:
    """One extractor's page scores over a group of pages (a set or a publisher)."""

    precisions: list[float] = field(default_factory=list)
    recalls: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=lambda: [0, 0, 0])  # tp, fp, fn of snippets
    snippets: bool = False

    def add(self, page: Page, output: str) -> float:
        """Adds one page; returns its own F1."""
        if page.body is None:
            self.snippets = True
            found = _norm(output)
            tp = sum(_norm(s) in found for s in page.with_)
            fp = sum(_norm(s) in found for s in page.without)
            fn = len(page.with_) - tp
            for i, n in enumerate((tp, fp, fn)):
                self.counts[i] += n
            return _f1(tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0)
        p, r = precision_recall(output, page.body)
        self.precisions.append(p)
        self.recalls.append(r)
        return _f1(p, r)

    def figures(self) -> tuple[float, float, float]:
        if self.snippets:
            tp, fp, fn = self.counts
            p = tp / (tp + fp) if tp + fp else 0.0
            r = tp / (tp + fn) if tp + fn else 0.0
        else:
            p = sum(self.precisions) / len(self.precisions) if self.precisions else 0.0
            r = sum(self.recalls) / len(self.recalls) if self.recalls else 0.0
        return p, r, _f1(p, r)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def promo_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if _PROMO_LINE.match(line))


# ---- the navigation check (see the module docstring) ------------------------------------------

NAV_MIN_LINES = 3
NAV_SHORT_LINE = 40
NAV_LINKED = 0.5
NAV_SHORT = 0.7
NAV_SENTENCES = 0.3
PROSE_MIN_CHARS = 200
PROSE_SENTENCES = 0.5
PROSE_SHORT = 0.5
_SENTENCE_END = re.compile(r"[.!?…。][\"'”’»)\]]*$")
_LIST_LINK = 15
_WORD = re.compile(r"\w")


def page_link_texts(html: bytes) -> frozenset[str]:
    """Every link's text on the page, whitespace collapsed."""
    try:
        tree = lxml.html.fromstring(html)
    except (lxml.etree.ParserError, ValueError):  # an empty document, an odd declaration
        return frozenset()
    return frozenset(t for t in (" ".join(a.text_content().split()) for a in tree.iter("a")) if t)


@dataclass(frozen=True)
class Shape:
    """What an output is made of: the three shares the navigation check reads."""

    lines: int
    chars: int
    linked: float
    short: float
    sentences: float

    @property
    def navigation(self) -> bool:
        return (self.lines >= NAV_MIN_LINES and self.sentences < NAV_SENTENCES
                and (self.linked >= NAV_LINKED or self.short >= NAV_SHORT))

    @property
    def prose(self) -> bool:
        return (not self.navigation and self.chars >= PROSE_MIN_CHARS
                and (self.sentences >= PROSE_SENTENCES or self.short < PROSE_SHORT))


def _bare_line(line: str) -> str:
    """A line without its table bars (trafilatura's "| a | b |" rows), whitespace collapsed."""
    return " ".join(line.strip().strip("|").replace(" | ", " ").split()).strip("| ")


def shape(text: str, links: frozenset[str]) -> Shape:
    lines = [bare for bare in map(_bare_line, text.splitlines()) if _WORD.search(bare)]
    if not lines:
        return Shape(0, 0, 0.0, 0.0, 0.0)
    long_links = [t for t in links if len(t) >= _LIST_LINK]

    def linked(line: str) -> bool:
        if line in links:
            return True
        item = line[2:] if line.startswith("- ") else ""
        return bool(item) and any(item.startswith(t) for t in long_links)

    chars = sum(len(line) for line in lines)
    return Shape(
        lines=len(lines), chars=chars,
        linked=sum(len(line) for line in lines if linked(line)) / chars,
        short=sum(len(line) < NAV_SHORT_LINE for line in lines) / len(lines),
        sentences=sum(bool(_SENTENCE_END.search(line)) for line in lines) / len(lines),
    )


def navigation_instead_of_prose(arsip_text: str, plain_text: str,
                                links: frozenset[str]) -> bool:
    """arsip's output is navigation where trafilatura's is prose."""
    return shape(arsip_text, links).navigation and shape(plain_text, links).prose


@dataclass(frozen=True)
class PageRun:
    """One page extracted by both: the outputs and the seconds each took."""

    page: Page
    outputs: dict[str, str]
    seconds: dict[str, float]


def run_pages(pages: Iterable[Page]) -> list[PageRun]:
    runs = []
    for index, page in enumerate(pages):
        # alternate which runs first, so neither always pays for a cold cache
        order = NAMES if index % 2 == 0 else NAMES[::-1]
        outputs: dict[str, str] = {}
        seconds: dict[str, float] = {}
        for extractor in order:
            started = time.perf_counter()
            outputs[extractor] = EXTRACTORS[extractor](page.html, page.url)
            seconds[extractor] = time.perf_counter() - started
        runs.append(PageRun(page, outputs, seconds))
    return runs


@dataclass
class SetResult:
    name: str
    pages: int = 0
    scores: dict[str, Score] = field(default_factory=lambda: {n: Score() for n in NAMES})
    by_publisher: dict[str, dict[str, Score]] = field(
        default_factory=lambda: defaultdict(lambda: {n: Score() for n in NAMES}))
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(NAMES, 0.0))
    promos: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NAMES, 0))
    trailing: list[tuple[float, str, float, float]] = field(default_factory=list)
    navigation: list[str] = field(default_factory=list)
    per_page: dict[str, dict[str, float]] = field(default_factory=dict)


def score_set(name: str, runs: Iterable[PageRun], trailing: float) -> SetResult:
    result = SetResult(name)
    for run in runs:
        page = run.page
        result.pages += 1
        f1s: dict[str, float] = {}
        for extractor in NAMES:
            output = run.outputs[extractor]
            result.seconds[extractor] += run.seconds[extractor]
            f1s[extractor] = result.scores[extractor].add(page, output)
            result.by_publisher[page.publisher][extractor].add(page, output)
            result.promos[extractor] += promo_lines(output)
        result.per_page[page.id] = f1s
        gap = f1s["trafilatura"] - f1s["arsip"]
        if gap > trailing:
            result.trailing.append((gap, page.id, f1s["trafilatura"], f1s["arsip"]))
        if navigation_instead_of_prose(run.outputs["arsip"], run.outputs["trafilatura"],
                                       page_link_texts(page.html)):
            result.navigation.append(page.id)
    return result


def _row(label: str, scores: dict[str, Score], width: int = 28) -> str:
    cells = []
    for extractor in NAMES:
        p, r, f = scores[extractor].figures()
        cells.append(f"{p:6.3f} {r:6.3f} {f:7.4f}")
    delta = scores["arsip"].figures()[2] - scores["trafilatura"].figures()[2]
    return f"{label[:width]:<{width}} " + "   ".join(cells) + f"  {delta:+8.4f}"


def report(results: list[SetResult], publishers: bool) -> None:
    header = (f"{'set':<28} {'trafilatura P/R/F1':>21}   {'arsip P/R/F1':>21}  {'ΔF1':>8}"
              f"  {'pages':>5} {'ms/page t/a':>12} {'promo lines t/a':>16} {'nav':>4}")
    print(header)
    for result in results:
        ms = {n: 1000 * result.seconds[n] / max(result.pages, 1) for n in NAMES}
        metric = " (snippets)" if result.scores["arsip"].snippets else ""
        print(_row(result.name + metric, result.scores) + f"  {result.pages:>5} "
              f"{ms['trafilatura']:5.1f}/{ms['arsip']:<5.1f} "
              f"{result.promos['trafilatura']:>7}/{result.promos['arsip']:<7} "
              f"{len(result.navigation):>4}")
    for result in results:
        if publishers:
            print(f"\n{result.name}: per publisher")
            for publisher in sorted(result.by_publisher):
                print("  " + _row(publisher, result.by_publisher[publisher], 26))
        if result.trailing:
            print(f"\n{result.name}: pages where arsip trails trafilatura "
                  f"({len(result.trailing)})")
            for gap, page_id, plain_f1, arsip_f1 in sorted(result.trailing, reverse=True):
                print(f"  {page_id:<60} trafilatura {plain_f1:.3f}  arsip {arsip_f1:.3f}"
                      f"  (-{gap:.3f})")
        if result.navigation:
            print(f"\n{result.name}: pages where arsip returns navigation and trafilatura "
                  f"prose ({len(result.navigation)})")
            for page_id in result.navigation:
                print(f"  {page_id}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", help="a set, or a folder of sets")
    parser.add_argument("--publishers", action="store_true", help="a line per publisher")
    parser.add_argument("--trailing", type=float, default=0.2,
                        help="list pages where arsip's F1 is this much below (default 0.2)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N pages of a set")
    parser.add_argument("--only", default="", help="only pages whose id contains this")
    parser.add_argument("--dump", type=Path, default=None,
                        help="write every page's F1 for both extractors here (JSON)")
    parser.add_argument("--outputs", type=Path, default=None,
                        help="write every page's output from both extractors here (JSON)")
    args = parser.parse_args(argv)
    try:
        sets = list(find_sets(args.dirs))
    except DevSetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results = []
    outputs: dict[str, dict[str, dict[str, str]]] = {}
    for root in sets:
        pages = [p for p in load_set(root) if args.only in p.id]
        if args.limit:
            pages = pages[:args.limit]
        runs = run_pages(pages)
        outputs[root.name] = {run.page.id: run.outputs for run in runs}
        results.append(score_set(root.name, runs, args.trailing))
        tables = [run for run in runs if uses_table_layout(run.page.html)]
        if tables:
            results.append(score_set(f"{root.name} [table layout]", tables, args.trailing))
    report(results, args.publishers)
    if args.dump:
        args.dump.write_text(json.dumps({r.name: r.per_page for r in results}, indent=1))
    if args.outputs:
        args.outputs.write_text(json.dumps(outputs, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
