"""The fixed cost of one crawl: what an unchanged re-crawl of a small site costs.

    python bench/fixed_cost.py                  # a 50-article site, 5 rounds
    python bench/fixed_cost.py --articles 5 --rounds 3

A daemon pays this on every run of every site. The site (``tests/newsite.py``, served from this
process; the crawls are subprocesses measured from outside) is crawled once into an archive; one
more re-crawl, unmeasured, records which URLs a re-crawl fetches (robots.txt, sitemaps, feeds,
hubs, and whatever redirects lead to). Then, in alternating rounds:

- ``arsip crawl URL`` again (nothing changed, so nothing is due): wall and CPU seconds of the
  crawl's whole process tree (crawl process, recorder, any extraction worker);
- a plain Scrapy spider (``bench/plain_spider.py``) fetching exactly those URLs and doing nothing
  with them: Scrapy's own start-up and fetching, the floor any Scrapy crawl pays.

arsip's modules are byte-compiled first, as an install does.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.newsite import build_site, serve  # noqa: E402

SETTINGS = ("CONCURRENT_REQUESTS=16", "CONCURRENT_REQUESTS_PER_DOMAIN=8",
            "AUTOTHROTTLE_ENABLED=False")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured(args: list[str], cwd: Path, log: Path, env: dict[str, str] | None = None
             ) -> tuple[int, float, float]:
    """(exit code, wall s, CPU s of the whole process tree)."""
    cpu, start = children_cpu(), time.monotonic()
    with open(log, "ab") as out:
        code = subprocess.run(args, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, env=env, check=False).returncode
    return code, time.monotonic() - start, children_cpu() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=50)
    parser.add_argument("--page-kb", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    for package in ("crawler", "storage", "scheduler"):
        compileall.compile_dir(REPO / package, quiet=1)
    work = Path(tempfile.mkdtemp(prefix="arsip-fixed-"))
    data_dir, log = work / "arsip-data", work / "crawls.log"
    plain_env = {k: v for k, v in os.environ.items()
                 if k not in ("SCRAPY_SETTINGS_MODULE", "SCRAPY_PROJECT")}
    rows: dict[str, list[tuple[float, float, int]]] = {"arsip": [], "plain": []}
    try:
        site = build_site(n_articles=args.articles, page_kb=args.page_kb)
        site.slow_seconds = 0
        with serve(site) as base:
            for path, res in list(site.resources.items()):
                base.server.rendered(path, res)
            crawl = [sys.executable, "-m", "crawler", "crawl", base, "--data-dir",
                     str(data_dir), "--no-progress"]
            for setting in SETTINGS:
                crawl += ["-s", setting]
            first = measured(crawl, REPO, log)
            print(f"first crawl: exit {first[0]}, {first[1]:.1f} s wall, {first[2]:.1f} s CPU",
                  file=sys.stderr)
            seen = len(site.requests)
            measured(crawl, REPO, log)  # warm-up re-crawl: which URLs does a re-crawl fetch?
            urls = [base.rstrip("/") + r.path for r in site.requests[seen:]]
            url_file = work / "urls.txt"
            url_file.write_text("\n".join(urls) + "\n", encoding="utf-8")
            plain = [sys.executable, "-m", "scrapy", "runspider",
                     str(REPO / "bench" / "plain_spider.py"), "-a", f"urls={url_file}"]
            for round_no in range(1, args.rounds + 1):
                order = ("arsip", "plain") if round_no % 2 else ("plain", "arsip")
                for side in order:
                    seen = len(site.requests)
                    if side == "arsip":
                        code, wall, cpu = measured(crawl, REPO, log)
                    else:
                        code, wall, cpu = measured(plain, work, log, plain_env)
                    fetched = len(site.requests) - seen
                    rows[side].append((wall, cpu, fetched))
                    print(f"round {round_no} {side}: exit {code}, {wall:.2f} s wall, "
                          f"{cpu:.2f} s CPU, {fetched} requests", file=sys.stderr)
    finally:
        if args.keep:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nFixed cost: an unchanged re-crawl of a {args.articles}-article site "
          f"({len(urls)} requests), {args.rounds} alternating rounds, {os.cpu_count()} CPUs")
    print(f"{'side':<34}{'wall s':>8}{'CPU s':>8}{'requests':>10}   per round (CPU s)")
    labels = {"arsip": "arsip crawl (re-crawl, unchanged)",
              "plain": "plain Scrapy spider, same URLs"}
    for side, data in rows.items():
        print(f"{labels[side]:<34}{statistics.median(r[0] for r in data):>8.2f}"
              f"{statistics.median(r[1] for r in data):>8.2f}"
              f"{statistics.median(r[2] for r in data):>10.0f}   "
              + ", ".join(f"{r[1]:.2f}" for r in data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
