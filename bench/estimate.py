"""A paper estimate for a large archive, from figures measured here: the nodes, WARC disk and
PostgreSQL size for ``--sites`` sites x ``--per-day`` new articles a day x ``--days`` days.

    python bench/estimate.py                         # 200 articles of 64 KB, into PostgreSQL
    python bench/estimate.py --articles 400 --sites 500 --per-day 200 --interval-min 30

Measured (one fixture site, ``tests/newsite.py``, served from this process; ``arsip crawl`` into
a fresh PostgreSQL schema; CPU is the crawl's whole process tree):

1. the first crawl: CPU seconds, WARC bytes and PostgreSQL bytes (every table and index of the
   schema) per article;
2. an unchanged re-crawl under arsip's policy (hubs only, no article due): what one scheduled
   run of a site costs when nothing is new -- CPU seconds and WARC bytes per run;
3. an unchanged re-crawl asking for every article conditionally (``ARSIP_REVISIT_ALL``): what
   one revisit of an article costs -- a 304, a revisit record, a ``captures`` row.

The estimate then assumes (all printed): every article is revisited once per step of the
re-crawl ladder (1h, 6h, 1d, 3d, 7d, 30d: six revisits, README "Re-crawls"), ``--edited``
of articles change once (a full fetch and a new version), and each site runs every
``--interval-min`` minutes. Cores are CPU-seconds a day over 86,400, doubled for peaks.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.pgschemas import pg_schemas  # noqa: E402
from bench.recrawl import children_cpu, warc_bytes  # noqa: E402
from tests.newsite import BaseURL, build_site, serve  # noqa: E402

SETTINGS = ("CONCURRENT_REQUESTS=16", "CONCURRENT_REQUESTS_PER_DOMAIN=8",
            "AUTOTHROTTLE_ENABLED=False", "LOG_LEVEL=INFO")
REVISITS = 6  # the ladder's steps: 1h, 6h, 1d, 3d, 7d, 30d


def db_bytes(db_url: str) -> int:
    from sqlalchemy import create_engine

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')").scalar_one())
    finally:
        engine.dispose()


def crawl(base: BaseURL, data_dir: Path, db_url: str, *extra: str) -> tuple[float, float, int,
                                                                           int]:
    """CPU seconds, wall seconds, WARC bytes added, database bytes added."""
    args = [sys.executable, "-m", "crawler", "crawl", base, "--data-dir", str(data_dir),
            "--db", db_url, "--no-progress"]
    for setting in (*SETTINGS, *extra):
        args += ["-s", setting]
    warc, db = warc_bytes(data_dir), db_bytes(db_url)
    cpu, start = children_cpu(), time.monotonic()
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the crawl failed: {done.stderr[-2000:]}")
    return (children_cpu() - cpu, time.monotonic() - start, warc_bytes(data_dir) - warc,
            db_bytes(db_url) - db)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--page-kb", type=int, default=64)
    parser.add_argument("--sites", type=int, default=500)
    parser.add_argument("--per-day", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--interval-min", type=float, default=30.0)
    parser.add_argument("--edited", type=float, default=0.10)
    parser.add_argument("--pg", default="postgresql+psycopg://root@127.0.0.1:5432/test")
    args = parser.parse_args(argv)

    site = build_site(n_articles=args.articles, page_kb=args.page_kb, seed=7)
    site.slow_seconds = 0
    with (pg_schemas(args.pg, "bench_estimate") as new_schema,
          tempfile.TemporaryDirectory(prefix="arsip-bench-") as tmp, serve(site) as base):
        db_url, data_dir = new_schema(), Path(tmp) / "arsip-data"
        first = crawl(base, data_dir, db_url)
        hubs = crawl(base, data_dir, db_url)
        every = crawl(base, data_dir, db_url, "ARSIP_REVISIT_ALL=True")
    n = args.articles
    cpu_art, warc_art, db_art = first[0] / n, first[2] / n, first[3] / n
    cpu_run, warc_run = hubs[0], hubs[2]
    # a revisit: the revisit-all crawl less the hubs-only one, per article
    cpu_rev = max(0.0, every[0] - hubs[0]) / n
    warc_rev, db_rev = max(0, every[2] - hubs[2]) / n, max(0, every[3] - hubs[3]) / n

    print(f"measured ({n} articles of {args.page_kb} KB, into PostgreSQL):")
    print(f"  first crawl       {first[0]:7.1f} CPU s {first[1]:7.1f} s   "
          f"{cpu_art * 1000:6.1f} ms, {warc_art / 1024:6.1f} KiB WARC, "
          f"{db_art / 1024:5.1f} KiB PostgreSQL per article")
    print(f"  run, nothing new  {hubs[0]:7.1f} CPU s {hubs[1]:7.1f} s   "
          f"{warc_run / 1024:6.1f} KiB WARC per run (hubs)")
    print(f"  revisit all       {every[0]:7.1f} CPU s {every[1]:7.1f} s   "
          f"{cpu_rev * 1000:6.1f} ms, {warc_rev / 1024:6.1f} KiB WARC, "
          f"{db_rev / 1024:5.1f} KiB PostgreSQL per revisit")

    per_day = args.sites * args.per_day
    runs_day = args.sites * 24 * 60 / args.interval_min
    cpu_day = (per_day * (cpu_art * (1 + args.edited) + REVISITS * cpu_rev)
               + runs_day * cpu_run)
    warc_day = (per_day * (warc_art * (1 + args.edited) + REVISITS * warc_rev)
                + runs_day * warc_run)
    db_day = per_day * (db_art * (1 + args.edited) + REVISITS * db_rev)
    cores = 2 * cpu_day / 86_400
    tib = 1024 ** 4
    print(f"\nestimate: {args.sites} sites x {args.per_day} articles/day x {args.days} days "
          f"= {per_day * args.days / 1e6:.1f} M articles; {REVISITS} revisits each, "
          f"{args.edited:.0%} edited once, a run per site every {args.interval_min:g} min "
          f"({runs_day:,.0f} runs/day)")
    print(f"  CPU      {cpu_day / 3600:8.1f} core-hours/day -> {cores:.1f} cores with 2x "
          f"headroom (e.g. {max(1, -(-cores // 4)):.0f} node(s) of 4 cores)")
    print(f"  WARC     {warc_day / 1024 ** 3:8.1f} GiB/day -> {warc_day * args.days / tib:.2f} "
          f"TiB in {args.days} days (re-crawls: "
          f"{(REVISITS * warc_rev * per_day + runs_day * warc_run) / warc_day:.0%} of it)")
    print(f"  Postgres {db_day / 1024 ** 3:8.2f} GiB/day -> {db_day * args.days / 1024 ** 3:.0f} "
          f"GiB in {args.days} days (tables and indexes, before vacuum/bloat)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
