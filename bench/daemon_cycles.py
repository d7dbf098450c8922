"""The daemon over many short cycles: does it grow, and how late do runs start?

    python bench/daemon_cycles.py                 # 500 cycles, a 5-article site, every 1 s
    python bench/daemon_cycles.py --cycles 60
    python bench/daemon_cycles.py --stand-in --sites 4 --cycles 2000   # long runs, cheaply

A small fixture site (``tests/newsite.py``, served from this process) is registered with a
one-second interval and ``arsip daemon`` runs against it (one crawl at a time, no jitter) until
it has finished ``--cycles`` runs; then it gets SIGTERM. ``--stand-in`` runs the same daemon
(``scheduler.daemon``, through tests/daemonharness.py) with tests/fakecrawl.py as its crawl, which
records a run of ``--stand-in-seconds`` like a real one but costs a fraction of its CPU, so
thousands of cycles fit in minutes on a shared machine (``--sites N``: N such sites, every 1 s,
N crawls at once; a cycle is one run of any of them). Reported:

- the daemon's resident memory (VmRSS of its own process), sampled every 10 cycles: at cycle 10,
  at the end of the warm-up (``--warmup``, default 100 cycles: lazy imports, SQLAlchemy's
  statement cache and the allocator's arenas fill once) and at the last cycle, and its growth per
  cycle after the warm-up (least-squares slope over the samples, in bytes per cycle), with its
  open file descriptors and threads: none of them may grow;
- the daemon's own CPU time (user + system, from /proc) per cycle, and the load average
  (``/proc/loadavg``) at the start and the end: the machine may be shared;
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


def proc_status(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "Threads"):
                out[key] = int(value.split()[0])
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(") ", 1)[1].split()
    # utime and stime (fields 14 and 15 of stat), in clock ticks: the daemon's own CPU
    out["cpu"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def load() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of ``(cycle, value)`` points: growth per cycle."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else 0.0


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
    parser.add_argument("--warmup", type=int, default=100,
                        help="cycles before the growth per cycle is measured")
    parser.add_argument("--stand-in", action="store_true",
                        help="crawl with tests/fakecrawl.py instead of arsip crawl")
    parser.add_argument("--stand-in-seconds", type=float, default=1.5,
                        help="how long each stand-in crawl runs (a real one takes ~1-3 s)")
    parser.add_argument("--stand-in-stats", type=int, default=1500,
                        help="bytes of stats each stand-in run records (a real one: ~1.5 KB)")
    parser.add_argument("--sites", type=int, default=1,
                        help="with --stand-in: this many sites, crawled at once")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    if args.sites > 1 and not args.stand_in:
        parser.error("--sites needs --stand-in (the fixture site is one site)")
    warmup = min(args.warmup, args.cycles // 2)
    for package in ("crawler", "storage", "scheduler"):
        compileall.compile_dir(REPO / package, quiet=1)
    work = Path(tempfile.mkdtemp(prefix="arsip-cycles-"))
    data_dir = work / "arsip-data"
    cli = [sys.executable, "-m", "crawler"]
    site = build_site(n_articles=args.articles)
    site.slow_seconds = 0
    samples: dict[int, dict[str, float]] = {}
    load_before = load()
    if args.stand_in:
        command = [sys.executable, "-m", "tests.daemonharness", str(data_dir),
                   "--max-concurrent", str(args.sites), "--jitter", "0", "--sites-poll", "5",
                   "--keep-logs", "20", "-s", f"FAKE_SECONDS={args.stand_in_seconds}",
                   "-s", f"FAKE_STATS_BYTES={args.stand_in_stats}"]
    else:
        command = [*cli, "daemon", "--data-dir", str(data_dir), "--jitter", "0",
                   "--max-concurrent", "1", "--keep-logs", "20", "-s",
                   "AUTOTHROTTLE_ENABLED=False", "-s", "ARSIP_EXTRACT_WORKERS=1"]
    with serve(site) as base:
        subprocess.run([*cli, "sites", "add", base, "--name", "kecil", "--every", "1s",
                        "--data-dir", str(data_dir)], cwd=REPO, check=True,
                       stdout=subprocess.DEVNULL)
        for n in range(2, args.sites + 1):  # stand-in crawls never fetch: any URL will do
            subprocess.run([*cli, "sites", "add", f"http://kecil{n}.test/", "--every", "1s",
                            "--data-dir", str(data_dir)], cwd=REPO, check=True,
                           stdout=subprocess.DEVNULL)
        daemon = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        started = time.monotonic()
        try:
            done = 0
            while done < args.cycles:
                time.sleep(0.2)
                if daemon.poll() is not None:
                    raise SystemExit(f"the daemon exited ({daemon.returncode}) at cycle {done}")
                done = finished_runs(data_dir / "arsip.db")
                # every 10 cycles (a sample per 10th cycle reached, whatever the poll saw)
                mark = min(done, args.cycles) // 10 * 10
                if mark >= 10 and mark not in samples:
                    samples[mark] = proc_status(daemon.pid)
                    if mark % 100 == 0 or mark == 10:
                        print(f"cycle {done}: {samples[mark]}", file=sys.stderr)
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(120)
        finally:
            if daemon.poll() is None:
                os.killpg(daemon.pid, signal.SIGKILL)
    elapsed = time.monotonic() - started
    waited, idle = delays(data_dir / "logs" / "daemon.log")
    crawl = ("stand-in crawls (tests/fakecrawl.py, "
             f"{args.stand_in_seconds:g} s each)" if args.stand_in else
             f"a {args.articles}-article site")
    sites = f"{args.sites} sites, {args.sites} crawls" if args.sites > 1 else "one crawl"
    print(f"\narsip daemon, {args.cycles} cycles of {crawl} every 1 s "
          f"({sites} at a time, no jitter), {elapsed / 60:.1f} min, {os.cpu_count()} CPUs; "
          f"load average {load_before} at the start, {load()} at the end")
    marks = sorted(samples)
    shown = [m for m in marks if m in (10, 50, warmup, marks[-1]) or m % (
        max(100, args.cycles // 10) // 10 * 10) == 0]
    print(f"{'cycle':>6}{'RSS MB':>9}{'fds':>6}{'threads':>9}{'CPU s':>8}")
    for mark in shown:
        status = samples[mark]
        print(f"{mark:>6}{status['VmRSS'] / 1024:>9.1f}{status['fds']:>6.0f}"
              f"{status['Threads']:>9.0f}{status['cpu']:>8.1f}")
    first, last = samples[marks[0]], samples[marks[-1]]
    warm = samples[max(m for m in marks if m <= max(warmup, marks[0]))]
    after = [(m, samples[m]["VmRSS"] * 1024) for m in marks if m >= warmup]
    print(f"RSS at cycle {marks[0]}: {first['VmRSS'] / 1024:.1f} MB; after the warm-up (cycle "
          f"{max(warmup, marks[0])}): {warm['VmRSS'] / 1024:.1f} MB; at cycle {marks[-1]}: "
          f"{last['VmRSS'] / 1024:.1f} MB")
    print(f"RSS growth per cycle after the warm-up: {slope(after):+.0f} B/cycle (least squares "
          f"over {len(after)} samples; {(last['VmRSS'] - warm['VmRSS']) / 1024:+.2f} MB from "
          f"cycle {max(warmup, marks[0])} to {marks[-1]})")
    cycles_cpu = marks[-1] - marks[0]
    print(f"daemon CPU (user + system): {last['cpu']:.1f} s in all, "
          f"{(last['cpu'] - first['cpu']) / max(1, cycles_cpu) * 1000:.1f} ms per cycle")
    print(f"due -> start, due while nothing ran: {summary(idle)}")
    print(f"due -> start, due while the site's previous run went on: {summary(waited)}")
    print(f"daemon exit code after SIGTERM: {code}")
    if args.keep:
        print(f"work folder kept: {work}", file=sys.stderr)
    return 0 if code == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
