"""The daemon with crawl nodes: articles per second on one node and on two, and what a
dispatch costs a crawl.

    python bench/nodes.py                          # 4 sites of 100 articles, 2 rounds
    python bench/nodes.py --sites 4 --articles 200 --rounds 3 --pg postgresql://...

Four sides, in alternating rounds, each a fresh PostgreSQL schema (created and dropped here)
with the same sites registered (``tests/newsite.py`` sites, served from this process), and
``arsip daemon`` running until every site's first crawl has finished, two crawls at a time:

- ``local``: the daemon's own subprocesses (no Scrapyd);
- ``1 node``: one Scrapyd server (``tests/scrapydnodes.py``), ``--per-node 2``;
- ``2 nodes``: two Scrapyd servers on this machine, ``--per-node 1``.

Printed per side: articles stored per second (all articles / seconds from the daemon's start
to the last run's end), and the dispatch delay per crawl: from the daemon's log line that
started the crawl to the moment the crawl's run began in the database (a process start and
Scrapy's start-up for ``local``; for a node also Scrapyd's queue poll, 0.2 s here, and its
runner). On one machine the crawls share its cores whichever way they run, so two nodes are
expected near one; the point of nodes is machines.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.pgschemas import pg_schemas  # noqa: E402
from tests.newsite import build_site, serve  # noqa: E402
from tests.scrapydnodes import Node  # noqa: E402

CRAWL = ("-s", "AUTOTHROTTLE_ENABLED=False", "-s", "ARSIP_EXTRACT_WORKERS=1",
         "-s", "ARSIP_REQUISITES=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8")


def arsip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "crawler", *args], cwd=REPO,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"arsip {args[0]} failed: {done.stderr}")


def one_side(side: str, bases: list[str], db_url: str, work: Path,
             crawl: tuple[str, ...] = CRAWL) -> tuple[float, list[float], int]:
    from storage.archive import Archive

    data_dir = work / "arsip-data"
    for n, base in enumerate(bases):
        arsip("sites", "add", base, "--name", f"site-{n}", "--every", "1d",
              "--data-dir", str(data_dir), "--db", db_url)
    nodes = [Node(f"node-{n}", work / f"node-{n}") for n in range({"1 node": 1,
                                                                  "2 nodes": 2}.get(side, 0))]
    args = ["--jitter", "0", "--sites-poll", "0.5", *crawl]
    if nodes:
        for node in nodes:
            node.start()
        arsip("deploy", *(node.url for node in nodes))
        args += ["--nodes", ",".join(n.url for n in nodes), "--nodes-db", db_url,
                 "--per-node", "2" if len(nodes) == 1 else "1"]
    else:
        args += ["--max-concurrent", "2"]
    start = time.monotonic()
    daemon = subprocess.Popen(
        [sys.executable, "-m", "crawler", "daemon", "--data-dir", str(data_dir), "--db", db_url,
         *args], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        while True:
            with Archive.open(db_url) as archive, archive.read() as conn:
                runs = conn.exec_driver_sql(
                    "SELECT s.name, r.started_at, r.outcome FROM crawl_runs r "
                    "JOIN sites s ON s.id = r.site_id").all()
                articles = conn.exec_driver_sql(
                    "SELECT count(*) FROM article_versions").scalar_one()
            if len([r for r in runs if r.outcome != "running"]) >= len(bases):
                break
            if daemon.poll() is not None:
                raise SystemExit(f"the daemon ended (exit {daemon.returncode})")
            time.sleep(0.2)
        seconds = time.monotonic() - start
    finally:
        if daemon.poll() is None:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(120)
        for node in nodes:
            node.stop()
    if {r.outcome for r in runs} != {"finished"}:
        raise SystemExit(f"{side}: a crawl did not finish: {[r.outcome for r in runs]}")
    debug = sum(log.read_text(encoding="utf-8", errors="replace").count(" DEBUG: ")
                for log in (data_dir / "logs").glob("crawl-*.log"))
    return articles / seconds, dispatch_delays(data_dir / "logs" / "daemon.log", runs), debug


def dispatch_delays(log: Path, runs: list[Any]) -> list[float]:
    """Seconds from each site's 'crawl started' line of the daemon to its run's start."""
    started: dict[str, datetime] = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        if ": crawl started" in line:
            when = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").astimezone(UTC)
            started[line[24:].split(" ", 1)[1].split(":", 1)[0]] = when
    return [(run.started_at.astimezone(UTC) - started[run.name]).total_seconds()
            for run in runs if run.name in started]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=4)
    parser.add_argument("--articles", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pg", default="postgresql+psycopg://root@127.0.0.1:5432/test")
    parser.add_argument("--log-level", default=None,
                        help="LOG_LEVEL for every crawl (-s LOG_LEVEL=...) [default: arsip's, "
                             "INFO]")
    args = parser.parse_args(argv)
    crawl = CRAWL + (("-s", f"LOG_LEVEL={args.log_level}") if args.log_level else ())

    sides = ["local", "1 node", "2 nodes"]
    rates: dict[str, list[float]] = {side: [] for side in sides}
    delays: dict[str, list[float]] = {side: [] for side in sides}
    debug: dict[str, int] = dict.fromkeys(sides, 0)
    with (ExitStack() as stack, pg_schemas(args.pg, "bench_nodes") as new_schema,
          tempfile.TemporaryDirectory(prefix="arsip-bench-") as tmp):
        bases = [stack.enter_context(serve(build_site(n_articles=args.articles, seed=n)))
                 for n in range(args.sites)]
        for round_no in range(args.rounds):
            for side in (sides if round_no % 2 == 0 else sides[::-1]):
                work = Path(tmp) / f"{side.replace(' ', '-')}-{round_no}"
                work.mkdir()
                rate, waits, lines = one_side(side, [str(b) for b in bases], new_schema(), work,
                                              crawl)
                rates[side].append(rate)
                delays[side].extend(waits)
                debug[side] += lines
    print(f"{args.sites} sites x {args.articles} articles, first crawls, 2 at a time, into "
          f"PostgreSQL ({os.cpu_count()} cores); medians of {args.rounds} alternating rounds")
    print(f"{'':10}{'articles/s':>12}{'dispatch s':>12}{'DEBUG lines':>13}   "
          "articles/s per round")
    for side in sides:
        print(f"{side:10}{statistics.median(rates[side]):12.1f}"
              f"{statistics.median(delays[side]):12.2f}{debug[side]:13}   "
              + "  ".join(f"{r:.1f}" for r in rates[side]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
