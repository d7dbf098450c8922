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
of, measured wherever it occurs.

Both extractors get the page's bytes and URL; plain trafilatura is ``trafilatura.extract`` with
its defaults, the baseline the benchmark's own figure is for. Also printed: ms per page (the two
run alternately, page by page), lines of output that still open with a promo label ("Baca juga",
"Read more", ...), and every page where arsip's F1 trails trafilatura's by more than --trailing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

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
    per_page: dict[str, dict[str, float]] = field(default_factory=dict)


def score_set(name: str, pages: Iterable[Page], trailing: float) -> SetResult:
    result = SetResult(name)
    for index, page in enumerate(pages):
        result.pages += 1
        # alternate which runs first, so neither always pays for a cold cache
        order = NAMES if index % 2 == 0 else NAMES[::-1]
        f1s: dict[str, float] = {}
        for extractor in order:
            started = time.perf_counter()
            output = EXTRACTORS[extractor](page.html, page.url)
            result.seconds[extractor] += time.perf_counter() - started
            f1s[extractor] = result.scores[extractor].add(page, output)
            result.by_publisher[page.publisher][extractor].add(page, output)
            result.promos[extractor] += promo_lines(output)
        result.per_page[page.id] = f1s
        gap = f1s["trafilatura"] - f1s["arsip"]
        if gap > trailing:
            result.trailing.append((gap, page.id, f1s["trafilatura"], f1s["arsip"]))
    return result


def _row(label: str, scores: dict[str, Score], width: int = 28) -> str:
    cells = []
    for extractor in NAMES:
        p, r, f = scores[extractor].figures()
        cells.append(f"{p:6.3f} {r:6.3f} {f:6.3f}")
    delta = scores["arsip"].figures()[2] - scores["trafilatura"].figures()[2]
    return f"{label[:width]:<{width}} " + "   ".join(cells) + f"  {delta:+7.3f}"


def report(results: list[SetResult], publishers: bool) -> None:
    header = (f"{'set':<28} {'trafilatura P/R/F1':>20}   {'arsip P/R/F1':>20}  {'ΔF1':>7}"
              f"  {'pages':>5} {'ms/page t/a':>12} {'promo lines t/a':>16}")
    print(header)
    for result in results:
        ms = {n: 1000 * result.seconds[n] / max(result.pages, 1) for n in NAMES}
        metric = " (snippets)" if result.scores["arsip"].snippets else ""
        print(_row(result.name + metric, result.scores) + f"  {result.pages:>5} "
              f"{ms['trafilatura']:5.1f}/{ms['arsip']:<5.1f} "
              f"{result.promos['trafilatura']:>7}/{result.promos['arsip']:<7}")
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
    args = parser.parse_args(argv)
    try:
        sets = list(find_sets(args.dirs))
    except DevSetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results = []
    for root in sets:
        pages = [p for p in load_set(root) if args.only in p.id]
        if args.limit:
            pages = pages[:args.limit]
        results.append(score_set(root.name, pages, args.trailing))
        tables = [p for p in pages if uses_table_layout(p.html)]
        if tables:
            results.append(score_set(f"{root.name} [table layout]", tables, args.trailing))
    report(results, args.publishers)
    if args.dump:
        args.dump.write_text(json.dumps({r.name: r.per_page for r in results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
