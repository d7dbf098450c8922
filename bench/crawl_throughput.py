"""Crawl throughput: arsip against a naive Scrapy + trafilatura spider, on the same local site.

    python bench/crawl_throughput.py                      # 1,000 articles of >= 64 KB, both sides
    python bench/crawl_throughput.py --only naive --articles 200
    python bench/crawl_throughput.py --workers 2          # arsip's extraction process pool

arsip's own modules are byte-compiled first, as a regular install does and as any run does when
PYTHONDONTWRITEBYTECODE is unset: with it set and an editable install, every process of every
crawl would compile them from source again (half a second of each crawl's start, measured here),
while the naive side's Scrapy and trafilatura come compiled by pip.

The fixture site (``tests/newsite.py``) runs in its own process so that serving pages does not
compete with the crawler for its GIL; it renders and compresses every page before the first crawl
starts. Each crawler runs as a subprocess and is measured from the outside: wall time, articles
extracted, and the peak resident memory of its whole process tree (the crawler plus any extraction
workers), sampled from /proc every 0.1 s. That sum is what counts against a 400 MB budget.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The fetch settings both sides run with; arsip's defaults except AutoThrottle, which would make
# the figure measure its delays instead of the crawler.
FETCH_SETTINGS = {
    "CONCURRENT_REQUESTS": "16",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "AUTOTHROTTLE_ENABLED": "False",
    "ROBOTSTXT_OBEY": "True",
    "LOG_LEVEL": "WARNING",
}


@dataclass
class Result:
    side: str
    ok: bool
    wall: float
    articles: int
    peak_tree_mb: float
    peak_proc_mb: float
    note: str = ""
    server_cpu: float = 0.0      # CPU seconds the fixture server spent answering this side
    cpu: float = 0.0             # user + system CPU seconds of the crawler's whole process tree
    round: int = 1

    @property
    def rate(self) -> float:
        return self.articles / self.wall if self.wall > 0 else 0.0


# --- measuring ----------------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                kids.extend(int(x) for x in fh.read().split())
    except OSError:
        pass
    return kids


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(pid: int) -> tuple[int, int]:
    """(sum, largest) VmRSS in kB over ``pid`` and all its descendants."""
    total = largest = 0
    stack = [pid]
    seen: set[int] = set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        rss = _rss_kb(p)
        total += rss
        largest = max(largest, rss)
        stack.extend(_children(p))
    return total, largest


def run_measured(cmd: list[str], *, cwd: Path, env: dict[str, str], log: Path,
                 timeout: float) -> tuple[int, float, int, int]:
    """Run ``cmd``; return (exit code, wall seconds, peak tree RSS kB, peak process RSS kB)."""
    peak_tree = peak_proc = 0
    start = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            while proc.poll() is None:
                tree, single = tree_rss_kb(proc.pid)
                peak_tree, peak_proc = max(peak_tree, tree), max(peak_proc, single)
                if time.monotonic() - start > timeout:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(30)
                    break
                time.sleep(0.1)
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    wall = time.monotonic() - start
    return proc.returncode, wall, peak_tree, peak_proc


def reaped_cpu_seconds() -> float:
    """User + system CPU of every descendant reaped so far (the crawler, its workers, recorder).

    The fixture server is a child too, but it is only reaped at the very end, so a difference
    taken around one side's run counts that side's process tree alone.
    """
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process, from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --- the site -----------------------------------------------------------------------------------

@contextmanager
def site_server(articles: int, page_kb: int) -> Iterator[tuple[str, int]]:
    """The fixture site in its own process; yields (base URL, pid) once every page is ready."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.newsite", "--articles", str(articles), "--page-kb",
         str(page_kb), "--slow-seconds", "0"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(300)
    try:
        if not box or not box[0].startswith("http"):
            proc.kill()
            raise RuntimeError(f"fixture site did not start: {proc.stderr.read()[-2000:]}")
        yield box[0].strip(), proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the two sides ------------------------------------------------------------------------------

