"""The daemon's memory over many dispatched crawls: ``arsip daemon --nodes`` against a
stand-in Scrapyd node (``tests/fakenode.py``, served from this process) whose every job
opens and finishes a run in PostgreSQL, as a crawl does, and nothing else.

    python bench/dispatch_rss.py                     # 1,000 dispatches, 10 sites every 1 s
    python bench/dispatch_rss.py --dispatches 2000 --pg postgresql://...

The daemon is the real one (its scheduler, dispatch, polling of the node's listing, reaping,
one report line per run with the run's figures read back from PostgreSQL); only the crawl is a
stand-in, so that a thousand crawls take minutes, not hours of two shared cores. Printed: the
daemon's RSS (``/proc/PID/status`` VmRSS) after 10, 100, 250, 500, 750 and 1,000 dispatches,
side by side, and the growth from the 100th (a warmed-up daemon) to the last.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.pgschemas import pg_schemas  # noqa: E402
from tests.fakenode import fake_node  # noqa: E402


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit(f"no VmRSS for pid {pid}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dispatches", type=int, default=1000)
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--pg", default="postgresql+psycopg://root@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    marks = sorted({10, 100, args.dispatches // 4, args.dispatches // 2,
                    3 * args.dispatches // 4, args.dispatches})
    from storage.archive import Archive
    from storage.liveness import this_process

    with (pg_schemas(args.pg, "bench_rss") as new_schema,
          tempfile.TemporaryDirectory(prefix="arsip-bench-") as tmp):
        db_url = new_schema()
        data_dir = Path(tmp) / "arsip-data"
        archive = Archive.open(db_url)
        lock = threading.Lock()  # the node's jobs run in threads; one archive serves them

        def crawl(_job: str, settings: dict[str, str]) -> None:
            with lock:
                run = archive.start_run(int(settings["ARSIP_SITE_ID"]), "daemon",
                                        this_process())
                archive.finish_run(run, "finished", {"response_received_count": 3,
                                                     "arsip/health/read": 1,
                                                     "arsip/articles_stored": 1})

        for n in range(args.sites):
            done = subprocess.run(
                [sys.executable, "-m", "crawler", "sites", "add", f"http://site-{n}.test/",
                 "--name", f"site-{n}", "--every", "1s", "--data-dir", str(data_dir),
                 "--db", db_url], cwd=REPO, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise SystemExit(done.stderr)
        seen: dict[int, tuple[int, float]] = {}
        with fake_node(crawl) as node:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "crawler", "daemon", "--data-dir", str(data_dir),
                 "--db", db_url, "--nodes", node.url, "--nodes-db", db_url,
                 "--per-node", str(args.sites), "--jitter", "0", "--sites-poll", "5",
                 "--keep-logs", "5"], cwd=REPO, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True)
            start = time.monotonic()
            try:
                deadline = start + 60 + args.dispatches  # far more than it takes
                while len(seen) < len(marks):
                    if daemon.poll() is not None:
                        raise SystemExit(f"the daemon ended (exit {daemon.returncode})")
                    if time.monotonic() > deadline:
                        raise SystemExit(f"only {len(node.scheduled)} dispatches in time")
                    count = len(node.scheduled)
                    for mark in marks:
                        if count >= mark and mark not in seen:
                            seen[mark] = (rss_kib(daemon.pid), time.monotonic() - start)
                    time.sleep(0.05)
            finally:
                os.killpg(daemon.pid, signal.SIGTERM)
                daemon.wait(60)
        archive.close()
    print(f"arsip daemon --nodes (a stand-in node; each job opens and finishes a run), "
          f"{args.sites} sites every 1 s, {os.cpu_count()} cores")
    print(f"{'dispatches':>10}{'RSS MiB':>10}{'seconds':>10}")
    for mark in marks:
        kib, when = seen[mark]
        print(f"{mark:>10}{kib / 1024:>10.1f}{when:>10.1f}")
    base, last = seen[100][0], seen[args.dispatches][0]
    print(f"growth from dispatch 100 to {args.dispatches}: {(last - base) / 1024:+.1f} MiB "
          f"({(last - base) / base:+.1%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
