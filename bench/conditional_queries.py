"""What a re-crawl's conditional requests cost the database: the run's prefetched validators
against one query per request.

    python bench/conditional_queries.py                    # 300 articles, 3 rounds
    python bench/conditional_queries.py --articles 1000 --rounds 5 --pg postgresql://...

A crawl asks for every article it knows with the validators the archive holds
(``If-None-Match``, ``If-Modified-Since``). arsip reads them once per run: the recorder loads the
run's plan (``storage.revisit.load_plan``) and the crawl process never touches the database.
The other way (what the issue about crawl nodes found in an older design) is one synchronous
query per request on the crawl's reactor: a network round trip each against a remote
PostgreSQL. Both are run here, in alternating rounds, as full re-crawls of a local site into a
PostgreSQL schema of their own (created and dropped by this script), every known article asked
(``ARSIP_REVISIT_ALL``, so each answers 304):

- ``prefetched``: arsip as it is;
- ``per request``: the same crawl with the conditional middleware replaced by
  ``PerRequestValidators`` below, which asks the database for each request's validators.

Printed per side: wall seconds of the crawl, and the table and index scans PostgreSQL counted
in the schema during it (``pg_stat_user_tables``: each lookup is one index scan), medians over
the rounds. On loopback a round trip is ~0.1 ms; over a network multiply the extra scans by the
real one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.pgschemas import pg_schemas  # noqa: E402
from tests.newsite import build_site, serve  # noqa: E402

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

    from storage.archive import Archive

SETTINGS = ("CONCURRENT_REQUESTS=16", "CONCURRENT_REQUESTS_PER_DOMAIN=8",
            "AUTOTHROTTLE_ENABLED=False", "ARSIP_REQUISITES=False", "ARSIP_EXTRACT_WORKERS=1")
# arsip's downloader middlewares (crawler/settings.py), the conditional one swapped
PER_REQUEST = "DOWNLOADER_MIDDLEWARES=" + json.dumps({
    "crawler.middlewares.limits.PageLimitMiddleware": 50,
    "bench.conditional_queries.PerRequestValidators": 580,
    "crawler.middlewares.warc.WarcCaptureMiddleware": 990,
})


class PerRequestValidators:
    """The design the prefetch replaced: one synchronous database query per request."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PerRequestValidators:
        from crawler.config import CrawlConfig
        from storage.archive import Archive

        return cls(Archive.open(CrawlConfig.from_settings(crawler.settings).db_url,
                                read_only=True))

    def process_request(self, request: Request) -> None:
        from crawler.middlewares.conditional import ask_conditionally

        if request.meta.get("arsip_article"):
            known = self.archive.validators(request.url)
            if known:
                ask_conditionally(request, *known)


def scans(server: str, schema: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(server)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0) "
                "FROM pg_stat_user_tables WHERE schemaname = :s"), {"s": schema}).scalar_one())
    finally:
        engine.dispose()


def crawl(base: str, data_dir: Path, db_url: str, log: Path, *extra: str) -> float:
    args = [sys.executable, "-m", "crawler", "crawl", base, "--data-dir", str(data_dir),
            "--db", db_url, "--no-progress"]
    for setting in (*SETTINGS, *extra):
        args += ["-s", setting]
    start = time.monotonic()
    with open(log, "ab") as out:
        code = subprocess.run(args, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, check=False).returncode
    if code != 0:
        raise SystemExit(f"crawl failed (exit {code}); see {log}")
    return time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    from sqlalchemy.engine import make_url

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg", default="postgresql+psycopg://root@127.0.0.1:5432/test")
    args = parser.parse_args(argv)

    figures: dict[str, list[tuple[float, int]]] = {"prefetched": [], "per request": []}
    server = make_url(args.pg).set(drivername="postgresql+psycopg").render_as_string(
        hide_password=False)
    site = build_site(n_articles=args.articles)
    with (pg_schemas(args.pg, "bench_cond") as new_schema,
          tempfile.TemporaryDirectory(prefix="arsip-bench-") as tmp, serve(site) as base):
        db_url = new_schema()
        schema = db_url.rsplit("search_path%3D", 1)[-1]
        data_dir, log = Path(tmp) / "arsip-data", Path(tmp) / "crawls.log"
        crawl(base, data_dir, db_url, log)  # the first crawl: every article, validators
        for _ in range(args.rounds):
            for side, extra in (("prefetched", ()), ("per request", (PER_REQUEST,))):
                before = scans(server, schema)
                seconds = crawl(base, data_dir, db_url, log, "ARSIP_REVISIT_ALL=True", *extra)
                time.sleep(1.5)  # backends report their counts within a second of ending
                figures[side].append((seconds, scans(server, schema) - before))
    print(f"re-crawl of {args.articles} known articles, every one asked conditionally, "
          f"into PostgreSQL; medians of {args.rounds} alternating rounds")
    print(f"{'':14}{'wall s':>9}{'scans':>9}   rounds (s / scans)")
    for side, rounds in figures.items():
        wall = statistics.median(r[0] for r in rounds)
        count = statistics.median(r[1] for r in rounds)
        shown = "  ".join(f"{s:.2f}/{n}" for s, n in rounds)
        print(f"{side:14}{wall:9.2f}{count:9.0f}   {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