def _settings_args(extra: dict[str, str] | None = None) -> list[str]:
    args: list[str] = []
    for name, value in {**FETCH_SETTINGS, **(extra or {})}.items():
        args += ["-s", f"{name}={value}"]
    return args


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    # the naive spider must not pick up arsip's project settings
    env.pop("SCRAPY_SETTINGS_MODULE", None)
    env.pop("SCRAPY_PROJECT", None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_naive(base: str, work: Path, timeout: float) -> Result:
    report = work / "naive-report.json"
    log = work / "naive.log"
    cmd = [sys.executable, "-m", "scrapy", "runspider", str(REPO / "bench" / "naive_spider.py"),
           "-a", f"url={base}", "-a", f"report={report}", *_settings_args()]
    # run outside the repository: scrapy.cfg there would load arsip's middlewares and pipelines
    rc, wall, tree, single = run_measured(cmd, cwd=work, env=_clean_env(), log=log,
                                          timeout=timeout)
    try:
        data = json.loads(report.read_text())
    except (OSError, ValueError):
        return Result("naive", False, wall, 0, tree / 1024, single / 1024,
                      f"no report (exit {rc}):\n{_tail(log)}")
    return Result("naive", rc == 0, wall, int(data["extracted"]), tree / 1024, single / 1024,
                  f"{data['responses']} responses, {data['empty']} empty extractions")


def arsip_command() -> list[str] | None:
    """The ``arsip`` console script of this interpreter, else the CLI module; None while the CLI
    does not exist. Not the one on PATH: that may be another install of arsip (a pyenv shim, the
    system Python's), and the figure would be of other code."""
    exe = Path(sys.executable).parent / "arsip"
    if exe.exists():
        return [str(exe)]
    if (REPO / "crawler" / "cli.py").exists():
        return [sys.executable, "-m", "crawler"]
    return None


def count_articles(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM article_versions").fetchone()[0])
        except sqlite3.Error:
            return 0


def run_arsip(base: str, work: Path, timeout: float, workers: int | None) -> Result:
    cmd = arsip_command()
    if cmd is None:
        return Result("arsip", False, 0.0, 0, 0.0, 0.0, "arsip CLI not available yet")
    data_dir = work / "arsip-data"
    log = work / "arsip.log"
    extra = {"ARSIP_EXTRACT_WORKERS": str(workers)} if workers is not None else {}
    cmd = [*cmd, "crawl", base, "--data-dir", str(data_dir), "--no-progress",
           *_settings_args(extra)]
    env = _clean_env()
    env.pop("ARSIP_DB_URL", None)
    rc, wall, tree, single = run_measured(cmd, cwd=work, env=env, log=log, timeout=timeout)
    articles = count_articles(data_dir / "arsip.db")
    note = "" if rc == 0 else f"exit {rc}:\n{_tail(log)}"
    return Result("arsip", rc == 0, wall, articles, tree / 1024, single / 1024, note)


# --- report -------------------------------------------------------------------------------------

def _row(label: str, r: Result) -> str:
    return (f"{label:<12}{r.wall:>8.1f}{r.articles:>9d}{r.rate:>8.1f}{r.cpu:>8.1f}"
            f"{1000 * r.cpu / max(r.articles, 1):>10.1f}{r.peak_tree_mb:>10.0f}"
            f"{r.peak_proc_mb:>10.0f}  {'yes' if r.ok else 'NO'}")


def _median(side: str, results: list[Result]) -> Result | None:
    rows = [r for r in results if r.side == side]
    if not rows:
        return None
    return Result(side, all(r.ok for r in rows),
                  statistics.median(r.wall for r in rows),
                  int(statistics.median(r.articles for r in rows)),
                  max(r.peak_tree_mb for r in rows), max(r.peak_proc_mb for r in rows),
                  cpu=statistics.median(r.cpu for r in rows),
                  server_cpu=statistics.median(r.server_cpu for r in rows))


def print_table(results: list[Result], articles: int, page_kb: int) -> None:
    print(f"\nCrawl throughput: {articles} articles x >= {page_kb} KB, 127.0.0.1, "
          f"CONCURRENT_REQUESTS=16, PER_DOMAIN=8, AutoThrottle off, robots obeyed, "
          f"{os.cpu_count()} CPUs")
    head = f"{'side':<12}{'wall s':>8}{'articles':>9}{'art/s':>8}{'CPU s':>8}{'CPU ms/art':>10}" \
           f"{'tree MB':>10}{'proc MB':>10}  ok"
    print(head)
    print("-" * len(head))
    rounds = max(r.round for r in results)
    for r in results:
        print(_row(f"{r.side} #{r.round}" if rounds > 1 else r.side, r))
    naive, arsip = _median("naive", results), _median("arsip", results)
    if rounds > 1:
        print("-" * len(head))
        for m in (naive, arsip):
            if m is not None:
                print(_row(f"{m.side} median", m))
    if naive and arsip and naive.wall and arsip.wall:
        pairs = [(n, a) for n in results for a in results
                 if n.side == "naive" and a.side == "arsip" and n.round == a.round]
        per_round = ", ".join(f"{a.rate / max(n.rate, 1e-9):.2f}" for n, a in pairs)
        print(f"\narsip / naive, articles per second: {arsip.rate / max(naive.rate, 1e-9):.2f}x "
              f"(medians; per round: {per_round})")
        per_article = [m.cpu / max(m.articles, 1) for m in (arsip, naive)]
        print(f"arsip / naive, CPU per article: {per_article[0] / max(per_article[1], 1e-9):.2f}x;"
              f" peak tree RSS: arsip {arsip.peak_tree_mb:.0f} MB, "
              f"naive {naive.peak_tree_mb:.0f} MB")
    print("fixture server CPU s: " + ", ".join(f"{r.side} #{r.round} {r.server_cpu:.1f}"
                                                for r in results))
    for r in results:
        if r.note:
            print(f"\n[{r.side} #{r.round}] {r.note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--page-kb", type=int, default=64)
    parser.add_argument("--workers", type=int, default=None,
                        help="arsip's ARSIP_EXTRACT_WORKERS (default: arsip's own default)")
    parser.add_argument("--only", choices=("naive", "arsip"), default=None)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate the two sides this many times and report medians "
                             "(a shared machine's speed drifts; one pair is not a figure)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="per side, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, data)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)

    for package in ("crawler", "storage", "bench"):
        compileall.compile_dir(REPO / package, quiet=1)
    work = Path(tempfile.mkdtemp(prefix="arsip-bench-"))
    results: list[Result] = []
    try:
        with site_server(args.articles, args.page_kb) as (base, server_pid):
            print(f"fixture site at {base} ({args.articles} articles)", file=sys.stderr)
            for round_no in range(1, args.rounds + 1):
                # every round starts from an empty data folder: a second arsip crawl into the
                # same one would be a re-crawl of unchanged pages, a different workload
                here = work / f"round{round_no}"
                here.mkdir()
                sides = [("naive", lambda here=here: run_naive(base, here, args.timeout)),
                         ("arsip", lambda here=here: run_arsip(base, here, args.timeout,
                                                               args.workers))]
                for side, run in sides:
                    if args.only in (None, side):
                        before, cpu_before = cpu_seconds(server_pid), reaped_cpu_seconds()
                        result = run()
                        result.cpu = reaped_cpu_seconds() - cpu_before
                        result.server_cpu = cpu_seconds(server_pid) - before
                        result.round = round_no
                        results.append(result)
                        print(_row(f"{side} #{round_no}", result), file=sys.stderr)
    finally:
        if args.keep:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print_table(results, args.articles, args.page_kb)
    if args.json:
        args.json.write_text(json.dumps([{**r.__dict__, "rate": r.rate} for r in results],
                                        indent=2))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
