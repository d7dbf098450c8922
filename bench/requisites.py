"""What page requisites cost: the same crawl of the fixture site with ``ARSIP_REQUISITES`` on
and off, in alternating rounds, each into an empty data folder.

    python bench/requisites.py                        # 300 articles, 3 rounds each
    python bench/requisites.py --articles 1000 --page-kb 64 --rounds 5

Per article: extra requests (from the fixture server's own count), extra WARC bytes, and the
crawl's wall time. The fixture's theme is one stylesheet importing another, a font stylesheet
and a font on its static host, two theme images, a script, and one article with body images:
a site whose articles each carry their own photos pays more per article.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.newsite import build_site, serve  # noqa: E402


def crawl(base: str, data: Path, requisites: bool) -> tuple[float, int, int, int]:
    """wall seconds, articles, WARC bytes, captures."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARSIP_")}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", base, "--data-dir", str(data),
         "--no-progress", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "LOG_LEVEL=WARNING",
         "-s", f"ARSIP_REQUISITES={requisites}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    with sqlite3.connect(data / "arsip.db") as db:
        articles = db.execute("SELECT count(*) FROM pages WHERE versions > 0").fetchone()[0]
        captures = db.execute("SELECT count(*) FROM captures").fetchone()[0]
    size = sum(p.stat().st_size for p in (data / "warc").glob("*.warc.gz"))
    return wall, articles, size, captures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--page-kb", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    site = build_site(n_articles=args.articles, page_kb=args.page_kb)
    site.slow_seconds = 0
    rows: dict[bool, list[tuple[float, int, int, int, int]]] = {True: [], False: []}
    with serve(site) as base, tempfile.TemporaryDirectory() as folder:
        for path, resource in site.resources.items():
            base.server.rendered(path, resource)
        for n in range(args.rounds):
            for requisites in ((True, False) if n % 2 == 0 else (False, True)):
                data = Path(folder) / "data"
                shutil.rmtree(data, ignore_errors=True)
                before = len(base.requests)
                wall, articles, size, captures = crawl(base, data, requisites)
                requests = len(base.requests) - before
                rows[requisites].append((wall, articles, size, captures, requests))
                print(f"round {n + 1} requisites {'on ' if requisites else 'off'}: "
                      f"{requests} requests, {captures} captures, {size / 1e6:.2f} MB WARC, "
                      f"{articles} articles, {wall:.1f} s", flush=True)
    on, off = rows[True], rows[False]

    def med(side: list[tuple[float, int, int, int, int]], i: int) -> float:
        return statistics.median(r[i] for r in side)

    articles = med(on, 1)
    print(f"\n| requisites | requests | WARC MB | wall s (median) |\n|---|---|---|---|\n"
          f"| on | {med(on, 4):.0f} | {med(on, 2) / 1e6:.2f} | {med(on, 0):.1f} |\n"
          f"| off | {med(off, 4):.0f} | {med(off, 2) / 1e6:.2f} | {med(off, 0):.1f} |\n"
          f"\nper article ({articles:.0f} articles): "
          f"{(med(on, 4) - med(off, 4)) / articles:.3f} extra requests, "
          f"{(med(on, 2) - med(off, 2)) / articles / 1e3:.2f} extra KB of WARC, "
          f"{(med(on, 0) - med(off, 0)) / articles * 1000:+.1f} ms of crawl time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
