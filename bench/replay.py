"""Replay figures: arsip's replay server beside pywb on the same WARC files, reextract beside the
crawl's own extraction rate, and WACZ export, on one archive built by crawling the fixture site.

    python bench/replay.py                    # 6,000 articles crawled twice: >12,000 captures
    python bench/replay.py --rounds 5 --requests 3000 --concurrency 8
    python bench/replay.py --only serve       # skip reextract / WACZ

The archive (and pywb's collection of the same WARC files) is built once in --work and reused.
Serving: each round starts one server, sends a warm-up, then a fixed number of requests from a
bounded pool of client threads (keep-alive connections), and stops it; arsip and pywb alternate,
round by round, because the machine is shared. The request mix is a third each of CDX queries
(one URL, JSON lines), identity (``id_``) captures of any kind, and rewritten article pages at
their exact timestamp (pywb: its ``mp_`` content frame, the page without the top frame; arsip:
the page with its banner), the same URLs for both. Medians of the rounds are printed last.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.crawl_throughput import site_server  # noqa: E402
from tests.toolvenv import program  # noqa: E402


@dataclass
class Round:
    side: str
    requests: int
    seconds: float
    errors: int
    latencies: dict[str, list[float]] = field(default_factory=dict)

    @property
    def per_minute(self) -> float:
        return self.requests / self.seconds * 60

    def percentile(self, p: float, kind: str | None = None) -> float:
        values = sorted(v for k, vs in self.latencies.items() if kind in (None, k) for v in vs)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))] * 1000


def arsip(*args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARSIP_")}
    return subprocess.run([sys.executable, "-m", "crawler", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def build_archive(work: Path, articles: int) -> tuple[Path, float]:
    """Crawl the fixture site twice into work/arsip-data (once); the first crawl's articles/s.

    The second crawl asks for every article again (``ARSIP_REVISIT_ALL``; the re-crawl policy
    alone would find none of these old articles due): each answers 304 and is archived as a
    revisit record, so the archive holds responses and revisits as a re-crawled one does."""
    data = work / "arsip-data"
    marker = work / "built.json"
    wanted = {"articles": articles, "revisit_all": True}
    if marker.exists() and all(json.loads(marker.read_text()).get(k) == v
                               for k, v in wanted.items()):
        return data, json.loads(marker.read_text())["crawl_rate"]
    shutil.rmtree(data, ignore_errors=True)
    rate = 0.0
    with site_server(articles, 0) as (base, _pid):
        for n in (1, 2):
            started = time.monotonic()
            again = ("-s", "ARSIP_REVISIT_ALL=True") if n == 2 else ()
            result = arsip("crawl", base, "--data-dir", str(data), "--no-progress",
                           "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "LOG_LEVEL=WARNING", *again)
            if result.returncode != 0:
                raise SystemExit(f"crawl {n} failed:\n{result.stderr[-3000:]}")
            if n == 1:
                rate = count_articles(data) / (time.monotonic() - started)
    marker.write_text(json.dumps({**wanted, "crawl_rate": rate}))
    return data, rate


def count_articles(data: Path) -> int:
    with sqlite3.connect(data / "arsip.db") as db:
        return int(db.execute("SELECT count(*) FROM pages WHERE versions > 0").fetchone()[0])


def build_pywb(work: Path, data: Path) -> Path:
    pywb_dir = work / "pywb"
    if (pywb_dir / "collections" / "bench" / "indexes").is_dir():
        return pywb_dir
    shutil.rmtree(pywb_dir, ignore_errors=True)
    pywb_dir.mkdir()
    manager = program("pywb", "wb-manager")
    subprocess.run([str(manager), "init", "bench"], cwd=pywb_dir, check=True,
                   capture_output=True)
    subprocess.run([str(manager), "add", "bench",
                    *map(str, sorted((data / "warc").glob("*.warc.gz")))],
                   cwd=pywb_dir, check=True, capture_output=True)
    return pywb_dir


def request_mix(data: Path, count: int, seed: int = 7) -> list[tuple[str, str]]:
    """(kind, path relative to a collection root) for both servers."""
    rng = random.Random(seed)
    with sqlite3.connect(data / "arsip.db") as db:
        pages = db.execute(
            "SELECT c.url, c.fetched_at FROM captures c JOIN pages p ON p.url = c.url "
            "WHERE p.kind = 'article' AND c.record_type = 'response' AND c.status = 200"
        ).fetchall()
        anything = db.execute("SELECT url, fetched_at FROM captures").fetchall()
    def stamp(value: str) -> str:
        return value.replace("-", "").replace(" ", "").replace(":", "").replace("T", "")[:14]
    mix = []
    for n in range(count):
        kind = ("cdx", "id_", "page")[n % 3]
        if kind == "cdx":
            url, _ = rng.choice(pages)
            mix.append((kind, f"cdx?url={quote(url, safe='')}&output=json"))
        elif kind == "id_":
            url, when = rng.choice(anything)
            mix.append((kind, f"{stamp(when)}id_/{url}"))
        else:
            url, when = rng.choice(pages)
            mix.append((kind, f"{stamp(when)}{{page}}/{url}"))
    return mix


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(side: str, data: Path, pywb_dir: Path) -> Iterator[tuple[str, str]]:
    """(host:port, path prefix) of a running server."""
    port = free_port()
    if side == "arsip":
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARSIP_")}
        cmd = [sys.executable, "-m", "crawler", "replay", "serve", "--port", str(port),
               "--data-dir", str(data)]
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        prefix = "/"
    else:
        proc = subprocess.Popen([str(program("pywb")), "-b", "127.0.0.1", "-p", str(port)],
                                cwd=pywb_dir, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        prefix = "/bench/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{side} server did not start") from None
                time.sleep(0.1)
        yield f"127.0.0.1:{port}", prefix
    finally:
        os.killpg(proc.pid, signal.SIGINT if side == "arsip" else signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def load(side: str, address: str, prefix: str, mix: list[tuple[str, str]],
         concurrency: int) -> Round:
    """Send every request of ``mix`` once, from ``concurrency`` threads; bounded by count."""
    page = "" if side == "arsip" else "mp_"
    host, port = address.split(":")
    cursor = iter(range(len(mix)))
    lock = threading.Lock()
    latencies: dict[str, list[float]] = {"cdx": [], "id_": [], "page": []}
    errors = [0]

    def worker() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        while True:
            with lock:
                n = next(cursor, None)
            if n is None:
                break
            kind, path = mix[n]
            url = prefix + path.replace("{page}", page)
            started = time.perf_counter()
            try:
                conn.request("GET", url, headers={"Accept-Encoding": "gzip"})
                response = conn.getresponse()
                response.read()
                # every URL of the mix is a capture: an archived 404 replays as a 404
                ok = response.status < 500
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
                ok = False
            elapsed = time.perf_counter() - started
            with lock:
                latencies[kind].append(elapsed)
                if not ok:
                    errors[0] += 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Round(side, len(mix), time.perf_counter() - started, errors[0], latencies)


def serve_rounds(data: Path, pywb_dir: Path, rounds: int, requests: int,
                 concurrency: int) -> list[Round]:
    mix = request_mix(data, requests)
    warm = request_mix(data, 60, seed=1)
    results = []
    for n in range(rounds):
        for side in (("arsip", "pywb") if n % 2 == 0 else ("pywb", "arsip")):
            with server(side, data, pywb_dir) as (address, prefix):
                load(side, address, prefix, warm, concurrency)
                result = load(side, address, prefix, mix, concurrency)
            results.append(result)
            print(f"round {n + 1} {side:5}: {result.per_minute:8.0f} req/min, "
                  f"p50 {result.percentile(50):6.1f} ms, p99 {result.percentile(99):6.1f} ms, "
                  f"errors {result.errors}", flush=True)
    return results


def reextract_rounds(data: Path, work: Path, rounds: int) -> list[dict]:
    out = []
    for n in range(rounds):
        copy = work / "reextract"
        shutil.rmtree(copy, ignore_errors=True)
        copy.mkdir()
        shutil.copy(data / "arsip.db", copy / "arsip.db")
        (copy / "warc").symlink_to(data / "warc")
        result = arsip("replay", "reextract", "--data-dir", str(copy), "--json", "--no-progress")
        if result.returncode != 0:
            raise SystemExit(f"reextract failed:\n{result.stderr[-3000:]}")
        summary = json.loads(result.stdout)
        out.append(summary)
        print(f"reextract round {n + 1}: {summary['examined']} pages ({summary['extracted']} "
              f"payloads extracted) in {summary['seconds']} s, "
              f"{summary['pages_per_second']} pages/s, "
              f"{summary['extracted'] / summary['seconds']:.1f} extractions/s", flush=True)
    return out


def wacz_rounds(data: Path, work: Path, rounds: int) -> list[tuple[float, int]]:
    out = []
    for n in range(rounds):
        target = work / "bench.wacz"
        target.unlink(missing_ok=True)
        started = time.monotonic()
        result = arsip("replay", "export-wacz", "-o", str(target), "--data-dir", str(data))
        seconds = time.monotonic() - started
        if result.returncode != 0:
            raise SystemExit(f"export-wacz failed:\n{result.stderr[-3000:]}")
        out.append((seconds, target.stat().st_size))
        print(f"export-wacz round {n + 1}: {seconds:.1f} s, {target.stat().st_size / 1e6:.1f} MB",
              flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--work", type=Path, default=Path("/tmp/arsip-bench-replay"))
    parser.add_argument("--only", choices=("serve", "reextract", "wacz"))
    args = parser.parse_args(argv)
    if not program("pywb").exists() and args.only in (None, "serve"):
        raise SystemExit("pywb is not installed in its own virtualenv: "
                         "python -m tests.toolvenv pywb")
    args.work.mkdir(parents=True, exist_ok=True)
    data, crawl_rate = build_archive(args.work, args.articles)
    with sqlite3.connect(data / "arsip.db") as db:
        captures = db.execute("SELECT count(*) FROM captures").fetchone()[0]
        warc_bytes = sum(p.stat().st_size for p in (data / "warc").glob("*.warc.gz"))
    if captures < 10_000:
        print(f"Warning: only {captures:,} captures; the issue's figures need 10,000 or more "
              "(--articles)", file=sys.stderr)
    print(f"archive: {captures:,} captures, {count_articles(data):,} articles, "
          f"{warc_bytes / 1e6:.1f} MB of WARC; the first crawl stored {crawl_rate:.1f} "
          "articles/s", flush=True)
    lines = []
    if args.only in (None, "serve"):
        pywb_dir = build_pywb(args.work, data)
        results = serve_rounds(data, pywb_dir, args.rounds, args.requests, args.concurrency)
        lines.append("| server | req/min (median) | p50 ms | p99 ms | p99 cdx / id_ / page ms "
                     "| errors |")
        lines.append("|---|---|---|---|---|---|")
        for side in ("arsip", "pywb"):
            mine = [r for r in results if r.side == side]
            med = statistics.median
            lines.append(
                f"| {side} | {med(r.per_minute for r in mine):,.0f} | "
                f"{med(r.percentile(50) for r in mine):.1f} | "
                f"{med(r.percentile(99) for r in mine):.1f} | "
                + " / ".join(f"{med(r.percentile(99, k) for r in mine):.0f}"
                             for k in ("cdx", "id_", "page"))
                + f" | {sum(r.errors for r in mine)} |")
    if args.only in (None, "reextract"):
        runs = reextract_rounds(data, args.work, args.rounds)
        rates = [r["pages_per_second"] for r in runs]
        per = [r["extracted"] / r["seconds"] for r in runs]
        lines.append(f"\nreextract: median {statistics.median(rates):.1f} pages/s "
                     f"(rounds: {', '.join(f'{r:.1f}' for r in rates)}), "
                     f"{runs[0]['examined']:,} pages; {statistics.median(per):.1f} "
                     f"extractions/s ({runs[0]['extracted']:,} distinct payloads); "
                     f"the crawl itself stored {crawl_rate:.1f} articles/s")
    if args.only in (None, "wacz"):
        runs = wacz_rounds(data, args.work, args.rounds)
        lines.append(f"\nexport-wacz: median {statistics.median(s for s, _ in runs):.1f} s, "
                     f"{runs[0][1] / 1e6:.1f} MB (WARC files {warc_bytes / 1e6:.1f} MB)")
    print("\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
