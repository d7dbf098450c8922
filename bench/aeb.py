"""Article Extraction Benchmark: plain trafilatura vs arsip's extract_article, side by side.

    python bench/aeb.py [PATH_TO_AEB]        (default: ../shared/benchmarks/aeb from the repo)

Metric as defined by the benchmark (see its SOURCE.md): \\w+ tokens with case kept, multiset of
4-token shingles; per-page precision and recall, averaged over pages; F1 of the two averages.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import trafilatura

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from crawler.errors import ExtractionError  # noqa: E402
from crawler.extraction import extract_article  # noqa: E402

DEFAULT_AEB = REPO / ".." / "shared" / "benchmarks" / "aeb"
_TOKEN = re.compile(r"\w+", re.UNICODE)


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i:i + n]) for i in range(max(len(tokens) - n + 1, 0)))


def precision_recall(predicted: str, truth: str) -> tuple[float, float]:
    pred, true = shingles(predicted), shingles(truth)
    shared = sum((pred & true).values())
    total_pred, total_true = sum(pred.values()), sum(true.values())
    # the benchmark's convention for empty sides: nothing predicted of nothing is perfect
    precision = shared / total_pred if total_pred else (1.0 if not total_true else 0.0)
    recall = shared / total_true if total_true else (1.0 if not total_pred else 0.0)
    return precision, recall


def plain(html: str, url: str) -> str:
    return trafilatura.extract(html, url=url) or ""


def arsip(html: str, url: str) -> str:
    try:
        return extract_article(html, url).text
    except ExtractionError:
        return ""


def run(pages: list[tuple[str, str, str]], extractor: Callable[[str, str], str],
        ) -> dict[str, float]:
    precisions, recalls = [], []
    started = time.perf_counter()
    outputs = [extractor(html, url) for _id, html, url in pages]
    elapsed = time.perf_counter() - started
    for (_id, _html, _url), output, truth in zip(pages, outputs, TRUTHS, strict=True):
        p, r = precision_recall(output, truth)
        precisions.append(p)
        recalls.append(r)
    precision = sum(precisions) / len(precisions)
    recall = sum(recalls) / len(recalls)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "ms": 1000 * elapsed / len(pages)}


TRUTHS: list[str] = []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("aeb", nargs="?", default=str(DEFAULT_AEB), help="benchmark folder")
    parser.add_argument("--limit", type=int, default=0, help="only the first N pages")
    parser.add_argument("--repeat", type=int, default=1, help="timing runs (best is kept)")
    args = parser.parse_args(argv)
    root = Path(args.aeb)
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    pages: list[tuple[str, str, str]] = []
    for page_id in sorted(truth):
        path = root / "html" / f"{page_id}.html.gz"
        if not path.is_file():
            continue
        html = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        pages.append((page_id, html, truth[page_id].get("url") or ""))
        TRUTHS.append(truth[page_id].get("articleBody") or "")
        if args.limit and len(pages) >= args.limit:
            break
    results = {}
    for name, extractor in (("trafilatura", plain), ("arsip", arsip)):
        runs = [run(pages, extractor) for _ in range(max(args.repeat, 1))]
        best = min(runs, key=lambda r: r["ms"])
        results[name] = best
    print(f"AEB: {len(pages)} pages from {root}")
    print(f"{'extractor':<12} {'precision':>9} {'recall':>7} {'F1':>6} {'ms/page':>8}")
    for name, r in results.items():
        print(f"{name:<12} {r['precision']:>9.3f} {r['recall']:>7.3f} {r['f1']:>6.3f} "
              f"{r['ms']:>8.1f}")
    ratio = results["arsip"]["ms"] / results["trafilatura"]["ms"]
    print(f"time ratio arsip/trafilatura: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
