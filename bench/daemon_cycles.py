"""The daemon over many short cycles: does it grow, and how late do runs start?

    python bench/daemon_cycles.py                 # 500 cycles, a 5-article site, every 1 s
    python bench/daemon_cycles.py --cycles 60

A small fixture site (``tests/newsite.py``, served from this process) is registered with a
one-second interval and ``arsip daemon`` runs against it (one crawl at a time, no jitter) until
it has finished ``--cycles`` runs; then it gets SIGTERM. Reported:

- the daemon's resident memory (VmRSS of its own process) at cycle 10 and at the last cycle,
  with its open file descriptors and threads: none of them may grow;
- the delay from each run's due time (when APScheduler fired) to its crawl's start, from the
  daemon's log: for runs whose due time came while the site's previous run was still going
  (the run waits for it, coalesced) and for runs due while nothing ran (the daemon's own latency);
- the daemon's exit code after SIGTERM.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.newsite import build_site, serve  # noqa: E402

_STARTED = re.compile(r"^(\S+ \S+) INFO (\S+): crawl started \(pid \d+, due (\S+), "
                      r"delay (-?[\d.]+) s")
_ENDED = re.compile(r"^(\S+ \S+) INFO (\S+): run \d+ ")


def proc_status(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "Threads"):
                out[key] = int(value.split()[0])
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


def finished_runs(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
            return int(conn.execute(
                "SELECT count(*) FROM crawl_runs WHERE outcome != 'running'").fetchone()[0])
    except sqlite3.Error:
        return 0


def _stamp(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def delays(log: Path) -> tuple[list[float], list[float]]:
    """(delays of runs due while the previous run went on, delays of runs due while idle)."""
    waited, idle = [], []
    last_end: float | None = None
    for line in log.read_text(encoding="utf-8").splitlines():
        if (ended := _ENDED.match(line)) is not None:
            last_end = _stamp(ended.group(1))
        elif (started := _STARTED.match(line)) is not None:
            start = _stamp(started.group(1))
            delay = float(started.group(4))
            due = start - delay
            (waited if last_end is not None and due < last_end else idle).append(delay)
    return waited, idle


def summary(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (f"{len(values)} runs: median {statistics.median(values) * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=500)
    parser.add_argument("--articles", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    for package in ("crawler", "storage", "scheduler"):
        compileall.compile_dir(REPO / package, quiet=1)
    work = Path(tempfile.mkdtemp(prefix="arsip-cycles-"))
    data_dir = work / "arsip-data"
    cli = [sys.executable, "-m", "crawler"]
    site = build_site(n_articles=args.articles)
    site.slow_seconds = 0
    samples: dict[int, dict[str, int]] = {}
    with serve(site) as base:
        subprocess.run([*cli, "sites", "add", base, "--name", "kecil", "--every", "1s",
                        "--data-dir", str(data_dir)], cwd=REPO, check=True,
                       stdout=subprocess.DEVNULL)
        daemon = subprocess.Popen(
            [*cli, "daemon", "--data-dir", str(data_dir), "--jitter", "0",
             "--max-concurrent", "1", "--keep-logs", "20", "-s", "AUTOTHROTTLE_ENABLED=False",
             "-s", "ARSIP_EXTRACT_WORKERS=1"],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        started = time.monotonic()
        try:
            done = 0
            while done < args.cycles:
                time.sleep(0.2)
                if daemon.poll() is not None:
                    raise SystemExit(f"the daemon exited ({daemon.returncode}) at cycle {done}")
                done = finished_runs(data_dir / "arsip.db")
                for mark in (10, 50, 100, 200, 300, 400, 500, args.cycles):
                    if done >= mark and mark not in samples and mark <= args.cycles:
                        samples[mark] = proc_status(daemon.pid)
                        print(f"cycle {done}: {samples[mark]}", file=sys.stderr)
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(120)
        finally:
            if daemon.poll() is None:
                os.killpg(daemon.pid, signal.SIGKILL)
    elapsed = time.monotonic() - started
    waited, idle = delays(data_dir / "logs" / "daemon.log")
    print(f"\narsip daemon, {args.cycles} cycles of a {args.articles}-article site every 1 s "
          f"(one crawl at a time, no jitter), {elapsed / 60:.1f} min, {os.cpu_count()} CPUs")
    print(f"{'cycle':>6}{'RSS MB':>9}{'fds':>6}{'threads':>9}")
    for mark, status in sorted(samples.items()):
        print(f"{mark:>6}{status['VmRSS'] / 1024:>9.1f}{status['fds']:>6}{status['Threads']:>9}")
    first, last = samples[min(samples)], samples[max(samples)]
    print(f"RSS at cycle {min(samples)}: {first['VmRSS'] / 1024:.1f} MB; at cycle "
          f"{max(samples)}: {last['VmRSS'] / 1024:.1f} MB "
          f"({(last['VmRSS'] - first['VmRSS']) / 1024:+.1f} MB)")
    print(f"due -> start, due while nothing ran: {summary(idle)}")
    print(f"due -> start, due while the site's previous run went on: {summary(waited)}")
    print(f"daemon exit code after SIGTERM: {code}")
    if args.keep:
        print(f"work folder kept: {work}", file=sys.stderr)
    return 0 if code == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
